"""Server output never carries escape sequences or control characters to a screen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dflow_tui.core.safe_text import printable


def test_escape_sequences_and_controls_are_removed_words_stay():
    hostile = (
        "\x1b]0;owned title\x07dumping \x1b[31mred\x1b[0m table\x1b[2J\x1b[H\r\n"
        "tab\tstays\x00\x08\x7f\x9b[1m ok"
    )
    assert printable(hostile) == "dumping red table\ntab\tstays[1m ok"


@given(st.text())
def test_nothing_a_terminal_obeys_survives(text):
    cleaned = printable(text)
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in cleaned)
    assert not any(0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert printable(cleaned) == cleaned
