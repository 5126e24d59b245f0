"""`dflow-tui --demo` in a real terminal (tmux): keys in, screen text out, as a person would."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid

import pytest
from infra.tools import find_program, missing

SERVICE = "demo/production/shop-db"


@pytest.fixture
def tmux():
    if find_program("tmux") is None:
        missing("tmux", "apt-get install tmux")
    session = f"dflow-{uuid.uuid4().hex[:8]}"
    command = f"{shlex.quote(sys.executable)} -m dflow_tui --demo"
    # COLUMNS/LINES (set by some test runners) would override the pane's real size.
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36", command], check=True, env=env
    )

    class Terminal:
        def keys(self, *keys: str) -> None:
            subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)

        def type(self, text: str) -> None:
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", text], check=True)

        def screen(self) -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout

        def wait_for(self, condition, what: str, timeout: float = 30) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                screen = self.screen()
                if condition(screen):
                    return screen
                time.sleep(0.2)
            raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{self.screen()}")

    yield Terminal()
    subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_demo_backup_and_restore_in_a_real_terminal(tmux):
    tmux.wait_for(lambda s: "shop-db" in s, "the service tree")
    tmux.keys("Down", "Down", "Down")  # past the project, the environment and billing-db
    tmux.wait_for(lambda s: SERVICE in s, "the shop-db service to open")

    tmux.keys("b")
    screen = tmux.wait_for(lambda s: "succeeded" in s, "the backup to succeed")
    assert "internal" in screen

    tmux.keys("r")
    tmux.wait_for(lambda s: "Type" in s and "to confirm" in s, "the restore dialog")
    tmux.type(SERVICE)
    tmux.keys("Enter")
    # The notice's title (short enough never to wrap), then the list refreshed after it:
    # the backup, and the safety backup taken first, both successful.
    tmux.wait_for(lambda s: "Restore done" in s, "the restore to finish")
    tmux.wait_for(
        lambda s: s.count("succeeded") >= 2 and "restoring" not in s, "the list to show both backups"
    )

    tmux.keys("q")
