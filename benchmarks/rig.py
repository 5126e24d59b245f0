"""Everything the data path runs against, started and configured once per run.

sshd with the stand-in `dokku`, moto with a versioned bucket, the capped proxy, and
dflow-tui configured through its CLI: one server, one project and environment, a
postgres service per dump, and storage providers (verified) `direct` and `capped`
(plus `direct-age` and `capped-age` once `storage encrypt` exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks import report
from benchmarks.dflow_cli import DflowCli, Features, venv_tool
from benchmarks.remote_host import RemoteHost, start_remote_host
from benchmarks.s3_endpoint import S3Endpoint, start_s3
from benchmarks.workspace import Workspace

LINKS = ("direct", "capped")
PROJECT, ENVIRONMENT, SERVER = "bench", "prod", "bench"


@dataclass(frozen=True)
class Rig:
    host: RemoteHost
    s3: S3Endpoint
    cli: DflowCli
    features: Features
    aws_env: dict[str, str]
    aws: str

    def url(self, link: str) -> str:
        return self.s3.direct_url if link == "direct" else self.s3.capped_url

    def object_url(self, key: str) -> str:
        return f"s3://{self.s3.bucket}/{key}"

    @staticmethod
    def service_path(service: str) -> str:
        return f"{PROJECT}/{ENVIRONMENT}/{service}"

    @staticmethod
    def provider_prefix(provider: str) -> str:
        return f"dflow/{provider}/"


def start_rig(
    stack: ExitStack, workspace: Workspace, services: Sequence[str], directory: str = "data-path"
) -> Rig:
    """Servers stopped when `stack` closes; dflow-tui knows `services` (host.add_service gives each its dump).
    Each section that starts a rig gives it a `directory` of its own (state, sshd, moto)."""
    work = workspace.directory(directory)
    with report.step("starting sshd, moto and the capped proxy"):
        host = start_remote_host(stack, work)
        s3 = start_s3(stack, work)
    cli = DflowCli(work, host.known_hosts)
    with report.step("dflow-tui setup through its CLI"):
        features = cli.features()
        _configure(cli, host, s3, list(services), features, backup_dir_of(work).as_posix())
    aws_config = work / "aws-config"
    aws_config.mkdir(exist_ok=True)
    return Rig(
        host=host,
        s3=s3,
        cli=cli,
        features=features,
        aws_env=s3.aws_env(cli.env, aws_config),
        aws=str(venv_tool("aws")),
    )


def backup_dir_of(work: Path) -> Path:
    """The stand-in server's backup dir (`server add --backup-dir`): where internal backups go."""
    return work / "server-backups"


def _configure(
    cli: DflowCli, host: RemoteHost, s3: S3Endpoint, services: list[str], features: Features, backup_dir: str
) -> None:
    cli.run(
        "server",
        "add",
        SERVER,
        "--host",
        host.host,
        "--port",
        str(host.port),
        "--user",
        host.user,
        "--key",
        str(host.client_key),
        "--backup-dir",
        backup_dir,
    )
    cli.run("server", "check", SERVER)
    cli.run("project", "add", PROJECT, "--server", SERVER)
    cli.run("env", "add", PROJECT, ENVIRONMENT)
    for service in services:
        cli.run("service", "add", Rig.service_path(service), "--engine", "postgres")
    providers = [(link, link) for link in LINKS]
    if features.encryption:
        providers += [(f"{link}-age", link) for link in LINKS]
    recipient = _age_recipient() if features.encryption else ""
    for provider, link in providers:
        endpoint = s3.direct_url if link == "direct" else s3.capped_url
        cli.run(
            "storage",
            "add",
            provider,
            "--endpoint",
            endpoint,
            "--region",
            s3.region,
            "--bucket",
            s3.bucket,
            "--prefix",
            Rig.provider_prefix(provider).rstrip("/"),
            "--access-key",
            s3.access_key_id,
            secret=s3.secret_access_key,
        )
        if provider.endswith("-age"):
            cli.run("storage", "encrypt", provider, "--recipient", recipient)
        cli.run("storage", "verify", provider)


def _age_recipient() -> str:
    """A fresh x25519 recipient; its identity is thrown away (encrypted restores are not measured)."""
    import pyrage  # type: ignore[import-untyped]

    return str(pyrage.x25519.Identity.generate().to_public())
