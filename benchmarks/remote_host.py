"""The "Dokku server" of the data path: the test suite's real OpenSSH sshd on 127.0.0.1, with the
benchmark's `dokku` stand-in (dokku_standin.bash) first on the SSH user's PATH.

The sshd helper is the test suite's own (tests/infra, through shared_infra).
"""

from __future__ import annotations

import getpass
import shlex
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks.dumps import Dump
from benchmarks.shared_infra import tests_infra

STANDIN_BODY = Path(__file__).with_name("dokku_standin.bash")


@dataclass(frozen=True)
class RemoteHost:
    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    dump_dir: Path
    import_dir: Path
    ssh_argv: tuple[str, ...]
    """`ssh` with the test key, known_hosts and options, up to and including the destination."""

    def add_service(self, name: str, dump: Dump) -> None:
        """`dokku postgres:export NAME` will print this dump."""
        link = self.dump_dir / f"{name}.dump"
        link.unlink(missing_ok=True)
        link.symlink_to(dump.path)

    def ssh_command(self, remote: str) -> str:
        """A shell-quoted `ssh ... REMOTE`, for a pipeline."""
        return shlex.join([*self.ssh_argv, remote])

    def forget_import(self, name: str) -> None:
        (self.import_dir / f"{name}.sha256").unlink(missing_ok=True)

    def imported_sha256(self, name: str) -> str | None:
        """What the last `postgres:import NAME` read, or None if nothing was imported since forget_import."""
        path = self.import_dir / f"{name}.sha256"
        return path.read_text().strip() if path.exists() else None


def start_remote_host(stack: ExitStack, work_dir: Path) -> RemoteHost:
    """sshd (stopped when `stack` closes) whose PATH finds the stand-in `dokku` first."""
    infra = tests_infra()
    sshd_path = infra.tools.find_program("sshd", "/usr/sbin/sshd")
    if sshd_path is None:
        raise RuntimeError(f"OpenSSH server (sshd) not found; install it with: {infra.sshd.INSTALL_HINT}")
    dump_dir, import_dir, bin_dir, sshd_dir = (
        work_dir / name for name in ("exports", "imports", "bin", "sshd")
    )
    for directory in (dump_dir, import_dir, bin_dir, sshd_dir):
        directory.mkdir(parents=True, exist_ok=True)
    header = (
        f"#!/bin/bash\nDUMP_DIR={shlex.quote(str(dump_dir))}\nIMPORT_DIR={shlex.quote(str(import_dir))}\n"
    )
    script = bin_dir / "dokku"
    script.write_text(header + STANDIN_BODY.read_text())
    script.chmod(0o755)

    server = infra.sshd.start_sshd(sshd_path, sshd_dir, bin_dir, getpass.getuser())
    stack.callback(server.stop)
    return RemoteHost(
        host=server.host,
        port=server.port,
        user=server.user,
        client_key=server.client_key_path,
        known_hosts=server.known_hosts_path,
        dump_dir=dump_dir,
        import_dir=import_dir,
        ssh_argv=tuple(server.ssh_args()),
    )
