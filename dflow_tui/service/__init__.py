"""The application API: every action of the TUI, the CLI and the worker goes through here."""

from dflow_tui.service.api import Dflow

__all__ = ["Dflow"]
