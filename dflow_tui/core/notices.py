"""What a notification says: the events a notifier may subscribe to, and the title and
body of each message, from the facts of the incident or job it is about.

A message names the service by its path, says what happened and since when, and what
comes next (a reminder while it lasts, a message when it ends), so that whoever reads it
on a phone knows whether to act now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dflow_tui.core.enums import IncidentKind, NotifyEvent
from dflow_tui.core.errors import InvalidName
from dflow_tui.core.tiers import duration_text

DEFAULT_EVENTS = (NotifyEvent.FAILURE, NotifyEvent.LATE, NotifyEvent.RECOVERED)


@dataclass(frozen=True)
class Notice:
    event: NotifyEvent
    title: str
    body: str
    severity: str  # apprise's notify type: info, success, warning or failure


def parse_events(text: str | None) -> tuple[NotifyEvent, ...]:
    """`failure,late` → the events, in their own order; None or "" → the default ones."""
    if not text or not text.strip():
        return DEFAULT_EVENTS
    words = {word.strip().lower() for word in text.split(",") if word.strip()}
    known = {event.value for event in NotifyEvent}
    unknown = sorted(words - known)
    if unknown:
        raise InvalidName(
            f"Unknown event {', '.join(map(repr, unknown))}: choose among {', '.join(sorted(known))}"
        )
    return tuple(event for event in NotifyEvent if event.value in words)


def events_text(events: Iterable[str]) -> str:
    return ",".join(str(event) for event in events)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


def _for(span: timedelta) -> str:
    """`2d 3h`, `3h 5m`, `45m`: how long, in its two largest units, rounded down."""
    minutes = max(int(span.total_seconds()) // 60, 1)
    parts = [(minutes // 1440, "d"), (minutes // 60 % 24, "h"), (minutes % 60, "m")]
    while parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{count}{unit}" for count, unit in parts[:2] if count)


def failure_notice(path: str, label: str, error: str, last_success: datetime | None) -> Notice:
    return Notice(
        NotifyEvent.FAILURE,
        f"Backup failed: {path}",
        f"{label} of {path} failed: {error}\n"
        f"Last successful backup: {_when(last_success)}.\n"
        "You will be reminded while it keeps failing, and told when a backup succeeds again.",
        "failure",
    )


def degraded_notice(path: str, label: str, missing: Sequence[tuple[str, str]]) -> Notice:
    """A backup whose primary succeeded while copies failed: `missing` names each copy's
    place (`internal` or a provider) and why it failed."""
    names = ", ".join(name for name, _why in missing)
    reasons = "\n".join(f"- copy to {name} failed: {why}" for name, why in missing)
    return Notice(
        NotifyEvent.FAILURE,
        f"Backup degraded: {path} (copy to {names} failed)",
        f"{label} of {path} succeeded, but not in every place:\n{reasons}\n"
        "Its other places hold it; the next backup tries every place again.",
        "failure",
    )


def late_notice(path: str, last_success: datetime | None, rpo: timedelta, now: datetime) -> Notice:
    if last_success is None:
        what = f"{path} has never been backed up since its schedule began"
    else:
        what = f"The newest successful backup of {path} is {_for(now - last_success)} old ({_when(last_success)})"
    return Notice(
        NotifyEvent.LATE,
        f"Backups late: {path}",
        f"{what}; its recovery point is {duration_text(rpo)}.\n"
        "Check that a worker runs (`dflow-tui worker`) and why its backups fail (`dflow-tui status`).",
        "warning",
    )


def reminder_notice(
    kind: IncidentKind, path: str, since: datetime, detail: str | None, now: datetime
) -> Notice:
    event = NotifyEvent.LATE if kind is IncidentKind.LATE else NotifyEvent.FAILURE
    state = {IncidentKind.FAILURE: "failing", IncidentKind.DEGRADED: "degraded"}.get(kind, "late")
    body = f"Backups of {path} have been {state} for {_for(now - since)} (since {_when(since)})."
    if kind is IncidentKind.DEGRADED:
        body = (
            f"Backups of {path} have been missing a copy for {_for(now - since)} (since {_when(since)}): "
            "their other places hold them."
        )
    if detail:
        body += f"\nLatest: {detail}"
    return Notice(event, f"Still {state}: {path}", body, "failure" if state == "failing" else "warning")


def recovered_notice(path: str, label: str, since: datetime, now: datetime) -> Notice:
    return Notice(
        NotifyEvent.RECOVERED,
        f"Backups recovered: {path}",
        f"{label} of {path} succeeded at {_when(now)}, after {_for(now - since)} of trouble.",
        "success",
    )


def whole_again_notice(path: str, label: str, since: datetime, now: datetime) -> Notice:
    return Notice(
        NotifyEvent.RECOVERED,
        f"Backups whole again: {path}",
        f"{label} of {path} is stored in every place again at {_when(now)}, after {_for(now - since)} "
        "with a copy missing.",
        "success",
    )


def operation_notice(
    event: NotifyEvent, path: str, backup_id: int, actor: str, succeeded: bool, error: str | None
) -> Notice:
    what = {NotifyEvent.RESTORE: "Restore", NotifyEvent.DELETE: "Delete", NotifyEvent.DRILL: "Restore drill"}
    name = what.get(event, str(event).capitalize())
    if succeeded:
        title = f"{name} done: {path}"
        body = f"{name} of backup {backup_id} of {path}, asked by {actor}, succeeded."
    else:
        title = f"{name} failed: {path}"
        body = (
            f"{name} of backup {backup_id} of {path}, asked by {actor}, failed: {error or 'no reason given'}"
        )
    return Notice(event, title, body, "info" if succeeded else "failure")


def test_notice(name: str, actor: str) -> Notice:
    return Notice(
        NotifyEvent.RECOVERED,
        f"dflow-tui test message ({name})",
        f"This is a test of the notifier {name!r}, sent by {actor}. If you read it, it works.",
        "info",
    )
