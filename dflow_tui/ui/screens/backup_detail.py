"""One backup in full: when, where, and — for a failed one — why."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from dflow_tui.core.views import BackupView, CopyView, human_size
from dflow_tui.ui.format import FAILED, SUCCESS, timestamp, trigger_text


def copy_text(copy: CopyView) -> Text:
    """`succeeded · 1.2 MiB · s3://bucket/key`, then its sha256 or why it failed."""
    text = Text(copy.status, style="bold")
    if copy.stored_size is not None:
        text.append(f" · {human_size(copy.stored_size)}")
    if copy.location:
        text.append(f" · {copy.location}")
    if copy.sha256:
        text.append(f"\nSHA-256 {copy.sha256}")
    if copy.error:
        text.append(f"\n{copy.error}")
    return text


def detail_table(backup: BackupView) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("Service", Text(backup.service_path))
    table.add_row("Created (UTC)", timestamp(backup.created_at))
    table.add_row("Finished (UTC)", timestamp(backup.finished_at))
    table.add_row("Storage", Text(backup.places) if backup.copies else backup.type)
    trigger = trigger_text(backup)
    if backup.safety_for_backup is not None:
        trigger = f"safety, before the restore of backup {backup.safety_for_backup}"
    table.add_row("Trigger", trigger)
    table.add_row("Status", f"{backup.status}, degraded" if backup.degraded else backup.status)
    table.add_row("Size", human_size(backup.size_bytes))
    table.add_row("Requested by", Text(backup.requested_by or "—"))
    if backup.status == SUCCESS:
        # A failed backup leaves no dump behind: its planned path would mislead.
        table.add_row("Dump", Text(backup.location or "—"))
        table.add_row("SHA-256", backup.sha256 or "—")
    for copy in backup.copies:
        table.add_row(f"Copy in {copy.destination}", copy_text(copy))
    if backup.operation_kind:
        table.add_row(f"Last {backup.operation_kind}", backup.operation_status or "—")
        if backup.operation_error:
            table.add_row(f"{backup.operation_kind.capitalize()} error", Text(backup.operation_error))
    return table


class BackupDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("enter,e,q", "close", "Close", show=False),
    ]

    def __init__(self, backup: BackupView) -> None:
        super().__init__(id="backup-detail", classes="detail-screen")
        self.backup = backup

    def compose(self) -> ComposeResult:
        backup = self.backup
        with VerticalScroll(classes="dialog") as dialog:
            dialog.border_title = f"Backup {backup.id} · {backup.status}"
            yield Static(detail_table(backup), classes="detail-table")
            if backup.status == FAILED or backup.error:
                yield Static("Error", classes="detail-error-title")
                yield Static(Text(backup.error or "No error was recorded."), classes="detail-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
