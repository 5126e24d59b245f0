"""Copies: one backup stored in three places against the slowest of those places alone (issue #17).

Target: a backup to internal + two providers takes <= 1.2x the time of the slowest single
destination alone. Every figure is a whole `dflow-tui backup create` process, fork to exit,
the median of a few runs (see RunPlan), all on the same random dump, on the data path's rig
(a directory of its own): OpenSSH sshd with the `dokku` stand-in, moto in its own process,
and the proxy capping each TCP connection at 16 MiB/s per direction; plus a second moto,
provider A's own, so that the two providers do not share one moto process.

- internal alone: the server writes the export to its backup dir (on this machine);
- provider A alone: `own-moto`, straight to its own moto;
- provider B alone: `capped`, through the proxy to the rig's moto, so that B is the slowest place;
- copies: primary B, copies internal and A (`destination set ... external --provider capped
  --copy internal --copy own-moto`): one export, the server tees it into its file while the
  stream comes here and fans out to A and B.

All with `--compression none` (random bytes do not shrink, and the figure is the fan-out,
not zstd). Before each run, untimed: an empty bucket on a new moto and an empty backup dir.
After the copies runs, every one is checked to have stored all three places (not degraded).
Then B with one copy each (internal, A), to show which copy costs what (not part of the target).
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks import processes, report
from benchmarks.dumps import Dump
from benchmarks.processes import Run, RunPlan
from benchmarks.report import MiB, Samples
from benchmarks.rig import Rig, backup_dir_of, start_rig
from benchmarks.s3_endpoint import S3Endpoint, start_s3
from benchmarks.workspace import Workspace

DIRECTORY = "copies"
SERVICE = "copies"
DUMP_SIZE = 256 * MiB
PROVIDER_A, PROVIDER_B = "own-moto", "capped"
TARGET = 1.2


def run(workspace: Workspace) -> None:
    plan = workspace.plan
    report.header(
        "Copies: one backup to internal + two providers vs the slowest single destination "
        "(OpenSSH sshd, moto S3 and the per-connection cap on 127.0.0.1)"
    )
    report.text(
        f"whole-process `dflow-tui backup create`, median (min-max) of {plan.runs} runs, fewer (n=) "
        f"once a figure has taken {plan.budget:.0f} s; MiB/s = dump size / median; --compression none"
    )
    report.text(
        "CPU = user + sys of the dflow-tui process alone (median; sshd, moto and the proxy not counted)"
    )
    dump = workspace.random_dump(DUMP_SIZE)
    with ExitStack() as stack:
        rig = start_rig(stack, workspace, [SERVICE], DIRECTORY)
        with report.step("a second moto for provider A"):
            moto_a = _provider_on_own_moto(stack, rig, workspace.directory(DIRECTORY) / "moto-a")
        rig.host.add_service(SERVICE, dump)
        measure(rig, moto_a, plan, workspace.directory(DIRECTORY), dump)


def _provider_on_own_moto(stack: ExitStack, rig: Rig, work: Path) -> S3Endpoint:
    """Provider A on a moto process of its own: two providers are two services, and one moto
    taking both streams would be a bottleneck that real providers do not share."""
    work.mkdir(parents=True, exist_ok=True)
    s3 = start_s3(stack, work)
    rig.cli.run(
        "storage",
        "add",
        PROVIDER_A,
        "--endpoint",
        s3.direct_url,
        "--region",
        s3.region,
        "--bucket",
        s3.bucket,
        "--prefix",
        Rig.provider_prefix(PROVIDER_A).rstrip("/"),
        "--access-key",
        s3.access_key_id,
        secret=s3.secret_access_key,
    )
    rig.cli.run("storage", "verify", PROVIDER_A)
    return s3


def measure(rig: Rig, moto_a: S3Endpoint, plan: RunPlan, work: Path, dump: Dump) -> None:
    began = time.perf_counter()
    path = rig.service_path(SERVICE)
    backup_dir = backup_dir_of(work)
    report.header(f" Backup of the {dump.label}")
    report.text(
        f"A = provider `{PROVIDER_A}` (a moto of its own, direct); B = provider `{PROVIDER_B}` "
        f"(the other moto, through the proxy: {rig.s3.cap_mib_per_second:.0f} MiB/s per connection)"
    )
    singles = {
        "internal alone (the server's disk)": ["internal"],
        "provider A alone": ["external", "--provider", PROVIDER_A],
        "provider B alone": ["external", "--provider", PROVIDER_B],
    }
    single: dict[str, Samples] = {}
    for label, where in singles.items():
        single[label], cpu = _backups(rig, moto_a, plan, backup_dir, path, where)
        report.line(label, single[label].cell(dump.size), cpu)
    copies_args = ["external", "--provider", PROVIDER_B, "--copy", "internal", "--copy", PROVIDER_A]
    made: list[str] = []
    copies, cpu = _backups(rig, moto_a, plan, backup_dir, path, copies_args, made)
    report.line("internal + A + B (copies)", copies.cell(dump.size), cpu)
    report.text(f"  (B primary: destination set {path} {' '.join(copies_args)} --compression none)")
    slowest_label = max(single, key=lambda label: single[label].median)
    slowest = single[slowest_label]
    report.line("slowest single destination", f"{slowest.median:6.2f} s", note=slowest_label)
    ratio = copies.median / slowest.median
    verdict = "MET" if ratio <= TARGET else "NOT MET"
    report.line("ratio copies / slowest single", f"{ratio:.2f}x", note=f"target <= {TARGET:.2f}: {verdict}")
    report.text(_stored_everywhere(rig, made))
    report.text("where the extra time goes (one copy each, B primary; not part of the target):")
    for label, copy in (("B + internal", "internal"), ("B + A", PROVIDER_A)):
        pair, cpu = _backups(
            rig, moto_a, plan, backup_dir, path, ["external", "--provider", PROVIDER_B, "--copy", copy]
        )
        report.line(
            label, pair.cell(dump.size), cpu, note=f"{pair.median / slowest.median:.2f}x the slowest single"
        )
    report.line("(this block took)", f"{time.perf_counter() - began:.0f} s")


def _backups(
    rig: Rig,
    moto_a: S3Endpoint,
    plan: RunPlan,
    backup_dir: Path,
    path: str,
    where: list[str],
    made: list[str] | None = None,
) -> tuple[Samples, str]:
    """`dflow-tui backup create` runs to `where`, each into an empty bucket on a new moto and
    an empty backup dir (untimed; both motos restarted); the ids go to `made`. Also the median CPU time (user + sys)
    of the dflow-tui process: this process's reaped children's rusage, taken around the run only."""
    cpu_seconds: list[float] = []
    rig.cli.run("destination", "set", path, *where, "--compression", "none")

    def before_each() -> None:
        rig.s3.fresh()
        moto_a.fresh()
        _empty(backup_dir)

    def once() -> Run:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = rig.cli.run("backup", "create", path)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if made is not None:
            made.append(done.stdout.split()[-1])
        return done

    samples = processes.timings(processes.repeat(plan, once, before_each), plan)
    return samples, f"CPU {statistics.median(cpu_seconds):5.2f} s"


def _empty(directory: Path) -> None:
    """Removes the files under `directory`, keeping its folders (the server made them)."""
    for item in sorted(directory.rglob("*"), reverse=True):
        if item.is_file() or item.is_symlink():
            item.unlink()


def _stored_everywhere(rig: Rig, ids: list[str]) -> str:
    """Whether each copies run stored all three places: succeeded, not degraded, every copy succeeded.
    (Only the last run's objects are still in the bucket; the records say how each run ended.)"""
    complete = 0
    problems: list[str] = []
    for backup_id in ids:
        shown = json.loads(rig.cli.run("backup", "show", backup_id, "--json").stdout)
        copy_states = [str(copy.get("status")) for copy in shown.get("copies") or []]
        if (
            shown.get("status") == "succeeded"
            and not shown.get("degraded")
            and len(copy_states) == 2
            and all(state == "succeeded" for state in copy_states)
        ):
            complete += 1
        else:
            problems.append(f"{backup_id}: {shown.get('status')}, copies {copy_states}, {shown.get('error')}")
    tail = f"; not: {' / '.join(problems)}" if problems else ""
    return (
        f"copies runs that stored all three places (succeeded, not degraded): {complete} of {len(ids)}{tail}"
    )
