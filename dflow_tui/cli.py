"""The scriptable face: `dflow-tui ...`. Exit 0 on success; one line on stderr and exit 1 otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from dflow_tui.core.enums import BackupStatus, Compression, OperationStatus, RecoveryState, WorkerKind
from dflow_tui.core.errors import DflowError, HostKeyUnknown, stopped_by
from dflow_tui.core.permissions import Permission, Role
from dflow_tui.core.policy import check_ping_url
from dflow_tui.core.tiers import ORDER, duration_text, parse_duration
from dflow_tui.core.views import Progress, human_size
from dflow_tui.settings import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_MAX_JOBS,
    DEFAULT_PARALLEL,
    DEFAULT_PREFIX,
    DEFAULT_SSH_PORT,
    MAX_PARALLEL,
    Settings,
)

if TYPE_CHECKING:  # the service layer loads the database stack: only when a command runs
    from dflow_tui.service import Dflow


def _settings(ctx: click.Context) -> Settings:
    settings = Settings()
    if ctx.obj.get("db"):
        settings.db_url = ctx.obj["db"]
    return settings


def with_app(action: Callable[..., Awaitable[Any]] | None = None, *, role: WorkerKind = WorkerKind.CLI):
    """Runs an async command body with an open Dflow, turning DflowError into one clean line.
    `role`: what the process is to the jobs it runs (a CLI command, or `worker`)."""
    if action is None:
        return functools.partial(with_app, role=role)

    @click.pass_context
    @functools.wraps(action)
    def command(ctx: click.Context, *args, **kwargs):
        signals: list[str] = []  # the signal that stopped the command, if one did

        async def main():
            from dflow_tui.service import Dflow

            _stop_on_hangup_or_term(signals)
            app = await Dflow.open(_settings(ctx), role=role)
            try:
                return await action(app, *args, **kwargs)
            finally:
                await app.close()

        try:
            return asyncio.run(main())
        except DflowError as error:
            raise click.ClickException(str(error)) from None
        except (KeyboardInterrupt, click.Abort):
            _cancelled("")
        except asyncio.CancelledError:
            if not signals:
                raise
            _cancelled(signals[0])

    return command


def _stop_on_hangup_or_term(signals: list[str]) -> None:
    """SIGTERM, and the SIGHUP of a closed terminal or SSH session, stop the command as Ctrl-C
    does: its job is cancelled, records how it ended (naming the signal) and cleans up."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only (a command run by a test or an embedder)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop(name: str) -> None:
        signals.append(name)
        task.cancel(stopped_by(name))

    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop, signal.Signals(signum).name)


def _cancelled(cause: str) -> None:
    click.echo(f"Cancelled ({cause})" if cause else "Cancelled", err=True)
    sys.exit(1)


def print_progress(progress: Progress) -> None:
    if progress.output is not None:
        click.echo(f"[{progress.job}]   | {progress.output}", err=True)
    elif progress.done_bytes is not None:
        moved = human_size(progress.done_bytes)
        if progress.total_bytes:
            moved += f" of {human_size(progress.total_bytes)}"
        click.echo(f"[{progress.job}] {progress.message}: {moved}", err=True)
    else:
        click.echo(f"[{progress.job}] {progress.message}", err=True)


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON instead of a table (README, "JSON output", has its shape).',
)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=False)).rstrip())


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="URL",
    envvar="DFLOW_TUI_DB",
    help="State database URL (default: SQLite in the user's data dir).",
)
@click.option("--demo", is_flag=True, help="Open the app on a throwaway demo sandbox.")
@click.version_option(package_name="dflow-tui")
@click.pass_context
def main(ctx: click.Context, db: str | None, demo: bool) -> None:
    """dflow-tui: database backups for Dokku servers."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is not None:
        return
    from dflow_tui.ui.app import run_app

    try:
        if demo:
            from dflow_tui.demo.sandbox import demo_sandbox

            with demo_sandbox() as settings:
                run_app(settings)
        else:
            run_app(_settings(ctx))
    except DflowError as error:
        raise click.ClickException(str(error)) from None


# --- servers -----------------------------------------------------------------


MAX_JOBS_OPTION = click.option(
    "--max-jobs",
    type=int,
    default=DEFAULT_MAX_JOBS,
    show_default=True,
    help="Queued jobs workers may run at once on this server, all workers together.",
)


@main.group()
def server() -> None:
    """Servers reached over SSH (or this machine, with --local)."""


@server.command("add")
@click.argument("name")
@click.option("--host", help="Host name or address of the server (SSH).")
@click.option("--port", type=int, default=DEFAULT_SSH_PORT, show_default=True, help="SSH port.")
@click.option("--user", help="SSH user (default: from ~/.ssh/config, else your login).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="Private key file.")
@click.option(
    "--backup-dir",
    default=DEFAULT_BACKUP_DIR,
    show_default=True,
    help="Where dumps live on the server (relative to the SSH user's home, or absolute).",
)
@click.option("--local", is_flag=True, help="This machine, without SSH.")
@MAX_JOBS_OPTION
@with_app
async def server_add(app: Dflow, name, host, port, user, key_path, backup_dir, local, max_jobs):
    """Add a server reached over SSH (or this machine, with --local); check it with `server check`."""
    view = await app.inventory.add_server(
        name,
        local=local,
        host=host,
        port=port,
        user=user,
        key_path=key_path,
        backup_dir=backup_dir,
        max_jobs=max_jobs,
    )
    click.echo(f"Added server {view.name} ({view.address}), backups in {view.backup_dir}")


@server.command("edit")
@click.argument("name")
@click.option(
    "--max-jobs",
    type=int,
    required=True,
    help="Queued jobs workers may run at once on this server, all workers together.",
)
@with_app
async def server_edit(app: Dflow, name, max_jobs):
    """Change a server's settings: how many jobs workers run on it at once."""
    view = await app.inventory.set_max_jobs(name, max_jobs)
    click.echo(f"Server {view.name}: workers run at most {view.max_jobs} job(s) at once on it")


