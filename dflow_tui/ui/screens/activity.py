"""Activity: the audit log — who did what, on what, when, and how it ended.

A full screen over the main one (`a` opens it, Escape goes back). `f` narrows it
to the service shown on the main screen and back; `f5` reloads. Denied attempts
are listed too, with the reason the service layer gave.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker

from dflow_tui.core.views import AuditView
from dflow_tui.service.access import AuditLog
from dflow_tui.ui.errors import notify_worker_error
from dflow_tui.ui.format import NO_VALUE, Palette, shorten, timestamp

ACTIVITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("at", "When (UTC)"),
    ("actor", "Who"),
    ("action", "Action"),
    ("result", "Result"),
    ("on", "On"),
    ("detail", "Detail"),
)
DETAIL_WIDTH = 60
NO_ENTRIES = "Nothing recorded yet."


def audit_target(entry: AuditView, *, scoped: bool = False) -> str:
    """What the entry acted on; `scoped`: the screen shows one service, named above the table."""
    parts = [part for part in (None if scoped else entry.service_path, entry.target) if part]
    return " · ".join(parts) if parts else NO_VALUE


def result_text(result: str, palette: Palette) -> Text:
    colour = {
        "succeeded": palette.success,
        "failed": palette.error,
        "refused": palette.warning,
        "cancelled": palette.muted,
    }.get(result, palette.muted)
    return Text(result, style=Style(color=colour, bold=True))


class ActivityScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "toggle_filter", "This service / all"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, audit: AuditLog, service: str | None = None) -> None:
        super().__init__(id="activity-screen")
        self.audit = audit
        self.service = service
        self.only_service = service is not None
        self.entries: list[AuditView] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="activity-body"):
            yield Static(id="activity-scope")
            yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="activity-detail")
        yield Footer()

    @property
    def table(self) -> DataTable:
        return self.query_one("#activity-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "Activity"
        for key, label in ACTIVITY_COLUMNS:
            self.table.add_column(label, key=key)
        self.table.focus()
        self.action_reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_filter" and self.service is None:
            return None
        return True

    def action_reload(self) -> None:
        self._show_scope()
        service = self.service if self.only_service else None
        self.run_worker(
            self._load(service),
            name="activity",
            group="activity",
            exclusive=True,
            description="Loading the activity",
            exit_on_error=False,
        )

    def action_toggle_filter(self) -> None:
        if self.service is not None:
            self.only_service = not self.only_service
            self.action_reload()

    def action_back(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)

    def _show_scope(self) -> None:
        if self.only_service and self.service:
            scope = Text.assemble("Activity of ", (self.service, "bold"), "  (f: everything)")
        elif self.service:
            scope = Text.assemble("All activity", "  (f: only ", (self.service, "bold"), ")")
        else:
            scope = Text("All activity")
        self.query_one("#activity-scope", Static).update(scope)

    async def _load(self, service: str | None) -> None:
        entries = await self.audit.list(service=service)
        self.entries = entries
        palette = Palette.from_theme_variables(self.app.theme_variables)
        table = self.table
        with self.app.batch_update():
            table.clear()
            for entry in entries:
                table.add_row(
                    Text(timestamp(entry.at)),
                    Text(entry.actor),
                    Text(entry.action),
                    result_text(entry.result, palette),
                    Text(audit_target(entry, scoped=service is not None)),
                    Text(shorten(entry.detail or NO_VALUE, DETAIL_WIDTH)),
                    key=str(entry.id),
                )
        self.query_one("#activity-detail", Static).update(NO_ENTRIES if not entries else "")
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted entry's detail in full (the table shows its start)."""
        if not self.entries or not self.table.row_count:
            return
        row = min(max(self.table.cursor_row, 0), len(self.entries) - 1)
        entry = self.entries[row]
        text = Text.assemble((f"{entry.action} · {entry.result}", "bold"), ": ")
        text.append(entry.detail or NO_VALUE)
        self.query_one("#activity-detail", Static).update(text)
