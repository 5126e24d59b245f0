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
    ZSTD_SUFFIX,
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
EXIT_UNSAFE = 6
"""ensure_dir, checked_import: the directory or file is not ours alone (a symlink, another
owner, writable by others); nothing was used."""
EXIT_MISMATCH = 7
"""checked_import: told not to import (the checksum did not match the record)."""
EXIT_NO_ZSTD = 8
"""export_to_partial, checked_import: a compressed dump needs `zstd` on the server."""
EXIT_FILE_FAILED = 9
"""export_teeing: the export succeeded and went out whole on stdout, but the file on the
server could not be written (a full disk, zstd failing); a `dflow:` line says which."""

_NEEDS_ZSTD = (
    "if ! command -v zstd >/dev/null 2>&1; then "
    "echo 'dflow: zstd is not installed on this server: install it (apt-get install zstd) "
    f"or set the compression to none'  >&2; exit {EXIT_NO_ZSTD}; fi"
)


def _compressed(file_name: str) -> bool:
    return file_name.endswith(ZSTD_SUFFIX) or file_name.endswith(ZSTD_SUFFIX + PARTIAL_SUFFIX)


# A directory or file of ours: owned by the SSH user, not a symbolic link, and writable by
# nobody else (otherwise another account on the server could have put something there).
_CHECK_OWNED = r"""
_dflow_owned() {
  if [ -L "$1" ]; then echo "dflow: $1 is a symbolic link; refusing to use it" >&2; exit 6; fi
  _owner=$(stat -L -c %u -- "$2") || exit 1
  if [ "$_owner" != "$(id -u)" ]; then
    echo "dflow: $1 belongs to uid $_owner, not to $(id -un) (uid $(id -u)); refusing to use it" >&2; exit 6
  fi
  case $(stat -L -c %a -- "$2") in
    *[2367]?|*?[2367]) echo "dflow: $1 is writable by other users; refusing to use it" >&2; exit 6 ;;
  esac
}"""

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
    """Create the backup directory (and parents, 0700) or check the existing one: it must
    be a real directory of the SSH user that nobody else may write to (EXIT_UNSAFE and a
    `dflow:` line otherwise). It is then made private (0700)."""
    d = _q(validate_backup_dir(directory))
    return (
        f"{_CHECK_OWNED}\n"
        f"if [ ! -e {d} ] && [ ! -L {d} ]; then (umask 077 && mkdir -p -- {d}) || exit 1; fi\n"
        f"_dflow_owned {d} {d}\n"
        f"if [ ! -d {d} ]; then echo {_q(f'dflow: {directory} is not a directory')} >&2; exit {EXIT_UNSAFE}; fi\n"
        f"chmod 700 -- {d}"
    )


def export_to_partial(engine: str, service: str, directory: str, file_name: str) -> str:
    """`dokku ENGINE:export SVC > DIR/FILE.partial`, the file created 0600.

    `file_name` is the final dump name and must belong to `service`.
    """
    validate_service_name(service)
    if not is_dump_file_name(file_name, service):
        raise InvalidName(f"Refusing file {file_name!r}: not a dump name of service {service!r}")
    target = _q(partial_path(directory, file_name))
    # set -C: the file is created, never reused (O_EXCL: not even through a dangling symlink).
    if not _compressed(file_name):
        return f"umask 077 && set -C && {export_command(engine, service)} > {target}"
    # A `.dump.zst` is compressed on the server; bash's pipefail keeps the export's failure.
    pipeline = _q(f"{export_command(engine, service)} | zstd -q -3 -c")
    return f"{_NEEDS_ZSTD}\numask 077 && set -C && bash -o pipefail -c {pipeline} > {target}"


