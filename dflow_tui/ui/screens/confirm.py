"""Keyboard-driven confirmations for destructive actions (after posting's ConfirmationModal).

`y` confirms, `n` or Escape cancels; the Cancel button has the focus at first, so
an absent-minded Enter never destroys anything.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Select, Static

from dflow_tui.core.enums import BackupType
from dflow_tui.core.views import BackupView
from dflow_tui.ui.format import backup_title
from dflow_tui.ui.widgets.toggles import Tick


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (confirmed) or False (cancelled)."""

    BINDINGS = [
        Binding("y", "confirm", "Confirm"),
        Binding("n", "cancel", "Cancel"),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("left,right", "move_focus", "Move", show=False),
    ]

    def __init__(
        self,
        title: str,
        message: str | Text,
        *,
        confirm_label: str = "Yes",
        cancel_label: str = "Cancel",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="confirm-screen")
        self.title_text = title
        self.message = message if isinstance(message, Text) else Text(message)
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.message, classes="dialog-message")
            yield from self.compose_options()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} \\[y]", id="confirm", variant="error", compact=True)
                yield Button(f"{self.cancel_label} \\[n]", id="cancel", variant="default", compact=True)
        yield Footer()

    def compose_options(self) -> ComposeResult:
        """Extra controls between the message and the buttons."""
        return iter(())

    def on_mount(self) -> None:
        self.prepare()

    def prepare(self) -> None:
        """Sets the first focus (Cancel); a subclass may set up more."""
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self) -> None:
        self.action_confirm()  # a subclass may refuse (see RestoreConfirmScreen)

    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_move_focus(self) -> None:
        self.focus_next()


class RestoreConfirmScreen(ConfirmScreen):
    """Restore replaces the live database: say so, offer a safety backup first (on by
    default), and make the user type the service's path before Restore is possible.

    The typing field has the focus, so `y` and `n` are just letters here: Enter (or
    the Restore button) confirms once the path matches; Escape cancels.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left,right", "move_focus", "Move", show=False),
    ]

    def __init__(self, backup: BackupView, server: str | None = None) -> None:
        message = Text()
        message.append("Replace the live database ")
        message.append(backup.service_path, style="bold")
        message.append(f" with {backup_title(backup)} (backup {backup.id})?\n")
        message.append("Its current data is overwritten. This cannot be undone.", style="bold")
        super().__init__("Restore backup", message, confirm_label="Restore", id="restore-confirm")
        self.backup = backup
        self.safety_backup = True

    @property
    def expected(self) -> str:
        return self.backup.service_path

    def compose_options(self) -> ComposeResult:
        yield Tick("Take a safety backup of the live database first", value=True, id="safety-backup")
        prompt = Text("Type ")
        prompt.append(self.expected, style="bold")
        prompt.append(" to confirm:")
        yield Static(prompt, classes="type-to-confirm")
        yield Input(placeholder=self.expected, id="confirm-name", compact=True)

    def prepare(self) -> None:
        confirm = self.query_one("#confirm", Button)
        confirm.label = self.confirm_label
        confirm.disabled = True
        self.query_one("#cancel", Button).label = f"{self.cancel_label} \\[esc]"
        self.query_one("#confirm-name", Input).focus()

    @property
    def matches(self) -> bool:
        return self.query_one("#confirm-name", Input).value.strip() == self.expected

    @on(Input.Changed, "#confirm-name")
    def _typed(self) -> None:
        self.query_one("#confirm", Button).disabled = not self.matches

    @on(Input.Submitted, "#confirm-name")
    def _submitted(self) -> None:
        if self.matches:
            self.dismiss(True)
        else:
            self.notify(f"Type {self.expected} exactly to restore.", severity="warning", markup=False)

    def action_confirm(self) -> None:
        if self.matches:
            self.dismiss(True)

    @on(Checkbox.Changed, "#safety-backup")
    def _safety_changed(self, event: Checkbox.Changed) -> None:
        self.safety_backup = event.value


class RestoreIntoScreen(RestoreConfirmScreen):
    """Restore into another service of the same engine (`R`): pick the target, then type
    its path; the backup's own service is not touched."""

    def __init__(self, backup: BackupView, targets: list[str]) -> None:
        super().__init__(backup)
        self.title_text = "Restore into another service"
        self.targets = targets
        self.target = targets[0]
        self.message = self._message()

    def _message(self) -> Text:
        message = Text()
        message.append(f"Restore {backup_title(self.backup)} (backup {self.backup.id}) of ")
        message.append(self.backup.service_path, style="bold")
        message.append(" into the live database ")
        message.append(self.target, style="bold")
        message.append(f"?\n{self.backup.service_path} is not touched; ")
        message.append(f"the data of {self.target} is overwritten.", style="bold")
        return message

    @property
    def expected(self) -> str:
        return self.target

    def compose_options(self) -> ComposeResult:
        yield Select(
            [(target, target) for target in self.targets],
            value=self.target,
            allow_blank=False,
            compact=True,
            id="restore-target",
        )
        yield from super().compose_options()

    def prepare(self) -> None:
        super().prepare()
        self.query_one("#restore-target", Select).focus()

    @on(Select.Changed, "#restore-target")
    def _target_changed(self, event: Select.Changed) -> None:
        self.target = str(event.value)
        self.query_one(".dialog-message", Static).update(self._message())
        prompt = Text("Type ")
        prompt.append(self.target, style="bold")
        prompt.append(" to confirm:")
        self.query_one(".type-to-confirm", Static).update(prompt)
        typed = self.query_one("#confirm-name", Input)
        typed.placeholder, typed.value = self.target, ""
        self.query_one("#confirm", Button).disabled = True


class DeleteConfirmScreen(ConfirmScreen):
    def __init__(self, backup: BackupView, server: str | None = None) -> None:
        message = Text()
        message.append("Delete ")
        message.append(backup_title(backup), style="bold")
        message.append(f" (backup {backup.id}) of ")
        message.append(backup.service_path, style="bold")
        message.append("?\n")
        if backup.type == BackupType.EXTERNAL:
            message.append("Every version of its object is removed from the storage bucket.")
        elif server:
            message.append(f"Its dump file is removed from server {server}.")
        else:
            message.append("Its dump file is removed from the server.")
        message.append(" This cannot be undone.", style="bold")
        super().__init__("Delete backup", message, confirm_label="Delete", id="delete-confirm")
        self.backup = backup
