"""Text from a server or a provider, made safe to show: no escape sequence or control
character reaches a terminal, the TUI, the state database or a log (a hostile server
could otherwise retitle the terminal, clear the screen, or hide what it printed)."""

from __future__ import annotations

import re

# CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and the other two-character escapes.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0 controls but tab and newline, DEL, and the C1 controls (which some terminals obey).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without escape sequences and control characters (tab and newline stay)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))
