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

    imported = await sh.run(
        files.checked_import("postgres", "db", files.dump_path(DIR, DUMP)), stdin=b"import\n"
    )
    assert imported.ok, imported.stderr
    assert files.parse_checksum(imported.stdout) == (hashlib.sha256(content).hexdigest(), len(content))
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


# --- what another account on the server could do --------------------------------


async def test_ensure_dir_refuses_a_symlinked_directory(sh, home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    (home / DIR).symlink_to(victim)
    result = await sh.run(files.ensure_dir(DIR))
    assert result.exit_status == files.EXIT_UNSAFE
    assert "is a symbolic link; refusing to use it" in result.stderr
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755  # not chmodded through the link


async def test_ensure_dir_refuses_a_directory_others_may_write_to(sh, home):
    (home / DIR).mkdir()
    (home / DIR).chmod(0o777)
    result = await sh.run(files.ensure_dir(DIR))
    assert result.exit_status == files.EXIT_UNSAFE
    assert "writable by other users" in result.stderr
    (home / DIR).chmod(0o755)  # readable by others only: made private
    await _ok(sh, files.ensure_dir(DIR))
    assert stat.S_IMODE((home / DIR).stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another account needs root")
async def test_ensure_dir_refuses_a_directory_of_another_account(sh, home):
    (home / DIR).mkdir(mode=0o700)
    os.chown(home / DIR, 65534, 65534)  # nobody
    result = await sh.run(files.ensure_dir(DIR))
    assert result.exit_status == files.EXIT_UNSAFE
    assert "belongs to uid 65534" in result.stderr


async def test_partial_and_temp_files_are_created_never_reused(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (home / DIR / PARTIAL).symlink_to(victim)
    export = await sh.run(files.export_to_partial("postgres", "db", DIR, DUMP))
    received = await sh.run(files.receive_to_file(f"{DIR}/{PARTIAL}"), stdin=b"attack")
    assert not export.ok and not received.ok
    assert victim.read_bytes() == b"precious"
    (home / DIR / PARTIAL).unlink()
    dangling = tmp_path / "not-yet"
    (home / DIR / PARTIAL).symlink_to(dangling)
    assert not (await sh.run(files.receive_to_file(f"{DIR}/{PARTIAL}"), stdin=b"attack")).ok
    assert not dangling.exists()


async def test_checked_import_imports_the_file_it_checked_even_if_the_name_is_swapped(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    dump = home / DIR / DUMP
    dump.write_bytes(b"the checked dump")
    dump.chmod(0o600)
    process = await sh.start(files.checked_import("postgres", "db", f"{DIR}/{DUMP}"))
    line = b""
    while not line.endswith(b"\n"):
        line += await process.read(1)
    assert files.parse_checksum(line) == (hashlib.sha256(b"the checked dump").hexdigest(), 16)
    swapped = tmp_path / "swapped"
    swapped.write_bytes(b"something else")
    os.replace(swapped, dump)  # another name now: the import still reads what was checked
    await process.write(b"import\n")
    await process.write_eof()
    assert (await process.wait()).ok
    assert (tmp_path / "imported" / "db").read_bytes() == b"the checked dump"


async def test_checked_import_imports_nothing_unless_told_to(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    (home / DIR / DUMP).write_bytes(b"dump")
    (home / DIR / DUMP).chmod(0o600)
    refused = await sh.run(files.checked_import("postgres", "db", f"{DIR}/{DUMP}"), stdin=b"stop\n")
    assert refused.exit_status == files.EXIT_MISMATCH
    assert not (tmp_path / "imported" / "db").exists()


async def test_checked_import_refuses_a_symlink_a_missing_file_and_a_shared_one(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    victim = tmp_path / "victim.dump"
    victim.write_bytes(b"not ours")
    (home / DIR / DUMP).symlink_to(victim)
    linked = await sh.run(files.checked_import("postgres", "db", f"{DIR}/{DUMP}"), stdin=b"import\n")
    assert linked.exit_status == files.EXIT_UNSAFE and "symbolic link" in linked.stderr
    (home / DIR / DUMP).unlink()
    missing = await sh.run(files.checked_import("postgres", "db", f"{DIR}/{DUMP}"), stdin=b"import\n")
    assert missing.exit_status == files.EXIT_GONE
    (home / DIR / DUMP).write_bytes(b"dump")
    (home / DIR / DUMP).chmod(0o666)
    shared = await sh.run(files.checked_import("postgres", "db", f"{DIR}/{DUMP}"), stdin=b"import\n")
    assert shared.exit_status == files.EXIT_UNSAFE and "writable by other users" in shared.stderr
    assert not (tmp_path / "imported" / "db").exists()


# --- compressed on the server ----------------------------------------------------

ZST = "db-2026-04-08-14-30-00-123.dump.zst"


async def test_a_compressed_internal_dump_is_zstd_and_restores_to_the_plain_export(sh, home, tmp_path):
    await _ok(sh, files.ensure_dir(DIR))
    await _ok(sh, files.export_to_partial("postgres", "db", DIR, ZST))
    stored = (home / DIR / (ZST + ".partial")).read_bytes()
    assert stored.startswith(b"\x28\xb5\x2f\xfd")  # a zstd frame
    plain = await _ok(sh, files.plain_checksum(f"{DIR}/{ZST}.partial"))
    sha256, size = files.parse_checksum(plain.stdout)
    await _ok(sh, files.finalize(f"{DIR}/{ZST}.partial", f"{DIR}/{ZST}"))
    imported = await sh.run(files.checked_import("postgres", "db", f"{DIR}/{ZST}"), stdin=b"import\n")
    assert imported.ok, imported.stderr
    assert files.parse_checksum(imported.stdout) == (hashlib.sha256(stored).hexdigest(), len(stored))
    restored = (tmp_path / "imported" / "db").read_bytes()
    assert restored.startswith(b"row 0 of db\n") and (
        hashlib.sha256(restored).hexdigest(),
        len(restored),
    ) == (sha256, size)


async def test_a_failing_export_fails_the_compressed_one_too(sh, home):
    name = "broken-2026-04-08-14-30-00-123.dump.zst"
    await _ok(sh, files.ensure_dir(DIR))
    result = await sh.run(files.export_to_partial("postgres", "broken", DIR, name))
    assert result.exit_status == 1 and "export failed" in result.stderr


async def test_without_zstd_on_the_server_a_compressed_export_says_how_to_fix_it(sh, home, monkeypatch):
    await _ok(sh, files.ensure_dir(DIR))
    bin_dir = home.parent / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}:/nonexistent")  # the fake dokku, and no zstd
    result = await sh.run(files.export_to_partial("postgres", "db", DIR, ZST))
    assert result.exit_status == files.EXIT_NO_ZSTD
    assert "zstd is not installed on this server" in result.stderr
    assert not (home / DIR / (ZST + ".partial")).exists()