@server.command("list")
@json_option
@with_app
async def server_list(app: Dflow, as_json):
    """The servers, their addresses and backup directories."""
    servers = await app.inventory.list_servers()
    if as_json:
        return print_json([asdict(s) for s in servers])
    print_table(
        ["NAME", "ADDRESS", "BACKUP DIR", "MAX JOBS"],
        [[s.name, s.address, s.backup_dir, str(s.max_jobs)] for s in servers],
    )


@server.command("remove")
@click.argument("name")
@with_app
async def server_remove(app: Dflow, name):
    """Forget a server that no project or environment uses and that holds no backup."""
    await app.inventory.remove_server(name)
    click.echo(f"Removed server {name}")


@server.command("check")
@click.argument("name")
@with_app
async def server_check(app: Dflow, name):
    """Connect (verifying the host key) and ask Dokku for its version."""
    try:
        result = await app.inventory.check_server(name)
    except HostKeyUnknown as unknown:
        if not (
            sys.stdin.isatty()
            and click.confirm(
                f"Host key of {unknown.host}:{unknown.port} is not known.\n"
                f"Fingerprint: {unknown.fingerprint}\nTrust it?",
                default=False,
                err=True,
            )
        ):
            raise
        await app.inventory.trust_server(name, unknown.fingerprint)
        result = await app.inventory.check_server(name)
    click.echo(f"{result.server} ({result.address}): OK — {result.dokku_version}")


@server.command("trust")
@click.argument("name")
@click.option("--fingerprint", help="Trust only if the server's key has this SHA256 fingerprint.")
@click.option("--yes", is_flag=True, help="Trust whatever key the server presents now.")
@with_app
async def server_trust(app: Dflow, name, fingerprint, yes):
    """Add the server's host key to known_hosts, after you checked its fingerprint."""
    from dflow_tui.core.errors import RemoteError

    shown = await app.inventory.host_key_fingerprint(name)
    if fingerprint and fingerprint != shown:
        raise RemoteError(f"Server {name} presents {shown}, not {fingerprint}: not trusted")
    if not (fingerprint or yes):
        if not sys.stdin.isatty():
            raise RemoteError(
                f"Server {name} presents {shown}; confirm with --fingerprint {shown} (or --yes)"
            )
        click.confirm(f"Fingerprint: {shown}\nTrust it?", default=False, abort=True, err=True)
    trusted = await app.inventory.trust_server(name, fingerprint or shown)
    click.echo(f"Trusted {name}: {trusted}")


@server.command("discover")
@click.argument("name")
@click.option("--project", required=True, help="Project the databases are added to (created if missing).")
@click.option(
    "--env", "environment", default="production", show_default=True, help="Environment of that project."
)
@with_app
async def server_discover(app: Dflow, name, project, environment):
    """Import the databases `dokku <engine>:list` reports."""
    found = await app.inventory.discover(name, project, environment)
    if not found:
        click.echo(f"No databases found on {name}")
    for item in found:
        click.echo(f"{'added' if item.added else 'known'}  {item.path}  ({item.engine})")


# --- projects, environments, services ------------------------------------------


@main.group()
def project() -> None:
    """Projects (applications) that hold environments."""


@project.command("add")
@click.argument("name")
@click.option("--server", help="Default server of the project's environments.")
@click.option("--legacy", is_flag=True, help="A legacy managed project (backups are refused).")
@with_app
async def project_add(app: Dflow, name, server, legacy):
    """Add a project; its environments use --server unless they name their own."""
    await app.inventory.add_project(name, server=server, legacy=legacy)
    click.echo(f"Added project {name}")


@main.group("env")
def environment() -> None:
    """Environments of a project."""


@environment.command("add")
@click.argument("project")
@click.argument("name")
@click.option("--server", help="Server of this environment (overrides the project's).")
@with_app
async def env_add(app: Dflow, project, name, server):
    """Add an environment (production, staging...) to a project."""
    await app.inventory.add_environment(project, name, server=server)
    click.echo(f"Added environment {project}/{name}")