def export_teeing(engine: str, service: str, directory: str, file_name: str) -> str:
    """`dokku ENGINE:export SVC` to stdout AND into `DIR/FILE.partial` (0600, created
    exclusively), from one export: for a backup kept on the server's disk and streamed to
    storage providers at once. A `.dump.zst` file is compressed by `zstd` on the server,
    fed through a private fifo, while stdout carries the plain dump.

    GNU `tee -p` keeps writing the file when stdout's reader goes away. Exit statuses: the
    export's own when it failed (EXIT_FILE_FAILED becomes 1); EXIT_FILE_FAILED when the
    export succeeded (stdout got all of it) but the file could not be written whole.
    """
    validate_service_name(service)
    if not is_dump_file_name(file_name, service):
        raise InvalidName(f"Refusing file {file_name!r}: not a dump name of service {service!r}")
    target = partial_path(directory, file_name)
    export = export_command(engine, service)
    failed = _q(f"dflow: writing {target} on the server failed")
    # The export's status first: its failure is the backup's, whatever the file's.
    settle = (
        's=("${PIPESTATUS[@]}")\n'
        f'if [ "${{s[0]}}" != 0 ]; then [ "${{s[0]}}" = {EXIT_FILE_FAILED} ] && exit 1; exit "${{s[0]}}"; fi\n'
    )
    if not _compressed(file_name):
        # /dev/fd/3 reopens the file the shell created exclusively (the same inode).
        script = f"{export} | tee -p /dev/fd/3\n{settle}" + (
            f'if [ "${{s[1]}}" != 0 ]; then echo {failed} >&2; exit {EXIT_FILE_FAILED}; fi\n'
        )
        prefix = ""
    else:
        script = (
            "t=$(mktemp -d) || exit 1\n"
            "trap 'rm -rf -- \"$t\"' EXIT\n"
            'mkfifo -m 600 "$t/plain" || exit 1\n'
            'zstd -q -3 -c < "$t/plain" >&3 &\n'
            "z=$!\n"
            f'{export} | tee -p "$t/plain"\n'
            's=("${PIPESTATUS[@]}")\n'
            # tee never opened the fifo: zstd still waits for a writer.
            'if [ "${s[1]}" != 0 ]; then kill "$z" 2>/dev/null; fi\n'
            'wait "$z"; zs=$?\n'
            f'if [ "${{s[0]}}" != 0 ]; then [ "${{s[0]}}" = {EXIT_FILE_FAILED} ] && exit 1; exit "${{s[0]}}"; fi\n'
            f'if [ "${{s[1]}}" != 0 ] || [ "$zs" != 0 ]; then echo {failed} >&2; exit {EXIT_FILE_FAILED}; fi\n'
        )
        prefix = f"{_NEEDS_ZSTD}\n"
    # set -C: the file is created, never reused (O_EXCL: not even through a dangling symlink).
    return f"{prefix}umask 077 && set -C && exec 3> {_q(target)} || exit 1\nexec bash -c {_q(script)}"


def receive_to_file(path: str) -> str:
    """`cat > PATH` (0600): write the command's stdin to a `.partial` file.

    For restores from external storage: stream the object into it, check it
    with `checksum`, import it, then `remove_partial`.
    """
    return f"umask 077 && set -C && cat > {_q(_partial_path(path))}"


def send_file(path: str) -> str:
    """`cat PATH` of a finished dump, refused unless it is a regular file (not a link):
    for a restore into a service on another server."""
    p = _q(_dump_path(path))
    return (
        f"if [ -L {p} ] || [ ! -f {p} ]; then echo {_q(f'dflow: {path} is missing or not a regular file')} >&2; "
        f"exit {EXIT_GONE}; fi\nexec cat {p}"
    )


def is_there(path: str) -> str:
    """Exit 0 when PATH is a regular file (not a link), EXIT_GONE when it is not."""
    p = _q(checked_path(path))
    return f"if [ -f {p} ] && [ ! -L {p} ]; then exit 0; fi\nexit {EXIT_GONE}"


def checksum(path: str) -> str:
    """Prints `<sha256> <size>` of a file; parse it with parse_checksum."""
    p = _q(checked_path(path))
    return f'h=$(sha256sum < {p}) && s=$(wc -c < {p}) && echo "${{h%% *}} $s"'


