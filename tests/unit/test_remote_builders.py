"""Command builders: dokku plugin commands and backup-directory file commands (pure)."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from dflow_tui.core.errors import InvalidName
from dflow_tui.core.naming import ENGINES
from dflow_tui.remote import dokku, files

DUMP = "db-2026-04-08-14-30-00-123.dump"
PARTIAL = DUMP + ".partial"
DIR = "dflow-backups"

HOSTILE_NAMES = [
    "x; touch /tmp/owned",
    "$(id)",
    "`id`",
    "db\nid",
    "db\n",
    "../db",
    "db/../../etc",
    "-rf",
    "db && id",
    "db | id",
    "db'",
    'db"',
    "Db",
    "",
    " db",
    "db name",
    "a" * 64,
    "db\x00",
]

HOSTILE_DIRS = [
    "../etc",
    "dflow/../../etc",
    "/",
    "",
    "~/x",
    "$HOME/x",
    "x; rm -rf ~",
    "x\ny",
    "`id`",
    "a b",
    ".",
    "./.",
]

HOSTILE_FILES = [
    "../" + DUMP,
    "x; id",
    "passwd",
    DUMP + "; id",
    "db-2026-04-08-14-30-00-123.dump.bak",
    ".bashrc",
    "db-2026-04-08-14-30-00.dump",
    f"$(id)-{DUMP}",
]


# --- dokku ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_plugin_commands(engine):
    assert dokku.export_command(engine, "my-db") == f"dokku {engine}:export my-db"
    assert dokku.import_command(engine, "my_db") == f"dokku {engine}:import my_db"
    assert dokku.exists_command(engine, "db1") == f"dokku {engine}:exists db1"
    assert dokku.list_command(engine) == f"dokku {engine}:list"


def test_engine_enum_is_accepted():
    from dflow_tui.core.enums import Engine

    assert dokku.export_command(Engine.MARIADB, "db") == "dokku mariadb:export db"


@pytest.mark.parametrize("engine", ["mssql", "Postgres", "postgres; id", "", "postgres:export"])
def test_unknown_engine_is_refused(engine):
    with pytest.raises(InvalidName, match="Unknown engine"):
        dokku.export_command(engine, "db")
    with pytest.raises(InvalidName, match="choose one of postgres, mysql, mariadb, mongo, redis"):
        dokku.list_command(engine)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_service_names_are_refused(name):
    for build in (dokku.export_command, dokku.import_command, dokku.exists_command):
        with pytest.raises(InvalidName):
            build("postgres", name)


def test_version_command_and_parse():
    assert dokku.version_command() == "dokku version"
    assert dokku.parse_version("dokku version 0.34.4\n") == "0.34.4"
    assert dokku.parse_version("0.35.0-rc1") == "0.35.0-rc1"
    assert dokku.parse_version("command not found") is None


def test_parse_service_list_current_format():
    output = "=====> Postgres services\nlollipop\nmy-db\n\nother_db\n"
    assert dokku.parse_service_list(output) == ["lollipop", "my-db", "other_db"]


def test_parse_service_list_old_table_format():
    output = (
        "NAME          VERSION                  STATUS   EXPOSED PORTS  LINKS\n"
        "lollipop      postgres:9.6.1           running  -              -\n"
        "shop-db       postgres:11.6            stopped  5432->5432     shop\n"
    )
    assert dokku.parse_service_list(output) == ["lollipop", "shop-db"]


def test_parse_service_list_skips_notices_and_junk():
    output = (
        "\x1b[1m=====> MySQL services\x1b[0m\n"
        " !     There are no MySQL services\n"
        "There are no MySQL services\n"
        "-----> something\n"
        "db1\n"
        "db1\n"
        "$(id)\n"
    )
    assert dokku.parse_service_list(output) == ["db1"]
    assert dokku.parse_service_list("") == []


# --- files ------------------------------------------------------------------------


def test_ensure_dir_creates_privately_then_checks_owner_and_link():
    command = files.ensure_dir(DIR)
    assert "(umask 077 && mkdir -p -- dflow-backups)" in command
    assert "_dflow_owned dflow-backups dflow-backups" in command
    assert command.endswith("chmod 700 -- dflow-backups")
    assert "mkdir -p -- /var/backups/dflow)" in files.ensure_dir("/var/backups/dflow/")


def test_export_to_partial():
    assert files.export_to_partial("postgres", "db", DIR, DUMP) == (
        f"umask 077 && set -C && dokku postgres:export db > {DIR}/{PARTIAL}"
    )


def test_export_refuses_a_file_name_of_another_service():
    with pytest.raises(InvalidName, match="not a dump name of service 'other'"):
        files.export_to_partial("postgres", "other", DIR, DUMP)


def test_paths_helpers():
    assert files.dump_path(DIR, DUMP) == f"{DIR}/{DUMP}"
    assert files.partial_path(DIR, DUMP) == f"{DIR}/{PARTIAL}"
    with pytest.raises(InvalidName):
        files.dump_path(DIR, PARTIAL)


def test_checksum_and_parser():
    command = files.checksum(f"{DIR}/{PARTIAL}")
    assert f"sha256sum < {DIR}/{PARTIAL}" in command
    assert f"wc -c < {DIR}/{PARTIAL}" in command
    digest = "a" * 64
    assert files.parse_checksum(f"{digest} 1234\n") == (digest, 1234)
    assert files.parse_checksum(f"{digest.upper()}      1234".encode()) == (digest, 1234)
    for bad in ("", "abc 12", f"{digest}", f"{digest} -1", f"{digest} 12 extra"):
        with pytest.raises(ValueError):
            files.parse_checksum(bad)


def test_finalize_only_renames_a_partial_to_its_own_dump():
    command = files.finalize(f"{DIR}/{PARTIAL}", f"{DIR}/{DUMP}")
    assert f"ln -- {DIR}/{PARTIAL} {DIR}/{DUMP}" in command
    assert "mv " not in command
    assert f"exit {files.EXIT_EXISTS}" in command
    other = "db-2026-04-08-14-30-00-999.dump"
    with pytest.raises(InvalidName):
        files.finalize(f"{DIR}/{PARTIAL}", f"{DIR}/{other}")
    with pytest.raises(InvalidName):
        files.finalize(f"{DIR}/{DUMP}", f"{DIR}/{DUMP}")
    with pytest.raises(InvalidName):
        files.finalize(f"{DIR}/{PARTIAL}", f"other-dir/{DUMP}")


def test_remove_partial_only_removes_partials():
    assert files.remove_partial(f"{DIR}/{PARTIAL}") == f"rm -f -- {DIR}/{PARTIAL}"
    with pytest.raises(InvalidName):
        files.remove_partial(f"{DIR}/{DUMP}")


def test_remove_dump_only_removes_finished_dumps():
    command = files.remove_dump(DIR, DUMP)
    assert f"rm -f -- {DIR}/{DUMP}" in command
    assert f"test -L {DIR}/{DUMP}" in command
    with pytest.raises(InvalidName):
        files.remove_dump(DIR, PARTIAL)


def test_import_and_receive_and_exists():
    assert files.checked_import("redis", "cache", f"{DIR}/{DUMP}").endswith(
        "exec dokku redis:import cache < /proc/self/fd/3"
    )
    assert f"exec 3< /tmp/x/{PARTIAL} " in files.checked_import("mongo", "m", f"/tmp/x/{PARTIAL}")
    assert files.receive_to_file(f"{DIR}/{PARTIAL}") == f"umask 077 && set -C && cat > {DIR}/{PARTIAL}"
    with pytest.raises(InvalidName):
        files.receive_to_file(f"{DIR}/{DUMP}")  # never write over a finished dump


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_file_builders_refuse_hostile_service_names(name):
    with pytest.raises(InvalidName):
        files.export_to_partial("postgres", name, DIR, DUMP)
    with pytest.raises(InvalidName):
        files.checked_import("postgres", name, f"{DIR}/{DUMP}")


@pytest.mark.parametrize("directory", HOSTILE_DIRS)
def test_file_builders_refuse_hostile_directories(directory):
    with pytest.raises(InvalidName):
        files.ensure_dir(directory)
    with pytest.raises(InvalidName):
        files.export_to_partial("postgres", "db", directory, DUMP)
    with pytest.raises(InvalidName):
        files.remove_dump(directory, DUMP)
    with pytest.raises(InvalidName):
        files.checksum(f"{directory}/{DUMP}")


@pytest.mark.parametrize("file_name", HOSTILE_FILES)
def test_file_builders_refuse_non_dump_files(file_name):
    with pytest.raises(InvalidName):
        files.remove_dump(DIR, file_name)
    with pytest.raises(InvalidName):
        files.checksum(f"{DIR}/{file_name}")
    with pytest.raises(InvalidName):
        files.checked_import("postgres", "db", f"{DIR}/{file_name}")
    with pytest.raises(InvalidName):
        files.export_to_partial("postgres", "db", DIR, file_name)


@pytest.mark.parametrize("path", [DUMP, "/" + DUMP, f"{DIR}/", ""])
def test_paths_need_a_directory_and_a_file(path):
    with pytest.raises(InvalidName):
        files.checksum(path)


def test_every_built_command_is_valid_shell():
    commands = [
        files.ensure_dir(DIR),
        files.export_to_partial("postgres", "db", DIR, DUMP),
        files.checksum(f"{DIR}/{DUMP}"),
        files.finalize(f"{DIR}/{PARTIAL}", f"{DIR}/{DUMP}"),
        files.remove_partial(f"{DIR}/{PARTIAL}"),
        files.remove_dump(DIR, DUMP),
        files.checked_import("postgres", "db", f"{DIR}/{DUMP}"),
        files.receive_to_file(f"{DIR}/{PARTIAL}"),
    ]
    for command in commands:
        shlex.split(command, comments=True)  # balanced quoting
        for shell in ("sh", "bash"):  # sh is dash on Debian; login shells are often bash
            checked = subprocess.run([shell, "-n", "-c", command], capture_output=True, text=True)
            assert checked.returncode == 0, f"{shell}: {checked.stderr}\n{command}"


def test_the_engine_list_matches_the_models_engines():
    from dflow_tui.core.enums import Engine

    assert tuple(engine.value for engine in Engine) == ENGINES