@main.group()
def service() -> None:
    """Database services (PROJECT/ENV/NAME)."""


@service.command("add")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.option("--engine", required=True, help="postgres, mysql, mariadb, mongo or redis.")
@with_app
async def service_add(app: Dflow, path, engine):
    """Add a database service by hand (`server discover` finds them for you)."""
    view = await app.inventory.add_service(path, engine)
    click.echo(f"Added {view.engine} service {view.path}")


@service.command("list")
@json_option
@with_app
async def service_list(app: Dflow, as_json):
    """The services, their engines, servers and destinations."""
    services = await app.inventory.list_services()
    if as_json:
        return print_json([asdict(s) | {"path": s.path} for s in services])
    print_table(
        ["SERVICE", "ENGINE", "SERVER", "DESTINATION"],
        [
            [
                s.path,
                s.engine,
                s.server or "(none)",
                s.destination
                + (f" ({s.provider})" if s.provider else "")
                + "".join(f" + {copy}" for copy in s.copies),
            ]
            for s in services
        ],
    )


@service.command("remove")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@with_app
async def service_remove(app: Dflow, path):
    """Forget a service without live backups (its schedule and failed rows go with it)."""
    await app.inventory.remove_service(path)
    click.echo(f"Removed service {path}")


# --- storage and destination ------------------------------------------------------


@main.group()
def storage() -> None:
    """S3-compatible Backup Storage (the secret key lives in the OS keyring)."""


def read_secret() -> str:
    """From a pipe (`... | dflow-tui storage add ...`), or a hidden prompt: never an argument."""
    if sys.stdin.isatty():
        return click.prompt("Secret access key", hide_input=True, err=True)
    return sys.stdin.readline().rstrip("\r\n")


@storage.command("add")
@click.argument("name")
@click.option(
    "--endpoint", required=True, help="Endpoint URL, e.g. https://s3.eu-central-003.backblazeb2.com"
)
@click.option("--region", required=True, help="The bucket's region (us-east-1 if the provider has none).")
@click.option("--bucket", required=True, help="An existing bucket.")
@click.option(
    "--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix under which backups are stored."
)
@click.option(
    "--access-key", required=True, help="Access key id (the secret is read from stdin or prompted)."
)
@click.option(
    "--parallel",
    type=click.IntRange(1, MAX_PARALLEL),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Parts uploaded (and ranges downloaded) at once; each holds one part in memory.",
)
@with_app
async def storage_add(app: Dflow, name, endpoint, region, bucket, prefix, access_key, parallel):
    """Add an S3-compatible provider; the secret key goes to the OS keyring. Then `storage verify` it."""
    view = await app.storage.add(
        name,
        endpoint_url=endpoint,
        region=region,
        bucket=bucket,
        prefix=prefix,
        access_key_id=access_key,
        secret_access_key=read_secret(),
        parallel=parallel,
    )
    click.echo(
        f"Added storage provider {view.name} (s3://{view.bucket}/{view.prefix}); "
        f"verify it with `dflow-tui storage verify {view.name}`"
    )


@storage.command("verify")
@click.argument("name")
@with_app
async def storage_verify(app: Dflow, name):
    """Prove put, get, list and delete on the prefix with a probe object."""
    result = await app.storage.verify(name)
    if not result.ok:
        raise DflowError(f"{name}: unverified — {result.reason}")
    click.echo(f"{name}: verified — {result.reason}")


@storage.command("list")
@json_option
@with_app
async def storage_list(app: Dflow, as_json):
    """The providers, whether they are verified, and whom their backups are encrypted for."""
    providers = await app.storage.list()
    if as_json:
        return print_json([p.to_json() for p in providers])
    print_table(
        ["NAME", "ENDPOINT", "BUCKET/PREFIX", "STATUS", "PARALLEL", "ENCRYPTED FOR", "REASON"],
        [
            [
                p.name,
                p.endpoint_url,
                f"{p.bucket}/{p.prefix}",
                p.status,
                p.parallel,
                ", ".join(r.fingerprint for r in p.recipients) or "(not encrypted)",
                p.status_reason,
            ]
            for p in providers
        ],
    )


@storage.command("edit")
@click.argument("name")
@click.option(
    "--parallel",
    type=click.IntRange(1, MAX_PARALLEL),
    required=True,
    help="Parts uploaded (and ranges downloaded) at once; each holds one part in memory.",
)
@with_app
async def storage_edit(app: Dflow, name, parallel):
    """Change how a provider is used (today: how many transfers run at once)."""
    view = await app.storage.edit(name, parallel=parallel)
    click.echo(f"{view.name}: {view.parallel} parts or ranges in flight")


