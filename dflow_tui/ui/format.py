"""How service-layer views look on screen: plain functions, no widgets, no decisions.

Everything user-derived is turned into `rich.text.Text`, never into a markup
string, so a name or an error message with `[brackets]` is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.color import Color

from dflow_tui.core.copies import places_label
from dflow_tui.core.enums import (
    ACTIVE_OPERATION_STATUSES,
    BackupStatus,
    BackupType,
    OperationStatus,
    ProviderStatus,
    Trigger,
)
from dflow_tui.core.views import BackupView, ProviderView, ScheduleView, ServiceView, human_size

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_VALUE = "—"

IN_PROGRESS = BackupStatus.IN_PROGRESS
SUCCESS = BackupStatus.SUCCESS
FAILED = BackupStatus.FAILED
ACTIVE_OPERATION = ACTIVE_OPERATION_STATUSES
OPERATION_FAILED = OperationStatus.FAILED
OPERATION_SUCCEEDED = OperationStatus.SUCCEEDED
INTERNAL = BackupType.INTERNAL
EXTERNAL = BackupType.EXTERNAL
VERIFIED = ProviderStatus.VERIFIED
VERIFYING = "verifying…"
RUNNING_LABEL = {"restore": "restoring…", "delete": "deleting…", "drill": "drilling…", "copy": "copying…"}
DONE_LABEL = {"restore": "restored", "delete": "deleted", "drill": "drilled", "copy": "copied"}


@dataclass(frozen=True)
class Palette:
    """Badge colours taken from the current theme, so light and dark both read well."""

    success: str = "#4EBF71"
    warning: str = "#FFA62B"
    error: str = "#BA3C5B"
    muted: str = "#888888"
    accent: str = "#0178D4"

    @classmethod
    def from_theme_variables(cls, variables: dict[str, str]) -> Palette:
        default = cls()
        background = Color.parse(variables.get("background", "#000000"))

        def solid(name: str, fallback: str) -> str:
            # Theme colours may carry alpha; Rich styles need an opaque colour.
            try:
                return (background + Color.parse(variables.get(name, fallback))).hex
            except Exception:
                return fallback

        return cls(
            success=solid("success", default.success),
            warning=solid("warning", default.warning),
            error=solid("error", default.error),
            muted=solid("foreground-muted", default.muted),
            accent=solid("primary", default.accent),
        )


def timestamp(value: datetime | None) -> str:
    """UTC, to the second: `YYYY-MM-DD HH:MM:SS`."""
    if value is None:
        return NO_VALUE
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(TIME_FORMAT)


def span(seconds: float) -> str:
    """A duration the way people say it: `45s`, `12m`, `5h`, `3d`."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def age(value: datetime | None, now: datetime) -> str:
    """How long ago: `5h ago` (or — for never)."""
    return NO_VALUE if value is None else f"{span((now - value).total_seconds())} ago"


def due_in(value: datetime | None, now: datetime) -> str:
    """How long until: `in 5h`, `now` once it is due (or — without a schedule)."""
    if value is None:
        return NO_VALUE
    seconds = (value - now).total_seconds()
    return "now" if seconds <= 0 else f"in {span(seconds)}"


def state_text(state: str, palette: Palette) -> Text:
    """A recovery state, coloured: ok green, failing amber, late and never red, off muted."""
    colour = {
        "ok": palette.success,
        "failing": palette.warning,
        "late": palette.error,
        "never": palette.error,
    }.get(state, palette.muted)
    return Text(state, style=Style(color=colour, bold=state != "ok"))


def schedule_line(schedule: ScheduleView, palette: Palette, now: datetime) -> Text:
    """`Active schedules: Daily, Weekly · ok · proven restorable 2d ago (backup 12)`: the
    tiers, how the recovery point stands, and what the restore drills proved."""
    line = Text(schedule.active_text)
    if schedule.rpo is not None:
        line.append(" · ")
        line.append_text(state_text(schedule.state, palette))
    if schedule.drill_error is not None:
        line.append(" · ")
        line.append("drill failed", style=Style(color=palette.error, bold=True))
    elif schedule.proven_at is not None:
        line.append(
            f" · proven restorable {age(schedule.proven_at, now)} (backup {schedule.proven_backup_id})"
        )
    elif schedule.drill_every is not None:
        line.append(" · not drilled yet", style=Style(color=palette.muted))
    return line


def trigger_text(backup: BackupView) -> str:
    """`manual`, or the schedule tier of a scheduled backup."""
    if backup.trigger == Trigger.SCHEDULED:
        return backup.schedule_tier or "scheduled"
    return backup.trigger


def badge(label: str, background: str) -> Text:
    color = Color.parse(background)
    return Text(
        f" {label} ",
        style=Style(color=color.get_contrast_text(1.0).hex, bgcolor=color.hex, bold=True),
        end="",
    )


def _status_colour(status: str, palette: Palette) -> str:
    colours: dict[str, str] = {IN_PROGRESS: palette.warning, SUCCESS: palette.success, FAILED: palette.error}
    return colours.get(status, palette.muted)


