"""Data path: dflow-tui's external backup and restore against the cron one-liner, side by side.

Every figure is a whole process, fork to exit, the median of a few runs (see RunPlan):
the peer (`ssh ... export | aws s3 cp -`), each of its legs alone, and `dflow-tui backup
create` / `backup restore`, each straight to moto ("direct") and through the proxy that caps
every TCP connection at 16 MiB/s per direction ("capped", how one S3/B2 stream behaves).
Then the peak RSS of the whole `dflow-tui backup create` process at 256 MiB and 2 GiB.

To keep the section within minutes, the restore and the SQL-text dump run on the capped
link only: a restore pulls from a remote bucket, and compression pays where bytes are scarce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial

from benchmarks import peers, processes, report
from benchmarks.dflow_variants import PLAIN, SQL_VARIANTS, VARIANTS, Variant
from benchmarks.dumps import Dump
from benchmarks.processes import Run, RunPlan
from benchmarks.report import MiB, Samples
from benchmarks.rig import LINKS, Rig, start_rig
from benchmarks.workspace import Workspace
from dflow_tui.settings import DEFAULT_PARALLEL

RANDOM, SQL, RSS_SMALL, RSS_LARGE = "random", "sqltext", "rss-small", "rss-large"
RSS_SIZES = {RSS_SMALL: 256 * MiB, RSS_LARGE: 2048 * MiB}
CAPPED_ONLY = ("capped",)
UNAVAILABLE = "not available yet"
BACKUP_TARGET = "target <= 1.00 direct, <= 0.90 capped"


def run(workspace: Workspace) -> None:
    plan = workspace.plan
    report.header(
        "Data path: external backup and restore (OpenSSH sshd, moto S3 and the per-connection cap on 127.0.0.1)"
    )
    report.text(
        f"whole-process wall time, median (min-max) of {plan.runs} runs, fewer (n=) once a figure "
        f"has taken {plan.budget:.0f} s; MiB/s = dump size / median"
    )
    random_dump, sql_dump = workspace.random_dump(), workspace.sql_dump()
    with ExitStack() as stack:
        rig = start_rig(stack, workspace, [RANDOM, SQL, *RSS_SIZES])
        report.text(f"installed CLI: {rig.features.describe()}")
        blocks: list[tuple[str, Callable[[], None]]] = [
            ("peak RSS", lambda: rss_block(rig, workspace)),
            (
                "random-dump backup",
                lambda: backup_block(rig, RANDOM, random_dump, plan, VARIANTS, links=LINKS, with_legs=True),
            ),
            ("restore", lambda: restore_block(rig, RANDOM, random_dump, plan, links=CAPPED_ONLY)),
            (
                "SQL-text backup",
                lambda: backup_block(
                    rig, SQL, sql_dump, plan, SQL_VARIANTS, links=CAPPED_ONLY, with_legs=False
                ),
            ),
        ]
        failed = []
        for name, block in blocks:
            try:
                block()
            except Exception as error:  # one block's failure leaves the others' figures standing
                report.text(f"block {name} FAILED: {str(error).splitlines()[-1] if str(error) else error!r}")
                _moto_complaint(workspace)
                failed.append(name)
        if failed:
            raise RuntimeError(f"data path blocks failed: {', '.join(failed)}")


def _moto_complaint(workspace: Workspace) -> None:
    """The last exception moto logged (its 500s say nothing more on the wire)."""
    log = workspace.directory("data-path") / "moto.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    starts = [n for n, line in enumerate(lines) if line.startswith("Traceback")]
    if starts:
        tail = [line for line in lines[starts[-1] :] if line and not line.startswith("127.0.0.1 - -")]
        report.text("moto's last exception: " + " / ".join(line.strip() for line in tail[-3:]))


def _columns(rig: Rig, links: Sequence[str]) -> None:
    names = {"direct": "direct", "capped": f"capped ({rig.s3.cap_mib_per_second:.0f} MiB/s per connection)"}
    report.columns(*(names[link] for link in links))


def _block_time(began: float) -> None:
    report.line("(this block took)", f"{time.perf_counter() - began:.0f} s")


def backup_block(
    rig: Rig,
    service: str,
    dump: Dump,
    plan: RunPlan,
    variants: Sequence[Variant],
    *,
    links: Sequence[str],
    with_legs: bool,
) -> None:
    began = time.perf_counter()
    rig.host.add_service(service, dump)
    report.header(f" Backup of the {dump.label}")
    _columns(rig, links)
    slower_leg: dict[str, Samples] = {}
    if with_legs:
        ssh_argv = peers.ssh_export(rig, service)
        ssh = processes.timings(
            processes.repeat(plan, lambda: processes.run_measured(ssh_argv, rig.aws_env, keep_stdout=False)),
            plan,
        )
        report.line(
            "SSH leg alone (ssh export > /dev/null)",
            ssh.cell(dump.size),
            *(["(the same: no proxy on SSH)"] if len(links) > 1 else []),
        )
        upload = {
            link: _aws_runs(rig, plan, peers.upload_file(rig, link, str(dump.path), "legs/dump"))
            for link in links
        }
        report.line("upload leg alone (aws s3 cp FILE)", *(upload[link].cell(dump.size) for link in links))
        slower_leg = {link: report.slowest(ssh, upload[link]) for link in links}

    peer_key = f"peer/{service}"
    peer = {link: _aws_runs(rig, plan, peers.backup(rig, link, service, peer_key)) for link in links}
    report.line("peer backup (ssh export | aws s3 cp -)", *(peer[link].cell(dump.size) for link in links))

    measured: dict[str, dict[str, Samples]] = {}
    for variant in variants:
        label = f"dflow-tui backup create [{variant.name}]"
        if not variant.available(rig.features):
            report.line(label, UNAVAILABLE)
            continue
        measured[variant.name] = {link: _dflow_backups(rig, plan, service, variant, link) for link in links}
        report.line(label, *(measured[variant.name][link].cell(dump.size) for link in links))
    for name, by_link in measured.items():
        report.line(
            f"ratio dflow[{name}] / peer",
            *(report.ratio(by_link[link], peer[link]) for link in links),
            note=BACKUP_TARGET,
        )
        if slower_leg:
            report.line(
                f"ratio dflow[{name}] / slower leg",
                *(report.ratio(by_link[link], slower_leg[link]) for link in links),
                note="target <= 1.15",
            )
    _block_time(began)


def _aws_runs(rig: Rig, plan: RunPlan, argv: list[str]) -> Samples:
    """Runs of a peer command, each into an empty bucket on a new moto (untimed)."""
    runs = processes.repeat(plan, lambda: processes.run_measured(argv, rig.aws_env), rig.s3.fresh)
    return processes.timings(runs, plan)


def _dflow_backups(rig: Rig, plan: RunPlan, service: str, variant: Variant, link: str) -> Samples:
    """`dflow-tui backup create` runs, each into an empty bucket on a new moto (untimed)."""
    path = rig.service_path(service)
    rig.cli.run(*variant.destination_args(path, link, rig.features))
    provider = variant.provider(link)
    if variant.parallel is not None:
        rig.cli.run("storage", "edit", provider, "--parallel", str(variant.parallel))
    try:
        runs = processes.repeat(plan, lambda: rig.cli.run("backup", "create", path), rig.s3.fresh)
    finally:
        if variant.parallel is not None:
            rig.cli.run("storage", "edit", provider, "--parallel", str(DEFAULT_PARALLEL))
    return processes.timings(runs, plan)


def restore_block(rig: Rig, service: str, dump: Dump, plan: RunPlan, *, links: Sequence[str]) -> None:
    """Both sides must import exactly the dump: its sha256 is checked after every run (untimed).
    What they restore is made first, untimed, on a new moto: the peer's object (aws s3 cp) and
    one dflow-tui backup per restorable variant and link."""
    began = time.perf_counter()
    rig.s3.fresh()
    rig.host.add_service(service, dump)
    peer_key = f"peer/{service}"
    processes.run_measured(peers.upload_file(rig, "direct", str(dump.path), peer_key), rig.aws_env)
    sources: dict[tuple[str, str], str] = {}
    for variant in (v for v in VARIANTS if v.restorable and v.available(rig.features)):
        for link in links:
            rig.cli.run(*variant.destination_args(rig.service_path(service), link, rig.features))
            made = rig.cli.run("backup", "create", rig.service_path(service))
            sources[(variant.name, link)] = made.stdout.split()[-1]
    report.header(
        f" Restore of the {dump.label} into the stand-in import (reads it to the end, records its sha256)"
    )
    _columns(rig, links)
    verdicts: dict[str, list[bool]] = {}

    def restores(who: str, command: Callable[[], Run]) -> Samples:
        def once() -> Run:
            rig.host.forget_import(service)
            done = command()
            verdicts.setdefault(who, []).append(rig.host.imported_sha256(service) == dump.sha256)
            return done

        return processes.timings(processes.repeat(plan, once), plan)

    peer = {}
    for link in links:
        argv = peers.restore(rig, link, peer_key, service)
        peer[link] = restores("peer", partial(processes.run_measured, argv, rig.aws_env))
    report.line("peer restore (aws s3 cp - | ssh import)", *(peer[link].cell(dump.size) for link in links))
    for variant in (v for v in VARIANTS if v.restorable):
        label = f"dflow-tui backup restore [{variant.name}]"
        ids = {link: sources.get((variant.name, link)) for link in links}
        if not all(ids.values()):
            report.line(label, UNAVAILABLE)
            continue
        dflow = {}
        for link, backup_id in ids.items():
            args = ("backup", "restore", str(backup_id), "--yes", "--no-safety-backup")
            dflow[link] = restores(f"dflow[{variant.name}]", partial(rig.cli.run, *args))
        report.line(label, *(dflow[link].cell(dump.size) for link in links))
        report.line(
            f"ratio dflow[{variant.name}] / peer",
            *(report.ratio(dflow[link], peer[link]) for link in links),
            note="target <= 1.00",
        )
    for who, results in verdicts.items():
        report.text(f"{who}: imported the dump's exact sha256 in {sum(results)} of {len(results)} restores")
    _block_time(began)


def rss_block(rig: Rig, workspace: Workspace) -> None:
    """One run each: the peak hardly moves between runs, and the 2 GiB run is the longest of all."""
    began = time.perf_counter()
    report.header(
        " Peak RSS of the whole `dflow-tui backup create` process (ru_maxrss from wait4, "
        "via peak_rss.py; direct, plain, one run each)"
    )
    report.text("these dumps repeat one 64 MiB random block: fine for memory, where only the size matters")
    peaks: dict[str, int] = {}
    for service, size in RSS_SIZES.items():
        rig.s3.fresh()
        dump = workspace.repeated_block_dump(size)
        rig.host.add_service(service, dump)
        path = rig.service_path(service)
        rig.cli.run(*PLAIN.destination_args(path, "direct", rig.features))
        done = rig.cli.run("backup", "create", path, peak_rss=True)
        peaks[service] = done.max_rss_bytes or 0
        report.line(
            f"{report.size_text(size)} dump",
            f"peak RSS {peaks[service] / MiB:6.1f} MiB",
            f"{done.seconds:6.2f} s {size / MiB / done.seconds:6.1f} MiB/s",
            note="target <= 128 MiB",
        )
    sizes = f"{report.size_text(RSS_SIZES[RSS_LARGE])} / {report.size_text(RSS_SIZES[RSS_SMALL])}"
    report.line(
        f"ratio peak RSS {sizes}",
        f"{peaks[RSS_LARGE] / peaks[RSS_SMALL]:.2f}",
        note="target <= 1.10 (1.00 = flat)",
    )
    _block_time(began)