@storage.command("encrypt")
@click.argument("name")
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    metavar="KEY",
    help="A public key: age1…, ssh-ed25519 … or ssh-rsa …; repeat for several.",
)
@click.option(
    "--recipients-file",
    type=click.File("r"),
    help="Public keys, one a line ('#' comments allowed), as `age -R` reads them.",
)
@click.option("--off", is_flag=True, help="Store the next backups unencrypted.")
@with_app
async def storage_encrypt(app: Dflow, name, recipients, recipients_file, off):
    """Encrypt the next backups stored here (age), so only the holders of the private keys can
    read them; restoring needs one of those keys (`identity add`, or `backup restore --identity`)."""
    keys = list(recipients)
    if recipients_file is not None:
        keys += [
            line.strip() for line in recipients_file if line.strip() and not line.lstrip().startswith("#")
        ]
    if off == bool(keys):
        raise DflowError("Give one or more --recipient (or --recipients-file), or --off")
    view = await app.storage.encrypt(name, [] if off else keys)
    if not view.recipients:
        click.echo(f"{view.name}: the next backups are stored unencrypted")
        return
    click.echo(f"{view.name}: the next backups are encrypted for")
    for recipient in view.recipients:
        click.echo(f"  {recipient.fingerprint}  {recipient.key[:60]}")


@storage.command("remove")
@click.argument("name")
@with_app
async def storage_remove(app: Dflow, name):
    """Remove a provider no service uses (its secret leaves the keyring; stored objects stay)."""
    await app.storage.remove(name)
    click.echo(f"Removed storage provider {name}")


@main.group()
def destination() -> None:
    """Where a service's next backups go."""


@destination.command("set")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.argument("where", type=click.Choice(["internal", "external"]))
@click.option("--provider", help="A verified storage provider (external only).")
@click.option(
    "--copy",
    "copy_to",
    multiple=True,
    metavar="internal|PROVIDER",
    help="Also store each backup here, from the same export (repeat for more places): the "
    "server's disk or another verified provider. Without it, no copies.",
)
@click.option(
    "--compression",
    type=click.Choice([c.value for c in Compression]),
    default=Compression.AUTO.value,
    show_default=True,
    help="zstd for every dump, none, or auto: engines whose export is not compressed already "
    "(on the server's disk, when the server has zstd).",
)
@with_app
async def destination_set(app: Dflow, path, where, provider, compression, copy_to):
    """Send a service's next backups to the server's disk (internal) or a verified provider
    (external), and copies of them to more places."""
    await app.destinations.set(path, where, provider, compression, copy_to)
    click.echo(
        f"{path}: next backups go to {where}"
        + (f" ({provider})" if provider else "")
        + (f", copies to {', '.join(copy_to)}" if copy_to else "")
        + f", compression {compression}"
    )


# --- schedules and the worker ---------------------------------------------------


@main.group()
def schedule() -> None:
    """Scheduled backups: hourly, daily, weekly, monthly tiers with retention."""


@schedule.command("set")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    type=click.Choice([t.value for t in ORDER]),
    help="Repeat for several tiers.",
)
@click.option("--off", is_flag=True, help="Turn the schedule off.")
@click.option(
    "--grace",
    metavar="DURATION",
    help="How long past the shortest tier a success may be missing before the service is "
    "late (30m, 2h, 1d; default: half that tier's interval).",
)
@with_app
async def schedule_set(app: Dflow, path, tiers, off, grace):
    """Turn scheduled backups on for the given tiers (the others off), or all off with --off."""
    if off == bool(tiers):
        raise DflowError("Give one or more --tier, or --off")
    report = await app.schedules.set(path, [] if off else tiers, parse_duration(grace) if grace else None)
    view = await app.schedules.show(path)
    click.echo(f"{path}: {view.active_text}")
    for backup in report.queued:
        click.echo(
            f"Queued {backup.schedule_tier} backup {backup.id}; it runs in `dflow-tui worker` or the open app"
        )
    if path_refusal := report.refused.get((await app.inventory.get_service(path)).id):
        raise DflowError(f"Nothing queued: {path_refusal}")


@schedule.command("show")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@json_option
@with_app
async def schedule_show(app: Dflow, path, as_json):
    """A service's tiers: on or off, retention, last success, next due, failures."""
    view = await app.schedules.show(path)
    warning = await app.schedules.unattended()
    if as_json:
        return print_json(view.to_json() | {"warning": warning})
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(view.active_text)
    if view.rpo is not None:
        click.echo(f"Recovery point: {view.state} (a success at least every {duration_text(view.rpo)})")
    print_table(
        ["TIER", "ON", "RETENTION", "LAST SUCCESS (UTC)", "NEXT DUE (UTC)"],
        [
            [t.label, "yes" if t.enabled else "no", t.retention, _when(t.last_success), _when(t.next_due)]
            for t in view.tiers
        ],
    )
    if view.failures:
        click.echo(
            f"{view.failures} failure(s) in a row; next try after {_when(view.retry_after)}: {view.error}"
        )
    click.echo(f"Restore drills: {view.drill_every or 'only when asked'}")
    if view.proven_at is not None:
        click.echo(f"Proven restorable: backup {view.proven_backup_id}, drilled {_when(view.proven_at)} UTC")
    if view.drill_error is not None:
        click.echo(f"The last drill failed: {view.drill_error}")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


