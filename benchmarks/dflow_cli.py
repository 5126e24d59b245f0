"""dflow-tui driven through its own CLI, as a sysadmin would, in a throwaway state dir.

Every call is a real `dflow-tui` process of this venv. What a user would otherwise take
from their home (state database, known_hosts, keyring, aws config) points into the run's
temp dir instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import processes
from benchmarks.processes import Run

# The benchmark's own throwaway choice, not a recommendation: the secret `storage add` stores
# must be readable by every later `dflow-tui` process, so the keyring is keyrings.alt's
# PlaintextKeyring (installed in .venv-bench only), writing a file under XDG_DATA_HOME inside
# the run's temp dir, which is removed at the end. No user keyring is ever touched.
KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"


def venv_tool(name: str) -> Path:
    """A console script of the venv running the benchmark (dflow-tui, aws)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed in {path.parent.parent}: run `make benchmark`")
    return path


@dataclass(frozen=True)
class Features:
    """CLI options that later versions add; their variants run only when the CLI has them."""

    compression: bool  # `destination set --compression auto|zstd|none`
    encryption: bool  # `storage encrypt NAME --recipient KEY`

    def describe(self) -> str:
        def state(present: bool) -> str:
            return "available" if present else "not available yet"

        return (
            f"destination set --compression: {state(self.compression)}; "
            f"storage encrypt: {state(self.encryption)}"
        )


class DflowCli:
    def __init__(self, root: Path, known_hosts: Path | None = None) -> None:
        state = root / "state"
        env = {
            **os.environ,
            "DFLOW_TUI_DATA_DIR": str(state),
            "DFLOW_TUI_DB": f"sqlite+aiosqlite:///{state / 'state.db'}",
            "PYTHON_KEYRING_BACKEND": KEYRING_BACKEND,
            "XDG_DATA_HOME": str(root / "xdg-data"),
            "XDG_CONFIG_HOME": str(root / "xdg-config"),
        }
        if known_hosts is not None:
            env["DFLOW_TUI_KNOWN_HOSTS"] = str(known_hosts)
        self.env = env
        self.program = venv_tool("dflow-tui")

    def argv(self, *args: str) -> list[str]:
        return [str(self.program), *args]

    def run(self, *args: str, secret: str | None = None, peak_rss: bool = False) -> Run:
        """One `dflow-tui ARGS` process (a secret goes on stdin, never in argv)."""
        stdin = None if secret is None else f"{secret}\n".encode()
        return processes.run_measured(self.argv(*args), self.env, input_bytes=stdin, peak_rss=peak_rss)

    def features(self) -> Features:
        destination_help = self.run("destination", "set", "--help").stdout
        storage_help = self.run("storage", "--help").stdout
        return Features(
            compression="--compression" in destination_help,
            encryption=any(line.split()[:1] == ["encrypt"] for line in storage_help.splitlines()),
        )
