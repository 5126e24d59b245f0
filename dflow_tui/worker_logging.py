"""Logs of the headless worker: one line per event on stderr, journald-friendly.

Under systemd (JOURNAL_STREAM set) each line starts with its syslog priority
(`<3>` error … `<7>` debug) and no timestamp, which journald adds itself.
"""

from __future__ import annotations

import logging
import os
import sys

PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("dflow_tui")
    root.handlers[:] = [handler]
    root.setLevel(level)