@main.command()
@click.option("--once", is_flag=True, help="One scheduler pass and the jobs it queued, then exit.")
@click.option("--interval", type=float, help="Seconds between scheduler passes (default 600).")
@click.option("--concurrency", type=int, help="Jobs run at once (default 2).")
@click.option(
    "--heartbeat",
    type=float,
    help="Seconds between a running job's heartbeats, when cancel requests are read (default 10).",
)
@click.option(
    "--ping", "ping_url", metavar="URL", help="Tell this URL after every scheduler pass (a dead-man check)."
)
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port at /metrics.")
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve metrics on (0.0.0.0: every interface).",
)
@with_app(role=WorkerKind.WORKER)
async def worker(app: Dflow, once, interval, concurrency, heartbeat, ping_url, metrics_port, metrics_host):
    """Run scheduled backups and queued jobs until stopped (SIGTERM finishes cleanly)."""
    from dflow_tui.worker_logging import configure_logging

    configure_logging()
    await app.access.require(Permission.READ, "worker.start")
    if interval:
        app.settings.scheduler_interval = interval
    if concurrency:
        app.settings.worker_concurrency = concurrency
    if heartbeat:
        app.settings.heartbeat_interval = heartbeat
    if ping_url:
        app.settings.worker_ping_url = check_ping_url(ping_url)
    loop_worker = app.worker
    if once:
        report = await loop_worker.once()
        click.echo(
            f"Pass done: {len(report.queued)} queued, {len(report.drills)} drill(s) queued, "
            f"{len(report.cleaned)} stale cleaned",
            err=True,
        )
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        if metrics_port:
            await stack.enter_async_context(app.metrics.serving(metrics_host, metrics_port))
        await loop_worker.serve(stop)


# --- restore identities ----------------------------------------------------------------


@main.group()
def identity() -> None:
    """Private keys that open encrypted backups, saved in this host's keyring."""


@identity.command("add")
@click.argument("name")
@click.argument("key_file", type=click.File("r"))
@with_app
async def identity_add(app: Dflow, name, key_file):
    """Save an age identity file or an OpenSSH private key under NAME (in the OS keyring)."""
    view = await app.identities.add(name, key_file.read())
    click.echo(
        f"Saved identity {view.name}: opens backups encrypted for {', '.join(view.fingerprints) or '?'}"
    )


@identity.command("list")
@json_option
@with_app
async def identity_list(app: Dflow, as_json):
    """The identities saved on this host and the recipients they open."""
    identities = await app.identities.list()
    if as_json:
        return print_json([asdict(i) for i in identities])
    print_table(["NAME", "OPENS"], [[i.name, ", ".join(i.fingerprints)] for i in identities])


@identity.command("remove")
@click.argument("name")
@with_app
async def identity_remove(app: Dflow, name):
    """Remove a saved identity from this host's keyring."""
    await app.identities.remove(name)
    click.echo(f"Removed identity {name}")


# --- users and audit -------------------------------------------------------------


@main.group()
def user() -> None:
    """Who may do what (the acting user is the OS account running dflow-tui)."""


@user.command("add")
@click.argument("login")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="admin: everything; member: back up; viewer: read only.",
)
@with_app
async def user_add(app: Dflow, login, role):
    """Give an OS account a role (admins only)."""
    view = await app.users.add(login, role)
    click.echo(f"Added {view.login} as {view.role}")


@user.command("list")
@json_option
@with_app
async def user_list(app: Dflow, as_json):
    """The users and their roles."""
    users = await app.users.list()
    if as_json:
        return print_json([u.to_json() for u in users])
    print_table(["LOGIN", "ROLE", "ADDED BY"], [[u.login, u.role, u.created_by] for u in users])


@user.command("remove")
@click.argument("login")
@with_app
async def user_remove(app: Dflow, login):
    """Take a user's role away (the last admin stays)."""
    await app.users.remove(login)
    click.echo(f"Removed {login}")


@main.group()
def drill() -> None:
    """Restore drills: prove a backup restores, into a throwaway service that is then destroyed."""


@drill.command("run")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.option(
    "--backup", "backup_id", type=int, help="The backup to drill (default: the newest successful one)."
)
@click.option(
    "--identity",
    "identity_file",
    type=click.File("r"),
    help="The private key that opens an encrypted backup (else one saved with `identity add`).",
)
@with_app
async def drill_run(app: Dflow, path, backup_id, identity_file):
    """Restore a backup into a throwaway `dflow-drill-N` service on its server, count its
    tables and rows (redis: keys), and destroy it; the live service is not touched."""
    identity = identity_file.read() if identity_file is not None else None
    result = await app.backups.drill(path, backup_id, identity=identity, on_progress=print_progress)
    if result.status != OperationStatus.SUCCEEDED:
        raise DflowError(f"Drill of backup {result.backup_id} of {path} failed: {result.error}")
    used = f"; from {result.restored_from}" if result.restored_from else ""
    click.echo(f"Drill passed: backup {result.backup_id} of {path} restores ({result.probe}{used})")


