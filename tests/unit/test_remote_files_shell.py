"""The backup-directory commands, really run by /bin/sh (LocalTransport) in a temp home."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from dflow_tui.remote import dokku, files
from dflow_tui.remote.local import LocalTransport

DUMP = "db-2026-04-08-14-30-00-123.dump"
PARTIAL = DUMP + ".partial"
DIR = "dflow-backups"

FAKE_DOKKU = """#!/bin/sh
# export prints a deterministic dump; import stores stdin; "broken" fails half-way.
if [ "$1" = version ]; then echo 'dokku version 0.34.4'; exit 0; fi
case "${1#*:}:$2" in
  export:broken) printf 'half a dump'; echo ' !     export failed' >&2; exit 1 ;;
  export:*) i=0; while [ $i -lt 2000 ]; do echo "row $i of $2"; i=$((i+1)); done ;;
  import:*) cat > "$FAKE_DOKKU_IMPORTED/$2" ;;
  list:) printf '=====> Postgres services\\ndb\\nother-db\\n' ;;
  *) echo "unknown: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dokku"
    script.write_text(FAKE_DOKKU)
    script.chmod(0o755)
    imported = tmp_path / "imported"
    imported.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_DOKKU_IMPORTED", str(imported))
    return home


@pytest.fixture
def sh(home: Path) -> LocalTransport:
    return LocalTransport(cwd=home)


async def _ok(sh: LocalTransport, command: str):
    result = await sh.run(command)
    assert result.ok, f"{command!r} failed: {result.stderr}"
    return result


async def test_internal_backup_cycle(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    backup_dir = home / DIR
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    await _ok(sh, files.ensure_dir(DIR))  # idempotent

    await _ok(sh, files.export_to_partial("postgres", "db", DIR, DUMP))
    partial = backup_dir / PARTIAL
    assert stat.S_IMODE(partial.stat().st_mode) == 0o600
    content = partial.read_bytes()
    assert content.startswith(b"row 0 of db\n")

    result = await _ok(sh, files.checksum(files.partial_path(DIR, DUMP)))
    assert files.parse_checksum(result.stdout) == (hashlib.sha256(content).hexdigest(), len(content))

    await _ok(sh, files.finalize(files.partial_path(DIR, DUMP), files.dump_path(DIR, DUMP)))
    assert not partial.exists()
    assert (backup_dir / DUMP).read_bytes() == content

    assert (await sh.run(files.file_exists(files.dump_path(DIR, DUMP)))).ok
    assert not (await sh.run(files.file_exists(files.partial_path(DIR, DUMP)))).ok

    await _ok(sh, files.import_from_file("postgres", "db", files.dump_path(DIR, DUMP)))
    assert (tmp_path / "imported" / "db").read_bytes() == content

    await _ok(sh, files.remove_dump(DIR, DUMP))
    assert not (backup_dir / DUMP).exists()
    gone = await sh.run(files.remove_dump(DIR, DUMP))
    assert gone.exit_status == files.EXIT_GONE
    assert "already gone" in gone.stderr


async def test_absolute_backup_dir(sh, tmp_path):
    absolute = str(tmp_path / "abs" / "backups")
    await _ok(sh, files.ensure_dir(absolute))
    await _ok(sh, files.export_to_partial("mysql", "db", absolute, DUMP))
    assert (tmp_path / "abs" / "backups" / PARTIAL).exists()


async def test_failed_export_leaves_a_partial_to_remove(sh, home):
    name = "broken-2026-04-08-14-30-00-123.dump"
    await _ok(sh, files.ensure_dir(DIR))
    result = await sh.run(files.export_to_partial("postgres", "broken", DIR, name))
    assert result.exit_status == 1 and "export failed" in result.stderr
    partial = files.partial_path(DIR, name)
    assert (home / partial).exists()
    await _ok(sh, files.remove_partial(partial))
    assert not (home / partial).exists()
    await _ok(sh, files.remove_partial(partial))  # absent: still fine


async def test_finalize_never_overwrites(sh, home):
    await _ok(sh, files.ensure_dir(DIR))
    (home / DIR / DUMP).write_bytes(b"the original")
    (home / DIR / PARTIAL).write_bytes(b"a newer one")
    result = await sh.run(files.finalize(f"{DIR}/{PARTIAL}", f"{DIR}/{DUMP}"))
    assert result.exit_status == files.EXIT_EXISTS
    assert "already exists" in result.stderr
    assert (home / DIR / DUMP).read_bytes() == b"the original"
    assert (home / DIR / PARTIAL).exists()


async def test_finalize_does_not_replace_a_dangling_symlink(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    (home / DIR / DUMP).symlink_to(tmp_path / "nowhere")
    (home / DIR / PARTIAL).write_bytes(b"dump")
    result = await sh.run(files.finalize(f"{DIR}/{PARTIAL}", f"{DIR}/{DUMP}"))
    assert result.exit_status == files.EXIT_EXISTS
    assert not (tmp_path / "nowhere").exists()


async def test_remove_dump_refuses_a_symlink(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    (home / DIR / DUMP).symlink_to(precious)
    result = await sh.run(files.remove_dump(DIR, DUMP))
    assert result.exit_status == files.EXIT_REFUSED
    assert "symbolic link" in result.stderr
    assert (home / DIR / DUMP).is_symlink()
    assert precious.read_text() == "keep me"


async def test_remove_dump_refuses_a_directory(sh, home):
    await _ok(sh, files.ensure_dir(DIR))
    (home / DIR / DUMP).mkdir()
    (home / DIR / DUMP / "inside").write_text("x")
    result = await sh.run(files.remove_dump(DIR, DUMP))
    assert result.exit_status == files.EXIT_REFUSED
    assert (home / DIR / DUMP / "inside").exists()


async def test_receive_to_file_streams_stdin_into_a_private_partial(sh, home):
    await _ok(sh, files.ensure_dir(DIR))
    process = await sh.start(files.receive_to_file(f"{DIR}/{PARTIAL}"))
    payload = os.urandom(500_000)
    await process.write(payload)
    result = await process.wait()
    assert result.ok
    target = home / DIR / PARTIAL
    assert target.read_bytes() == payload
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_checksum_of_missing_file_fails(sh):
    result = await sh.run(files.checksum(f"{DIR}/{DUMP}"))
    assert not result.ok


async def test_dokku_list_and_version_through_the_shell(sh):
    listed = await _ok(sh, dokku.list_command("postgres"))
    assert dokku.parse_service_list(listed.text) == ["db", "other-db"]
    version = await _ok(sh, dokku.version_command())
    assert dokku.parse_version(version.text) == "0.34.4"
