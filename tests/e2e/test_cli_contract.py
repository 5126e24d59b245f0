"""The CLI's contract as a script sees it: -h/--help everywhere, exit 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def dflow(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DFLOW_TUI_DATA_DIR": str(tmp_path / "data"), "DFLOW_TUI_DB": ""}
    return subprocess.run(
        [sys.executable, "-m", "dflow_tui", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args", [("-h",), ("backup", "-h"), ("backup", "create", "-h"), ("server", "add", "--help")]
)
def test_help_with_h_or_help(args, tmp_path):
    done = dflow(*args, tmp_path=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: ")


def test_a_usage_error_exits_2_and_a_failure_1(tmp_path):
    usage = dflow("backup", "create", tmp_path=tmp_path)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr
    failure = dflow("backup", "create", "nope/production/db", tmp_path=tmp_path)
    assert failure.returncode == 1
    assert failure.stderr.splitlines() == [
        "Error: No project named 'nope' (add it with `dflow-tui project add nope`)"
    ]


def test_the_acting_user_is_the_os_account_not_logname(tmp_path):
    import pwd

    account = pwd.getpwuid(os.geteuid()).pw_name
    env = {**os.environ, "DFLOW_TUI_DATA_DIR": str(tmp_path / "data"), "DFLOW_TUI_DB": ""}
    env |= {"LOGNAME": "mallory", "USER": "mallory", "LNAME": "mallory", "USERNAME": "mallory"}
    done = subprocess.run(
        [sys.executable, "-m", "dflow_tui", "user", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [u["login"] for u in json.loads(done.stdout)] == [account]


def _commands(command, path):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_every_command_and_option_says_what_it_is_for():
    import click

    from dflow_tui.cli import main

    silent = [
        " ".join(path) + (f" {param.opts[0]}" if param else "")
        for path, command in _commands(main, ["dflow-tui"])
        for param in [None, *command.params]
        if (param is None and not (command.help or command.short_help))
        or (isinstance(param, click.Option) and not param.help and "--help" not in param.opts)
    ]
    assert silent == []


@pytest.mark.parametrize("args", [("--help",), ("backup", "list"), ("server", "list", "--json")])
def test_commands_that_need_no_terminal_ui_ssh_or_s3_do_not_load_them(args, tmp_path):
    """Start-up time: Textual, asyncssh and the S3 libraries load only when they are used."""
    env = {**os.environ, "DFLOW_TUI_DATA_DIR": str(tmp_path / "data"), "DFLOW_TUI_DB": ""}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dflow_tui", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert loaded & {"textual", "asyncssh", "aiobotocore", "botocore"} == set()
    assert "sqlalchemy" in loaded or args == ("--help",)  # the check does see real imports