@drill.command("schedule")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.option(
    "--every",
    required=True,
    type=click.Choice(["daily", "weekly", "monthly", "off"]),
    help="How often a worker drills the service's newest successful backup.",
)
@with_app
async def drill_schedule(app: Dflow, path, every):
    """Drill a service on a schedule: the scheduler queues a drill of its newest successful
    backup once its backups have run, at most one drill per server at a time."""
    report = await app.schedules.set_drill(path, every)
    if every == "off":
        click.echo(f"Drills of {path}: only when asked (`drill run`)")
    else:
        click.echo(f"Drills of {path}: {every}, by a worker (`dflow-tui worker`) or the open app")
    if report.drills:
        click.echo(f"Queued now: {len(report.drills)} drill(s)")
    if warning := await app.schedules.unattended():
        click.echo(f"Warning: {warning}", err=True)


@drill.command("list")
@click.argument("path", required=False, metavar="[PROJECT/ENV/NAME]")
@json_option
@with_app
async def drill_list(app: Dflow, path, as_json):
    """The drills run, newest first: which backup, how it ended, what it counted."""
    views = await app.backups.drills(path)
    if as_json:
        print_json([view.to_json() for view in views])
        return
    print_table(
        ["ID", "SERVICE", "BACKUP", "RESULT", "WHEN (UTC)", "SECONDS", "FOUND / WHY"],
        [
            [
                v.id,
                v.service_path,
                v.backup_id,
                v.status,
                _when(v.finished_at or v.started_at),
                f"{v.seconds:.1f}" if v.seconds is not None else "",
                (v.probe if v.error is None else v.error) or "",
            ]
            for v in views
        ],
    )


@main.group()
def notify() -> None:
    """Notifications (Slack, e-mail, Telegram, ntfy, webhooks… through apprise) when
    backups fail, run late or recover, and when a backup is restored or deleted."""


def read_url() -> str:
    """An apprise URL holds tokens: from a pipe or a hidden prompt, never an argument."""
    if sys.stdin.isatty():
        return click.prompt("apprise URL (hidden)", hide_input=True, err=True)
    return sys.stdin.readline().strip()


@notify.command("add")
@click.argument("name")
@click.option(
    "--on",
    "events",
    metavar="EVENTS",
    help="Comma-separated: failure, late, recovered, restore, delete, drill "
    "(default: failure,late,recovered).",
)
@with_app
async def notify_add(app: Dflow, name, events):
    """Add a notifier; its apprise URL (e.g. slack://…, mailto://…, json://…) is read from
    stdin or a hidden prompt and kept in the OS keyring."""
    view = await app.notifiers.add(name, read_url(), events)
    click.echo(
        f"Added notifier {view.name} ({', '.join(view.events)}); try it: dflow-tui notify test {view.name}"
    )


@notify.command("list")
@json_option
@with_app
async def notify_list(app: Dflow, as_json):
    """The notifiers, what they are told of, and how their messages stand."""
    views = await app.notifiers.list()
    if as_json:
        print_json([view.to_json() for view in views])
        return
    if not views:
        click.echo("No notifiers. Add one: dflow-tui notify add NAME (reads an apprise URL)")
        return
    print_table(
        ["NAME", "EVENTS", "LAST SENT", "WAITING", "UNDELIVERED", "GIVEN UP", "LAST ERROR"],
        [
            [
                v.name,
                ",".join(v.events),
                _when(v.last_sent),
                v.pending,
                v.failing,
                v.given_up,
                v.last_error or "",
            ]
            for v in views
        ],
    )


@notify.command("test")
@click.argument("name")
@with_app
async def notify_test(app: Dflow, name):
    """Send a test message through a notifier now."""
    await app.notifiers.test(name)
    click.echo(f"Test message delivered through {name}")


@notify.command("remove")
@click.argument("name")
@with_app
async def notify_remove(app: Dflow, name):
    """Remove a notifier, its URL in the keyring and the messages it had yet to deliver."""
    await app.notifiers.remove(name)
    click.echo(f"Removed notifier {name}")


@main.group()
def ping() -> None:
    """Dead-man pings: a URL told when a service's backups start, succeed or fail."""


@ping.command("set")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@click.argument("url", required=False)
@click.option("--off", is_flag=True, help="Stop pinging for this service.")
@with_app
async def ping_set(app: Dflow, path, url, off):
    """Ping URL/start when a backup starts, URL on success, URL/fail (the error as body) on failure."""
    if off == bool(url):
        raise DflowError("Give a URL, or --off")
    await app.schedules.set_ping(path, None if off else url)
    click.echo(f"{path}: pings {'off' if off else 'on'}")


@main.command("status")
@click.argument("path", required=False, metavar="[PROJECT/ENV/NAME]")
@json_option
@with_app
async def status(app: Dflow, path, as_json):
    """Whether each service's backups keep their promise: ok, failing, late, never or off.

    Exit 0 when every service is ok or off, 1 when any is failing, 2 when any is late or
    never (for Nagios-style checks and cron)."""
    rows = await app.fleet.rows(path)
    if as_json:
        print_json([row.to_json() for row in rows])
    else:
        print_table(
            ["SERVICE", "STATE", "LAST SUCCESS", "RPO", "NEXT DUE", "PROVEN (DRILL)"],
            [
                [
                    row.path,
                    row.state,
                    _when(row.last_success),
                    duration_text(row.rpo) if row.rpo is not None else "-",
                    _when(row.next_due),
                    "failed" if row.drill_failed else _when(row.proven_at),
                ]
                for row in rows
            ],
        )
    worst = max((RecoveryState(row.state).exit_code for row in rows), default=0)
    if worst:
        raise click.exceptions.Exit(worst)


