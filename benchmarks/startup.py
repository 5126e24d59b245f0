"""CLI start: how long a cron line or a shell user waits before dflow-tui does anything.

Whole-process wall times of `dflow-tui --help` (imports and argument parsing) and
`dflow-tui backup list` (plus opening the state database and one query), on a state
prepared through the CLI (a server, a project, an environment, a service). `aws --version`
is the reference: another Python CLI of the same kind. One untimed run of each first, so
that every figure is a warm start (bytecode compiled, files in the page cache).
"""

from __future__ import annotations

from functools import partial

from benchmarks import processes, report
from benchmarks.dflow_cli import DflowCli, venv_tool
from benchmarks.processes import RunPlan
from benchmarks.workspace import Workspace

TARGET = "target <= 0.35 s"


def run(workspace: Workspace) -> None:
    plan = RunPlan(runs=max(5, workspace.plan.runs), budget=workspace.plan.budget)
    report.header(f"CLI start (whole-process wall time, warm, median (min-max) of {plan.runs} runs)")
    cli = DflowCli(workspace.directory("startup"))
    with report.step("state prepared through the CLI"):
        cli.run("server", "add", "here", "--local")
        cli.run("project", "add", "shop", "--server", "here")
        cli.run("env", "add", "shop", "production")
        cli.run("service", "add", "shop/production/shop-db", "--engine", "postgres")
    aws_version = [str(venv_tool("aws")), "--version"]
    commands = {
        "dflow-tui --help": (cli.argv("--help"), TARGET),
        "dflow-tui backup list": (cli.argv("backup", "list"), TARGET),
        "aws --version (reference)": (aws_version, ""),
    }
    for label, (argv, note) in commands.items():
        processes.run_measured(argv, cli.env)  # warm-up, untimed
        samples = processes.timings(
            processes.repeat(plan, partial(processes.run_measured, argv, cli.env)), plan
        )
        report.line(label, samples.seconds_text(), note=note)
