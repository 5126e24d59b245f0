"""`?`: every key of the main screen, and the ones that work everywhere."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

EVERYWHERE: tuple[tuple[str, str], ...] = (
    ("↑ ↓", "Move in the tree or the table"),
    ("enter", "Open the service under the cursor / a backup's details"),
    ("tab", "Move between the tree, the forms and the table"),
    ("escape", "Close a dialog or go back"),
    ("ctrl+p", "Command palette: go to a service, open a screen, switch theme"),
)


def keys_table(keys: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 3))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, description in [*keys, *EVERYWHERE]:
        table.add_row(Text(key), Text(description))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(id="help", classes="detail-screen")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog") as dialog:
            dialog.border_title = "Keys"
            yield Static(keys_table(self.keys), classes="detail-table")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        # The list gets the focus, at its top: focusing Close (below it) would scroll the
        # first keys out of sight on a 24-line terminal. Tab reaches Close; Esc closes.
        self.query_one(VerticalScroll).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
