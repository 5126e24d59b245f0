"""A checkbox and a radio button whose state shows without colour.

Textual draws a ticked and an unticked box with the same glyph (`▐X▌`, `▐●▌`) and tells them
apart by colour only, which a monochrome terminal or NO_COLOR loses. These draw the glyph
only when the box is on, and a blank when it is off.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton

OFF = " "


class Tick(Checkbox):
    def render(self) -> Content:
        self.BUTTON_INNER = Checkbox.BUTTON_INNER if self.value else OFF
        return super().render()


class Choice(RadioButton):
    def render(self) -> Content:
        self.BUTTON_INNER = RadioButton.BUTTON_INNER if self.value else OFF
        return super().render()
