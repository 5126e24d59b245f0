"""The application API: every action of the TUI, the CLI and the worker goes through here."""

from dflow_tui.jobs.runner import ClaimedJob, JobOutcome
from dflow_tui.jobs.worker import JobWatcher
from dflow_tui.service.api import Dflow

__all__ = ["ClaimedJob", "Dflow", "JobOutcome", "JobWatcher"]