@main.command("metrics")
@with_app
async def metrics(app: Dflow):
    """The fleet in Prometheus text format (for node_exporter's textfile collector)."""
    sys.stdout.write((await app.metrics.exposition()).decode())


@main.command("fleet")
@json_option
@with_app
async def fleet_list(app: Dflow, as_json):
    """Every service at once: schedule, last success, next due, how its last backup ended."""
    rows = await app.fleet.rows()
    if as_json:
        return print_json([row.to_json() for row in rows])
    print_table(
        ["SERVICE", "RESULT", "LAST SUCCESS", "NEXT DUE", "TIERS", "SIZE", "SERVER", "DESTINATION"],
        [
            [
                row.path,
                row.last_result or "-",
                _when(row.last_success),
                _when(row.next_due),
                ",".join(row.tiers) or "off",
                human_size(row.last_size) if row.last_size is not None else "-",
                row.service.server or "-",
                row.service.destination_name,
            ]
            for row in rows
        ],
    )


@main.command("audit")
@click.option("--service", metavar="PROJECT/ENV/NAME", help="Only actions on this service.")
@json_option
@with_app
async def audit_log(app: Dflow, service, as_json):
    """Every destructive or policy action: who, when, what, on what, and how it ended."""
    entries = await app.audit.list(service)
    if as_json:
        return print_json([e.to_json() for e in entries])
    print_table(
        ["WHEN (UTC)", "WHO", "ACTION", "ON", "RESULT", "DETAIL"],
        [
            [
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.service_path or e.target or "",
                e.result,
                (e.detail or "")[:80],
            ]
            for e in entries
        ],
    )


@main.command()
@click.option("--fix", is_flag=True, help="Remove debris (stale jobs, partial files, unfinished uploads).")
@json_option
@with_app
async def doctor(app: Dflow, fix, as_json):
    """Check that records, servers and buckets agree; exit 1 if anything is left to look at."""
    findings = await app.doctor.check(fix=fix)
    if as_json:
        print_json([asdict(f) for f in findings])
    else:
        for finding in findings:
            mark = "fixed" if finding.fixed else finding.kind
            click.echo(f"{mark:16} {finding.where}: {finding.detail}")
    left = [f for f in findings if f.needs_attention]
    if not as_json:
        click.echo("consistent" if not left else f"{len(left)} finding(s) to look at", err=bool(left))
    if left:
        raise SystemExit(1)


# --- backups ---------------------------------------------------------------------


@main.group()
def backup() -> None:
    """Create, list, restore and delete backups."""


@backup.command("create")
@click.argument("path", metavar="PROJECT/ENV/NAME")
@with_app
async def backup_create(app: Dflow, path):
    """Run a backup now, in the foreground; prints its id."""
    view = await app.backups.create(path, on_progress=print_progress)
    if view.status != BackupStatus.SUCCESS:
        raise DflowError(f"Backup {view.id} of {path} failed: {view.error}")
    click.echo(view.id)


@backup.command("list")
@click.argument("path", metavar="[PROJECT/ENV/NAME]", required=False)
@json_option
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted backups.")
@with_app
async def backup_list(app: Dflow, path, as_json, include_deleted):
    """Backups, newest first: of one service, or of all."""
    backups = await app.backups.list(path, include_deleted=include_deleted)
    if as_json:
        return print_json([b.to_json() for b in backups])
    print_table(
        ["ID", "SERVICE", "CREATED (UTC)", "TYPE", "TRIGGER", "STATUS", "SIZE", "NOTE"],
        [
            [
                b.id,
                b.service_path,
                b.created_at.strftime("%Y-%m-%d %H:%M:%S") if b.created_at else "",
                b.places,
                _trigger(b),
                f"{b.status} (queued)" if b.queued else f"{b.status} (degraded)" if b.degraded else b.status,
                human_size(b.size_bytes),
                f"{b.operation_kind} {b.operation_status}"
                if b.operation_kind
                else (b.error or _copy_note(b)),
            ]
            for b in backups
        ],
    )