def plain_checksum(path: str) -> str:
    """Prints `<sha256> <size>` of the dump inside a `.zst` file (decompressed on the server)."""
    p = _q(checked_path(path))
    return (
        f"{_NEEDS_ZSTD}\n"
        f'h=$(zstd -dc < {p} | sha256sum) && s=$(zstd -dc < {p} | wc -c) && echo "${{h%% *}} $s"'
    )


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
    # A hard link is made atomically and never replaces an existing name; then the partial goes.
    return (
        f"if ln -- {s} {d} 2>/dev/null; then rm -f -- {s}; "
        f"elif test -e {d} || test -L {d}; then "
        f"echo {_q(f'dflow: {dst} already exists; not overwriting it')} >&2; exit {EXIT_EXISTS}; "
        f"else ln -- {s} {d}; fi"
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


def checked_import(engine: str, service: str, path: str) -> str:
    """Checks, then imports, one open file: the dump (or a restore's temp file) is opened
    once, checked to be ours (EXIT_UNSAFE otherwise, EXIT_GONE when missing), and its
    `<sha256> <size>` printed on stdout. The script then reads one line on stdin:
    `import` runs `dokku ENGINE:import SVC` on that same open file — whatever happens to
    the name meanwhile — anything else exits EXIT_MISMATCH without importing."""
    p = _q(checked_path(path))
    fd = "/proc/self/fd/3"  # reopening the open file: the same inode, read from its start
    return (
        f"{_CHECK_OWNED}\n"
        + (f"{_NEEDS_ZSTD}\n" if _compressed(path) else "")
        + f"if [ ! -e {p} ] && [ ! -L {p} ]; then echo {_q(f'dflow: {path} is missing')} >&2; exit {EXIT_GONE}; fi\n"
        f"if [ -L {p} ]; then echo {_q(f'dflow: {path} is a symbolic link; refusing to use it')} >&2; exit {EXIT_UNSAFE}; fi\n"
        f"exec 3< {p} || exit 1\n"
        f"if [ ! -f {fd} ]; then echo {_q(f'dflow: {path} is not a regular file')} >&2; exit {EXIT_UNSAFE}; fi\n"
        f"_dflow_owned {p} {fd}\n"
        f'h=$(sha256sum < {fd}) && s=$(wc -c < {fd}) && echo "${{h%% *}} $s" || exit 1\n'
        f"read -r go || exit {EXIT_MISMATCH}\n"
        f'[ "$go" = import ] || exit {EXIT_MISMATCH}\n'
        + (
            f"exec bash -o pipefail -c {_q(f'zstd -dc | {import_command(engine, service)}')} < {fd}"
            if _compressed(path)
            else f"exec {import_command(engine, service)} < {fd}"
        )
    )


def file_size(path: str) -> str:
    """Prints the size of PATH in bytes (0 while it does not exist yet)."""
    q = _q(checked_path(path))
    return f"if test -f {q}; then wc -c < {q}; else echo 0; fi"


def parse_size(output: str | bytes) -> int | None:
    text = output.decode("ascii", errors="replace") if isinstance(output, bytes) else output
    text = text.strip()
    return int(text) if text.isdigit() else None


def list_dir(directory: str) -> str:
    """The names in the backup directory, one a line (nothing when it does not exist yet)."""
    q = _q(validate_backup_dir(directory))
    return f"if test -d {q}; then ls -1A -- {q}; fi"


def list_dir_ages(directory: str) -> str:
    """`<seconds since modified> <name>` for each name in the backup directory, by the server's
    own clock (nothing when the directory does not exist yet); parse with parse_ages."""
    q = _q(validate_backup_dir(directory))
    return (
        f"if test -d {q}; then now=$(date +%s); "
        f"find {q} -mindepth 1 -maxdepth 1 -printf '%T@ %f\\n' | "
        'while read -r t name; do echo "$((now - ${t%.*})) $name"; done; fi'
    )


def parse_ages(output: str) -> dict[str, int]:
    """Name → age in seconds, from list_dir_ages (a name with a space is kept whole)."""
    ages: dict[str, int] = {}
    for line in output.splitlines():
        age, _, name = line.partition(" ")
        if name and age.lstrip("-").isdigit():
            ages[name] = max(int(age), 0)
    return ages
