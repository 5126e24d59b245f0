"""The Backups tab of one service: what it is, where its backups go, its actions,
and its backup table.

A view only: the buttons trigger the app's actions, and the app hands it data.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from dflow_tui.core.views import BackupView, ProviderView, ServiceView
from dflow_tui.ui.format import service_summary
from dflow_tui.ui.widgets.backup_table import BackupTable
from dflow_tui.ui.widgets.destination_card import DestinationCard
from dflow_tui.ui.widgets.job_progress import JobLine, JobProgressList

PICK_A_SERVICE = "Pick a database service on the left (↑/↓ to move, Enter to open it)."
NO_SERVICES_YET = (
    "No database services yet. Press v to add a server and discover its databases "
    "(or `dflow-tui server add` and `server discover`); to look around first, quit and "
    "start `dflow-tui --demo`."
)
NO_BACKUPS = "No backups yet: press b to create one."


class BackupsPanel(Vertical):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.service: ServiceView | None = None

    def compose(self) -> ComposeResult:
        yield Static(PICK_A_SERVICE, id="pick-a-service")
        yield Static(id="service-summary")
        yield DestinationCard(id="destination-card")
        with Horizontal(id="backup-actions"):
            yield self._button("Create backup", "app.create_backup", "create-backup", "primary")
            yield self._button("Restore", "app.restore", "restore", "warning")
            yield self._button("Delete", "app.delete", "delete", "error")
            yield self._button("Schedule", "app.edit_schedule", "edit-schedule", "default")
        yield JobProgressList(id="job-progress")
        yield BackupTable(id="backup-table")
        yield Static(NO_BACKUPS, id="no-backups")

    @staticmethod
    def _button(label: str, action: str, id: str, variant: ButtonVariant) -> Button:
        # Focusable: Tab goes tree → destination → these actions → table (their keys work too).
        return Button(label, id=id, variant=variant, action=action, compact=True)

    def on_mount(self) -> None:
        self.show_service(None)

    @property
    def table(self) -> BackupTable:
        return self.query_one(BackupTable)

    @property
    def destination(self) -> DestinationCard:
        return self.query_one(DestinationCard)

    def show_providers(self, providers: list[ProviderView]) -> None:
        self.destination.show_providers(providers)

    def show_service(self, service: ServiceView | None) -> None:
        changed = service is None or self.service is None or service.path != self.service.path
        self.service = service
        self.set_class(service is None, "-no-service")
        if service is not None:
            self.query_one("#service-summary", Static).update(service_summary(service))
        self.destination.show_service(service)
        if changed:
            self.show_backups([])
            self.set_class(False, "-no-backups")  # unknown until the first fetch
            self.show_jobs([])
            self.show_schedule(None)

    def show_backups(self, backups: list[BackupView]) -> None:
        self.table.show_backups(backups)
        self.set_class(self.service is not None and not backups, "-no-backups")

    def show_hint(self, hint: str) -> None:
        """Replaces the "pick a service" line (shown while no service is)."""
        self.query_one("#pick-a-service", Static).update(Text(hint))

    def show_schedule(self, active_text: Text | str | None) -> None:
        self.destination.show_schedule(active_text)

    def enable_actions(self, *, create: bool, restore: bool, delete: bool, schedule: bool) -> None:
        self.query_one("#create-backup", Button).disabled = not create
        self.query_one("#restore", Button).disabled = not restore
        self.query_one("#delete", Button).disabled = not delete
        self.query_one("#edit-schedule", Button).disabled = not schedule

    def explain_refusals(self, reasons: dict[str, str | None]) -> None:
        """Tooltips on the buttons the user may not press: the service's reason."""
        for button_id, reason in reasons.items():
            self.query_one(f"#{button_id}", Button).tooltip = reason

    def show_jobs(self, jobs: list[JobLine]) -> None:
        """The running jobs of this service, one progress line each."""
        self.query_one(JobProgressList).show_jobs(jobs)