@backup.command("restore")
@click.argument("backup_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: the live database is replaced by the dump.")
@click.option(
    "--safety-backup/--no-safety-backup",
    default=True,
    show_default=True,
    help="Back up the live database first.",
)
@click.option(
    "--identity",
    "identity_file",
    type=click.File("r"),
    help="The private key that opens an encrypted backup (an age identity file or an OpenSSH "
    "private key); without it, one saved with `identity add` is used.",
)
@click.option(
    "--into",
    metavar="PROJECT/ENV/NAME",
    help="Restore into this other service of the same engine (on any server); the backup's "
    "own service is not touched.",
)
@with_app
async def backup_restore(app: Dflow, backup_id, yes, safety_backup, identity_file, into):
    """Replace the live database with a backup (destructive)."""
    backup = await app.backups.get(backup_id)
    target = into or backup.service_path
    _confirm(yes, f"Restore replaces the live database {target} with backup {backup_id}")
    identity = identity_file.read() if identity_file is not None else None
    result = await app.backups.restore(
        backup_id, safety_backup=safety_backup, identity=identity, into=into, on_progress=print_progress
    )
    if result.status != OperationStatus.SUCCEEDED:
        raise DflowError(f"Restore of backup {backup_id} failed: {result.error}")
    used = f" (from {result.restored_from})" if result.restored_from else ""
    click.echo(f"Restored backup {backup_id} into {target}{used}")


@backup.command("copy")
@click.argument("backup_id", type=int)
@click.option(
    "--to",
    "to",
    required=True,
    metavar="PROVIDER|internal",
    help="Where the copy goes: a verified storage provider, or `internal` (the server's disk).",
)
@click.option(
    "--identity",
    "identity_file",
    type=click.File("r"),
    help="The private key that opens an encrypted backup, when the copy is read from an "
    "encrypted place; without it, one saved with `identity add` is used.",
)
@with_app
async def backup_copy(app: Dflow, backup_id, to, identity_file):
    """Copy a backup that succeeded to one more place, or redo its copy there when that
    failed or is gone (the backup is no longer degraded then)."""
    identity = identity_file.read() if identity_file is not None else None
    made = await app.backups.copy(backup_id, to, identity=identity, on_progress=print_progress)
    assert made is not None  # waited for
    what = "Redid the copy of" if made.repaired else "Copied"
    click.echo(
        f"{what} backup {backup_id} to {made.destination}: {made.location} (read from {made.read_from})"
    )


@backup.command("delete")
@click.argument("backup_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: the dump is removed for good.")
@with_app
async def backup_delete(app: Dflow, backup_id, yes):
    """Remove a backup's dump (the file, or every version of the object), then its record."""
    target = await app.backups.get(backup_id)
    _confirm(yes, f"Delete removes backup {backup_id} of {target.service_path} for good")
    result = await app.backups.delete(backup_id, on_progress=print_progress)
    if result.status != OperationStatus.SUCCEEDED:
        raise DflowError(f"Delete of backup {backup_id} failed: {result.error}")
    click.echo(f"Deleted backup {backup_id}")


def _confirm(yes: bool, consequence: str) -> None:
    """A destructive command goes on with --yes, or once asked on a terminal; never silently."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise DflowError(f"{consequence}; add --yes to confirm")
    click.confirm(f"{consequence}. Go on?", default=False, abort=True, err=True)


@backup.command("show")
@click.argument("backup_id", type=int)
@json_option
@with_app
async def backup_show(app: Dflow, backup_id, as_json):
    """Everything recorded about one backup: where it is, its checksums, sizes and how it ended."""
    view = await app.backups.get(backup_id)
    if as_json:
        return print_json(view.to_json())
    stored = (
        f"{human_size(view.stored_size_bytes)} (sha256 {view.stored_sha256})"
        if view.stored_size_bytes is not None
        else None
    )
    fields = [
        ("Backup", view.id),
        ("Service", view.service_path),
        ("Type", view.type),
        ("Trigger", _trigger(view)),
        ("Status", view.status),
        ("Created (UTC)", _when(view.created_at) if view.created_at else None),
        ("Finished (UTC)", _when(view.finished_at) if view.finished_at else None),
        ("Requested by", view.requested_by),
        ("Location", view.location),
        ("Dump", f"{human_size(view.size_bytes)} (sha256 {view.sha256})" if view.sha256 else None),
        ("Stored", stored),
        ("Compression", view.compression),
        ("Encrypted for", ", ".join(view.encrypted_for) or None),
        ("Error", view.error),
        ("Job on it", f"{view.operation_kind} {view.operation_status}" if view.operation_kind else None),
    ]
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        if value not in (None, ""):
            click.echo(f"{label + ':':<{width + 1}} {value}")


def _copy_note(view) -> str:
    """Why a degraded backup's copies are missing (the primary's own error comes first)."""
    return "; ".join(
        f"copy to {c.destination} failed: {c.error}" for c in view.copies if c.status == "failed"
    )


def _trigger(view) -> str:
    if view.safety_for_backup is not None:
        return f"safety (restore of {view.safety_for_backup})"
    return f"{view.trigger} ({view.schedule_tier})" if view.schedule_tier else view.trigger


@backup.command("cancel")
@click.argument("backup_id", type=int)
@with_app
async def backup_cancel(app: Dflow, backup_id):
    """Stop the job running on a backup: the backup itself, or a restore before its
    import starts (a delete cannot be stopped once it removes)."""
    click.echo(await app.backups.cancel(backup_id))


if __name__ == "__main__":  # pragma: no cover
    main()