def status_text(backup: BackupView, palette: Palette) -> Text:
    """The status badge; a restore or delete running on the row replaces it."""
    kind, state = backup.operation_kind, backup.operation_status
    if kind and state in ACTIVE_OPERATION:
        return badge(RUNNING_LABEL.get(kind, f"{kind}…"), palette.warning)
    if backup.queued:  # in progress for the records, but no process has taken it yet
        return badge("queued", palette.muted)
    text = badge(backup.status, _status_colour(backup.status, palette))
    if backup.degraded:
        text.append(" degraded", style=Style(color=palette.warning, bold=True))
    if kind and state == OPERATION_FAILED:
        text.append(f" {kind} failed", style=Style(color=palette.error, bold=True))
    elif kind and state == OPERATION_SUCCEEDED:
        text.append(f" {DONE_LABEL.get(kind, kind)}", style=Style(color=palette.muted))
    return text


# The backup table: (column key, heading). The key doubles as the DataTable column key.
# The short columns come first and the 19-character time last, so that an 80-column
# terminal shows status, trigger, storage and size whole (the time scrolls into view).
BACKUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "ID"),
    ("status", "Status"),
    ("trigger", "Trigger"),
    ("storage", "Storage"),
    ("size", "Size"),
    ("created", "Created (UTC)"),
)


def backup_cell(column: str, backup: BackupView, palette: Palette) -> Text:
    if column == "id":
        return Text(str(backup.id), justify="right")
    if column == "created":
        return Text(timestamp(backup.created_at))
    if column == "storage":
        return places_text(backup, palette)
    if column == "trigger":
        if backup.trigger == Trigger.SCHEDULED:
            return badge(trigger_text(backup), palette.accent)  # the tier: daily, weekly…
        return Text(trigger_text(backup))
    if column == "status":
        return status_text(backup, palette)
    if column == "size":
        return Text(human_size(backup.size_bytes), justify="right")
    raise KeyError(column)


def service_label(service: ServiceView, state: str | None = None, palette: Palette | None = None) -> Text:
    """A service node of the tree: name, its recovery state when it has a schedule, engine,
    and its server (or that it has none)."""
    text = Text(service.name)
    if state is not None and state != "off":
        text.append(" ")
        text.append_text(state_text(state, palette or Palette()))
    text.append(f" · {service.engine}", style="dim")
    if service.server:
        text.append(f" @ {service.server}", style="dim")
    else:
        text.append(" · no server", style="italic")
    return text


def service_summary(service: ServiceView) -> Text:
    """The line above the backup table."""
    text = Text()
    text.append(service.path, style="bold")
    text.append("\nengine ", style="dim")
    text.append(service.engine)
    text.append("   server ", style="dim")
    text.append(service.server or "none (attach one to the environment or project)")
    return text


def places_text(backup: BackupView, palette: Palette) -> Text:
    """Where the backup is stored: its type, or with copies `int+b2+r2`, a copy that failed
    marked `!` in the error colour and one still being written muted."""
    if not backup.copies:
        return Text(backup.type)
    text = Text(places_label([backup.destination or backup.type]))
    for copy in backup.copies:
        text.append("+")
        label = places_label([copy.destination])
        if copy.status == FAILED:
            text.append(f"{label}!", style=Style(color=palette.error, bold=True))
        elif copy.status == IN_PROGRESS:
            text.append(label, style=Style(color=palette.muted))
        else:
            text.append(label)
    return text


def destination_text(service: ServiceView) -> str:
    """The saved destination: `internal`, or `external · <provider>`, then its copies."""
    where = service.destination
    if service.destination == EXTERNAL:
        where = f"external · {service.provider or 'no provider'}"
    if service.copies:
        where += f" + copies: {', '.join(service.copies)}"
    return where


# --- storage providers ------------------------------------------------------

PROVIDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("status", "Status"),
    ("location", "Bucket/prefix"),
    ("endpoint", "Endpoint"),
    ("reason", "Reason"),
)
REASON_WIDTH = 48  # the table shows the start; the detail below shows it all


def provider_location(provider: ProviderView) -> str:
    """`bucket/prefix` (or just `bucket` when the prefix is the bucket root)."""
    return f"{provider.bucket}/{provider.prefix}" if provider.prefix else provider.bucket


def provider_status_text(provider: ProviderView, palette: Palette, *, verifying: bool = False) -> Text:
    """verified (green) / unverified (red), or `verifying…` while a verify runs."""
    if verifying:
        return badge(VERIFYING, palette.warning)
    colour = palette.success if provider.status == VERIFIED else palette.error
    return badge(provider.status, colour)


def shorten(value: str, width: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


def provider_cell(column: str, provider: ProviderView, palette: Palette, *, verifying: bool = False) -> Text:
    if column == "name":
        return Text(provider.name)
    if column == "endpoint":
        return Text(provider.endpoint_url)
    if column == "location":
        return Text(provider_location(provider))
    if column == "status":
        return provider_status_text(provider, palette, verifying=verifying)
    if column == "reason":
        if verifying:
            return Text("checking put, get, list and delete on the prefix", style="italic")
        return Text(shorten(provider.status_reason or NO_VALUE, REASON_WIDTH))
    raise KeyError(column)


def backup_title(backup: BackupView) -> str:
    return f"the backup from {timestamp(backup.created_at)} UTC"


def health_line(late: int, failing: int, never: int, undelivered: int) -> str:
    """The header's word on the fleet: `2 late · 1 failing · 1 notification undelivered`."""
    parts = [f"{late} late", f"{failing} failing"]
    if never:
        parts.append(f"{never} never backed up")
    if undelivered:
        parts.append(f"{undelivered} notification{'s' if undelivered != 1 else ''} undelivered")
    return " · ".join(parts)
