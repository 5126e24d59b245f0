"""Copies in the app: the "Copies" form of the destination card (more places each backup
is also stored in, from the same export: 3-2-1), and the place one more copy of a backup
goes (`y`, `backup copy`).

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
from textual.widgets import Button, Checkbox, Footer, OptionList, Static
from textual.widgets.option_list import Option

from dflow_tui.core.views import BackupView
from dflow_tui.ui.format import INTERNAL, SUCCESS
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


def copy_places(backup: BackupView, verified: list[str]) -> list[tuple[str, str]]:
    """Where `backup copy` may put one more copy of `backup`: (place, what it does), the
    server's disk and each verified provider, leaving out its primary's place and the
    places that keep a copy of it already; a copy that failed or was removed is redone."""
    primary = backup.destination or backup.type
    copies = {copy.destination: copy for copy in backup.copies}
    found: list[tuple[str, str]] = []
    for place in [INTERNAL, *verified]:
        copy = copies.get(place)
        if place == primary or (copy is not None and copy.status == SUCCESS):
            continue
        found.append((place, "redo its copy there" if copy is not None else "one more copy"))
    return found


class CopyToScreen(ModalScreen[str | None]):
    """`y` on a backup: the place one more copy of it goes (or where its missing copy is
    redone). Dismissed with the place, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, backup: BackupView, places: list[tuple[str, str]]) -> None:
        super().__init__(id="copy-to", classes="detail-screen")
        self.backup = backup
        self.places = places

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = f"Copy backup {self.backup.id} · {self.backup.service_path}"
            yield Static(
                "Read from its first healthy place, written with the destination's own layers.",
                classes="dialog-message",
            )
            options = []
            for place, doing in self.places:
                label = place_label(place)
                label.append(f"  {doing}", style="dim")
                options.append(Option(label, id=place))
            yield OptionList(*options, id="copy-places")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#copy-places")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
