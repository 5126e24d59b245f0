"""The "Copies" form of the destination card: more places each backup is also stored in,
from the same export (3-2-1).

One tick per place — the server's disk, then each verified provider — leaving out the
place the primary goes to. A view only: it dismisses with the ticked places in the order
shown (restores read the server's disk first, then the primary, then the copies in this
order), or None when cancelled; the card keeps them as its draft until saved.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Static

from dflow_tui.ui.format import INTERNAL
from dflow_tui.ui.widgets.toggles import Tick

TITLE = "Copies"
HINT = "Tick the places each backup is also stored in, from the same export; none ticked: one place."


def place_label(place: str) -> Text:
    if place == INTERNAL:
        text = Text("internal", style="bold")
        text.append("  the server's disk: restores read it first", style="dim")
        return text
    return Text(place, style="bold")


class CopiesScreen(ModalScreen[tuple[str, ...] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "done", "Done"),
    ]

    def __init__(self, service_path: str, primary: str, places: list[str], chosen: tuple[str, ...]) -> None:
        """`primary`: where the primary goes (`internal` or a provider), left out of `places`."""
        super().__init__(id="copies-form", classes="detail-screen")
        self.service_path = service_path
        self.places = [place for place in places if place != primary]
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = f"{TITLE} · {self.service_path}"
            yield Static(HINT, classes="dialog-message")
            for n, place in enumerate(self.places):
                yield Tick(
                    place_label(place), value=place in self.chosen, id=f"copy-{n}", classes="tier-checkbox"
                )
            if not self.places:
                yield Static("No other place: add and verify a provider first.", classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Done", id="done-copies", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        first = self.query(Checkbox).first() if self.places else self.query_one("#done-copies", Button)
        first.focus()

    @property
    def ticked(self) -> tuple[str, ...]:
        return tuple(
            place for n, place in enumerate(self.places) if self.query_one(f"#copy-{n}", Checkbox).value
        )

    @on(Button.Pressed, "#done-copies")
    def action_done(self) -> None:
        self.dismiss(self.ticked)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
