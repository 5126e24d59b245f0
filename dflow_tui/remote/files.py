"""Shell commands for the server's backup directory (pure: no I/O).

Paths are `DIR/FILE` where DIR passes `validate_backup_dir` and FILE is a dump
name (`{service}-{timestamp}.dump`) or that name plus `.partial`; anything else
raises InvalidName before a command is built. Every path is quoted anyway.
A relative DIR is relative to the SSH user's home (both transports start there).

Commands are POSIX sh (they also work in bash, dash and zsh login shells) and
report outcomes the caller must tell apart with the distinct exit statuses
below, plus a one-line `dflow:` message on stderr.
"""

from __future__ import annotations

import re
import shlex

from dflow_tui.core.errors import InvalidName
from dflow_tui.core.naming import (
    PARTIAL_SUFFIX,
    is_dump_file_name,
    join_remote,
    validate_backup_dir,
    validate_service_name,
)
from dflow_tui.remote.dokku import export_command, import_command

EXIT_EXISTS = 3
"""finalize: the final file is already there; nothing was moved."""
EXIT_GONE = 4
"""remove_dump: no such file (already deleted)."""
EXIT_REFUSED = 5
"""remove_dump: the name is a symlink or not a regular file; nothing was removed."""

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _split(path: str) -> tuple[str, str]:
    directory, slash, name = (path or "").rpartition("/")
    if not slash or not directory:
        raise InvalidName(f"Refusing path {path!r}: expected BACKUP_DIR/FILE")
    return directory, name


def checked_path(path: str) -> str:
    """A dump or partial file inside a valid backup directory, else InvalidName."""
    directory, name = _split(path)
    return join_remote(directory, name)


def _dump_path(path: str) -> str:
    path = checked_path(path)
    if not is_dump_file_name(_split(path)[1]):
        raise InvalidName(f"Refusing {path!r}: not a finished dump file name")
    return path


def _partial_path(path: str) -> str:
    path = checked_path(path)
    if not path.endswith(PARTIAL_SUFFIX):
        raise InvalidName(f"Refusing {path!r}: not a {PARTIAL_SUFFIX} file")
    return path


def dump_path(directory: str, file_name: str) -> str:
    """`DIR/FILE` for a finished dump."""
    if not is_dump_file_name(file_name):
        raise InvalidName(f"Refusing file {file_name!r}: not a dump file name")
    return join_remote(directory, file_name)


def partial_path(directory: str, file_name: str) -> str:
    """`DIR/FILE.partial` for the dump `file_name` while it is being written."""
    dump_path(directory, file_name)
    return join_remote(directory, file_name + PARTIAL_SUFFIX)


def _q(value: str) -> str:
    return shlex.quote(value)


def ensure_dir(directory: str) -> str:
    """Create the backup directory (and parents) and make it private (0700)."""
    d = _q(validate_backup_dir(directory))
    return f"mkdir -p -- {d} && chmod 700 -- {d}"


def export_to_partial(engine: str, service: str, directory: str, file_name: str) -> str:
    """`dokku ENGINE:export SVC > DIR/FILE.partial`, the file created 0600.

    `file_name` is the final dump name and must belong to `service`.
    """
    validate_service_name(service)
    if not is_dump_file_name(file_name, service):
        raise InvalidName(f"Refusing file {file_name!r}: not a dump name of service {service!r}")
    target = partial_path(directory, file_name)
    return f"umask 077 && {export_command(engine, service)} > {_q(target)}"


def receive_to_file(path: str) -> str:
    """`cat > PATH` (0600): write the command's stdin to a `.partial` file.

    For restores from external storage: stream the object into it, check it
    with `checksum`, import it, then `remove_partial`.
    """
    return f"umask 077 && cat > {_q(_partial_path(path))}"


def checksum(path: str) -> str:
    """Prints `<sha256> <size>` of a file; parse it with parse_checksum."""
    p = _q(checked_path(path))
    return f'h=$(sha256sum < {p}) && s=$(wc -c < {p}) && echo "${{h%% *}} $s"'


def parse_checksum(output: str | bytes) -> tuple[str, int]:
    """`<sha256> <size>` → (sha256 lowercase hex, size in bytes); ValueError if malformed."""
    if isinstance(output, bytes):
        output = output.decode("ascii", errors="replace")
    parts = output.split()
    if len(parts) != 2 or not _SHA256_RE.fullmatch(parts[0].lower()) or not parts[1].isdigit():
        raise ValueError(f"Unexpected checksum output: {output.strip()[:200]!r}")
    return parts[0].lower(), int(parts[1])


def finalize(partial: str, final: str) -> str:
    """Rename the finished partial file to its final name; never overwrites.

    Exit EXIT_EXISTS (nothing moved) when the final name is already taken.
    """
    src = _partial_path(partial)
    dst = _dump_path(final)
    if src != dst + PARTIAL_SUFFIX:
        raise InvalidName(f"Refusing to rename {src!r} to {dst!r}: not its own partial file")
    s, d = _q(src), _q(dst)
    return (
        f"if test -e {d} || test -L {d}; then "
        f"echo {_q(f'dflow: {dst} already exists; not overwriting it')} >&2; exit {EXIT_EXISTS}; "
        f"else mv -f -- {s} {d}; fi"
    )


def remove_partial(path: str) -> str:
    """Remove a `.partial` file if it is there (a symlink is removed, never followed)."""
    return f"rm -f -- {_q(_partial_path(path))}"


def remove_dump(directory: str, file_name: str) -> str:
    """Remove one dump: only a regular file (not a symlink) with a dump name in `directory`.

    Exit 0 removed; EXIT_GONE absent already; EXIT_REFUSED symlink/not a regular file.
    """
    p = dump_path(directory, file_name)
    q = _q(p)
    return (
        f"if test -L {q}; then "
        f"echo {_q(f'dflow: {p} is a symbolic link; not removing it')} >&2; exit {EXIT_REFUSED}; "
        f"elif test -f {q}; then rm -f -- {q}; "
        f"elif test -e {q}; then "
        f"echo {_q(f'dflow: {p} is not a regular file; not removing it')} >&2; exit {EXIT_REFUSED}; "
        f"else echo {_q(f'dflow: {p} is already gone')} >&2; exit {EXIT_GONE}; fi"
    )


def import_from_file(engine: str, service: str, path: str) -> str:
    """`dokku ENGINE:import SVC < PATH` (a dump, or a `.partial` restore temp file)."""
    return f"{import_command(engine, service)} < {_q(checked_path(path))}"


def file_size(path: str) -> str:
    """Prints the size of PATH in bytes (0 while it does not exist yet)."""
    q = _q(checked_path(path))
    return f"if test -f {q}; then wc -c < {q}; else echo 0; fi"


def parse_size(output: str | bytes) -> int | None:
    text = output.decode("ascii", errors="replace") if isinstance(output, bytes) else output
    text = text.strip()
    return int(text) if text.isdigit() else None


def file_exists(path: str) -> str:
    """Exit 0 when PATH is a regular file (not a symlink), 1 otherwise."""
    q = _q(checked_path(path))
    return f"test -f {q} && ! test -L {q}"


def list_dir(directory: str) -> str:
    """The names in the backup directory, one a line (nothing when it does not exist yet)."""
    q = _q(validate_backup_dir(directory))
    return f"if test -d {q}; then ls -1A -- {q}; fi"
