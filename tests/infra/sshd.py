"""A real OpenSSH server on 127.0.0.1 that lets the current user in with a throwaway key."""

from __future__ import annotations

import pwd
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port, wait_for_port
from .tools import is_root

INSTALL_HINT = "apt-get install openssh-server openssh-client"
PRIVSEP_DIR = Path("/run/sshd")


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    home: Path
    client_key_path: Path
    host_key_fingerprint: str
    host_public_key: str
    known_hosts_path: Path
    bin_dir: Path
    log_file: Path
    process: subprocess.Popen

    def ssh_args(self) -> list[str]:
        """`ssh` argv up to and including the destination; append the remote command."""
        options = {
            "IdentitiesOnly": "yes",
            "IdentityAgent": "none",
            "BatchMode": "yes",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(self.known_hosts_path),
            "GlobalKnownHostsFile": "/dev/null",
            "ConnectTimeout": "10",
            "LogLevel": "ERROR",
        }
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.client_key_path), "-p", str(self.port)]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return [*argv, f"{self.user}@{self.host}"]

    def run(
        self,
        cmd: str | Sequence[str],
        *,
        input: str | bytes | None = None,
        text: bool | None = None,
        check: bool = False,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """Run `cmd` on the server through the real `ssh` client; a sequence is shell-quoted.

        Output is text unless `text=False` or `input` is bytes.
        """
        if text is None:
            text = not isinstance(input, bytes)
        remote = cmd if isinstance(cmd, str) else shlex.join(cmd)
        return subprocess.run(
            [*self.ssh_args(), remote],
            input=input,
            capture_output=True,
            text=text,
            check=check,
            timeout=timeout,
            stdin=subprocess.DEVNULL if input is None else None,
        )

    def stop(self) -> None:
        _stop(self.process)


def start_sshd(
    sshd: Path, work_dir: Path, bin_dir: Path, user: str, host: str = "127.0.0.1", attempts: int = 3
) -> SshServer:
    host_key = _keygen(work_dir / "host_ed25519", "dflow-test-host")
    client_key = _keygen(work_dir / "client_ed25519", "dflow-test-client")
    authorized_keys = work_dir / "authorized_keys"
    authorized_keys.write_text(client_key.with_suffix(".pub").read_text())
    key_type, key_data = host_key.with_suffix(".pub").read_text().split()[:2]
    host_public_key = f"{key_type} {key_data}"
    fingerprint = _run(["ssh-keygen", "-l", "-f", str(host_key.with_suffix(".pub"))]).split()[1]
    if is_root():
        # sshd refuses to start as root without its privilege-separation directory.
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)

    log_file = work_dir / "sshd.log"
    config = work_dir / "sshd_config"
    for attempt in range(1, attempts + 1):
        port = free_port(host)
        config.write_text(
            sshd_config(host, port, host_key, authorized_keys, work_dir / "sshd.pid", bin_dir, user)
        )
        _run([str(sshd), "-t", "-f", str(config)])
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                [str(sshd), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            wait_for_port(host, port, process, log_file)
            break
        except (RuntimeError, TimeoutError):
            _stop(process)
            if attempt == attempts or "Address already in use" not in log_file.read_text():
                raise

    known_hosts = work_dir / "known_hosts"
    known_hosts.write_text(f"[{host}]:{port} {host_public_key}\n")
    return SshServer(
        host=host,
        port=port,
        user=user,
        home=Path(pwd.getpwnam(user).pw_dir),
        client_key_path=client_key,
        host_key_fingerprint=fingerprint,
        host_public_key=host_public_key,
        known_hosts_path=known_hosts,
        bin_dir=bin_dir,
        log_file=log_file,
        process=process,
    )


def sshd_config(
    host: str, port: int, host_key: Path, authorized_keys: Path, pid_file: Path, bin_dir: Path, user: str
) -> str:
    # SetEnv is applied after sshd's default PATH, so non-interactive `ssh host dokku ...` finds the fake.
    path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
    lines = [
        f"ListenAddress {host}",
        f"Port {port}",
        f'HostKey "{host_key}"',
        f'PidFile "{pid_file}"',
        f'AuthorizedKeysFile "{authorized_keys}"',
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        f'SetEnv "PATH={path}"',
        "Subsystem sftp internal-sftp",
        f"AllowUsers {user}",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        # Tests open many connections at once; the default (10:30:100) drops some of them.
        "MaxStartups 100",
        "MaxSessions 100",
    ]
    return "\n".join(lines) + "\n"


def _keygen(path: Path, comment: str) -> Path:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited with {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
