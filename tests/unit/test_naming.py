from datetime import UTC, datetime, timezone

import pytest

from dflow_tui.core.errors import InvalidName
from dflow_tui.core.naming import (
    dump_file_name,
    is_dump_file_name,
    join_remote,
    object_key,
    parse_service_path,
    validate_backup_dir,
    validate_service_name,
)

WHEN = datetime(2026, 4, 8, 14, 30, 0, 123456, tzinfo=UTC)


def test_dump_name_is_service_and_utc_timestamp_with_milliseconds():
    assert dump_file_name("my-db", WHEN) == "my-db-2026-04-08-14-30-00-123.dump"


def test_dump_name_converts_to_utc():
    from datetime import timedelta

    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert dump_file_name("my-db", local) == "my-db-2026-04-08-14-30-00-123.dump"


def test_object_key_is_prefix_project_environment_then_dump_name():
    key = object_key("dflow/backups/", "shop", "production", "my-db", WHEN)
    assert key == "dflow/backups/shop/production/my-db-2026-04-08-14-30-00-123.dump"
    assert object_key("", "shop", "staging", "my-db", WHEN, ".dump.zst.age") == (
        "shop/staging/my-db-2026-04-08-14-30-00-123.dump.zst.age"
    )


def test_two_services_of_one_name_never_share_a_key():
    assert object_key("p", "shop", "production", "db", WHEN) != object_key("p", "shop", "staging", "db", WHEN)
    with pytest.raises(InvalidName):
        object_key("p", "shop", "production", "db", WHEN, ".tar")


@pytest.mark.parametrize(
    "name",
    [
        "x; touch /tmp/owned",
        "$(id)",
        "`id`",
        "a b",
        "a\nb",
        "../etc",
        "-rf",
        "",
        "A-upper",
        "a/b",
        "a|b",
        "a&b",
    ],
)
def test_hostile_service_names_are_refused(name):
    with pytest.raises(InvalidName):
        validate_service_name(name)


@pytest.mark.parametrize("path", ["../x", "a/../b", "/", "~/x", "a;b", "a b", "$(x)", "./a", "a/./b", ""])
def test_bad_backup_dirs_are_refused(path):
    with pytest.raises(InvalidName):
        validate_backup_dir(path)


def test_backup_dir_may_be_relative_or_absolute():
    assert validate_backup_dir("dflow-backups") == "dflow-backups"
    assert validate_backup_dir("/var/backups/dflow/") == "/var/backups/dflow"


@pytest.mark.parametrize(
    "file_name",
    [
        "../../etc/passwd",
        "x.dump",
        "db-2026-04-08-14-30-00-123.dump/../../x",
        ".bashrc",
        "db-2026-04-08-14-30-00.dump",
    ],
)
def test_join_remote_refuses_anything_but_a_dump_name(file_name):
    with pytest.raises(InvalidName):
        join_remote("dflow-backups", file_name)


def test_join_remote_accepts_dump_and_partial():
    assert join_remote("b", "db-2026-04-08-14-30-00-123.dump") == "b/db-2026-04-08-14-30-00-123.dump"
    assert join_remote("b", "db-2026-04-08-14-30-00-123.dump.partial").endswith(".partial")


def test_is_dump_file_name_checks_the_service():
    assert is_dump_file_name("db-2026-04-08-14-30-00-123.dump", "db")
    assert not is_dump_file_name("db-2026-04-08-14-30-00-123.dump", "other")


def test_service_path_must_have_three_parts():
    assert parse_service_path("shop/production/db") == ("shop", "production", "db")
    with pytest.raises(InvalidName, match="PROJECT/ENV/NAME"):
        parse_service_path("shop/db")
    with pytest.raises(InvalidName):
        parse_service_path("shop/production/x; touch /tmp/owned")
