"""The "Create backup schedule" form: one checkbox per tier, then Save schedule.

Each tier says how long its backups are kept; none checked turns the schedule
off. A view only: it dismisses with the chosen tiers (in tier order) or None when
cancelled, and the app saves them through the service layer.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Static

from dflow_tui.core.views import ScheduleView
from dflow_tui.ui.format import timestamp
from dflow_tui.ui.widgets.toggles import Tick

TITLE = "Create backup schedule"


def tier_label(label: str, retention: str) -> Text:
    text = Text(label, style="bold")
    text.append(f"  {retention}", style="dim")
    return text


class ScheduleScreen(ModalScreen[list[str] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save schedule"),
    ]

    def __init__(self, schedule: ScheduleView) -> None:
        super().__init__(id="schedule-form", classes="detail-screen")
        self.schedule = schedule

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = f"{TITLE} · {self.schedule.service_path}"
            yield Static(
                "Tick the tiers to run; none ticked turns the schedule off.", classes="dialog-message"
            )
            for tier in self.schedule.tiers:
                yield Tick(
                    tier_label(tier.label, tier.retention),
                    value=tier.enabled,
                    id=f"tier-{tier.tier}",
                    classes="tier-checkbox",
                )
            yield Static(self._status(), id="schedule-status", classes="schedule-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save schedule", id="save-schedule", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def _status(self) -> Text:
        schedule = self.schedule
        text = Text(schedule.active_text)
        for tier in schedule.tiers:
            if tier.enabled:
                text.append(
                    f"\n{tier.label}: last success {timestamp(tier.last_success)}, "
                    f"next due {timestamp(tier.next_due)}",
                    style="dim",
                )
        if schedule.error:
            text.append(f"\nLast failure ({schedule.failures}): {schedule.error}", style="bold")
        return text

    def on_mount(self) -> None:
        self.query(Checkbox).first().focus()

    @property
    def chosen(self) -> list[str]:
        return [
            tier.tier for tier in self.schedule.tiers if self.query_one(f"#tier-{tier.tier}", Checkbox).value
        ]

    @on(Button.Pressed, "#save-schedule")
    def action_save(self) -> None:
        self.dismiss(self.chosen)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
