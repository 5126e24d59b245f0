"""Copies: the server side of one export kept on disk while it streams out (really run by
/bin/sh, with the real `tee` and `zstd`), and the pure rules of which copies a
destination may have and how a backup's places read."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from dflow_tui.core.copies import Place, check_copies, is_degraded, places_label
from dflow_tui.core.enums import BackupType
from dflow_tui.core.errors import InvalidName
from dflow_tui.remote import files
from dflow_tui.remote.local import LocalTransport

DIR = "dflow-backups"
DUMP = "db-2026-04-08-14-30-00-123.dump"

FAKE_DOKKU = """#!/bin/sh
case "${1#*:}:$2" in
  export:broken) printf 'half a dump'; echo ' !     export failed' >&2; exit 1 ;;
  export:*) i=0; while [ $i -lt 20000 ]; do echo "row $i of $2"; i=$((i+1)); done ;;
  *) echo "unknown: $*" >&2; exit 2 ;;
esac
"""

# Stands in for a `zstd` that dies part-way (a full disk); decompression still works.
BROKEN_ZSTD = """#!/bin/sh
if [ "$1" = -q ]; then head -c 100 > /dev/null; echo 'zstd: No space left on device' >&2; exit 1; fi
exec {real} "$@"
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dokku").write_text(FAKE_DOKKU)
    (bin_dir / "dokku").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return home


@pytest.fixture
def sh(home: Path) -> LocalTransport:
    return LocalTransport(cwd=home)


def _plain_export() -> bytes:
    return "".join(f"row {i} of db\n" for i in range(20000)).encode()


@pytest.mark.parametrize("name", [DUMP, DUMP + ".zst"])
async def test_one_export_goes_out_whole_and_into_a_private_file(sh, home, name):
    await sh.run(files.ensure_dir(DIR))
    result = await sh.run(files.export_teeing("postgres", "db", DIR, name))
    assert result.ok, result.stderr
    assert result.stdout == _plain_export()
    partial = home / DIR / (name + ".partial")
    assert partial.stat().st_mode & 0o777 == 0o600
    kept = partial.read_bytes()
    if name.endswith(".zst"):
        assert kept.startswith(b"\x28\xb5\x2f\xfd")
        kept = subprocess.run(["zstd", "-dc"], input=kept, capture_output=True, check=True).stdout
    assert hashlib.sha256(kept).digest() == hashlib.sha256(_plain_export()).digest()
    assert sorted(p.name for p in (home / DIR).iterdir()) == [name + ".partial"]  # no fifo left here


@pytest.mark.parametrize("name", [DUMP, DUMP + ".zst"])
async def test_a_failed_export_is_the_commands_failure(sh, home, name):
    await sh.run(files.ensure_dir(DIR))
    broken = name.replace("db-", "broken-")
    result = await sh.run(files.export_teeing("postgres", "broken", DIR, broken))
    assert result.exit_status == 1 and "export failed" in result.text + result.stderr


async def test_the_file_failing_alone_is_told_apart_and_the_stream_goes_on(sh, home, tmp_path):
    real = subprocess.run(["sh", "-c", "command -v zstd"], capture_output=True, text=True).stdout.strip()
    (tmp_path / "bin" / "zstd").write_text(BROKEN_ZSTD.format(real=real))
    (tmp_path / "bin" / "zstd").chmod(0o755)
    await sh.run(files.ensure_dir(DIR))
    result = await sh.run(files.export_teeing("postgres", "db", DIR, DUMP + ".zst"))
    assert result.exit_status == files.EXIT_FILE_FAILED
    assert result.stdout == _plain_export()  # the providers still get all of it
    assert f"dflow: writing {DIR}/{DUMP}.zst.partial on the server failed" in result.stderr


async def test_the_file_is_created_never_reused(sh, home):
    await sh.run(files.ensure_dir(DIR))
    (home / DIR / (DUMP + ".partial")).write_text("somebody else's")
    result = await sh.run(files.export_teeing("postgres", "db", DIR, DUMP))
    assert not result.ok and result.exit_status != files.EXIT_FILE_FAILED
    assert (home / DIR / (DUMP + ".partial")).read_text() == "somebody else's"


def test_names_that_are_not_the_services_dump_are_refused():
    with pytest.raises(InvalidName):
        files.export_teeing("postgres", "db", DIR, "other-2026-04-08-14-30-00-123.dump")
    with pytest.raises(InvalidName):
        files.export_teeing("postgres", "db", "../etc", DUMP)


def test_a_copy_goes_to_another_place_than_the_primary_and_only_once():
    b2, r2 = Place.of("b2"), Place.of("r2")
    internal = Place.of("internal")
    assert internal == Place(BackupType.INTERNAL) and b2 == Place(BackupType.EXTERNAL, "b2")
    check_copies(Place(BackupType.EXTERNAL, "b2"), [internal, r2])
    check_copies(internal, [])
    with pytest.raises(InvalidName, match="is where the primary goes already"):
        check_copies(internal, [internal])
    with pytest.raises(InvalidName, match="is where the primary goes already"):
        check_copies(b2, [r2, b2])
    with pytest.raises(InvalidName, match="'r2' is given twice"):
        check_copies(internal, [r2, b2, r2])
    with pytest.raises(InvalidName, match="needs a place"):
        Place.of(" ")


def test_places_and_degraded_read_as_the_list_shows_them():
    assert places_label(["internal", "b2", "r2"]) == "int+b2+r2"
    assert places_label(["b2", "internal"]) == "b2+int"
    assert is_degraded("succeeded", ["succeeded", "failed"])
    assert not is_degraded("succeeded", ["succeeded", "succeeded"])
    assert not is_degraded("failed", ["failed"])  # a failed backup is failed, not degraded
    assert not is_degraded("succeeded", [])
