"""Schedule tiers: how often each runs and how many successful backups it keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from dflow_tui.core.errors import InvalidName


class Tier(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class TierRule:
    tier: Tier
    interval: timedelta
    keep: int
    retention_text: str

    @property
    def label(self) -> str:
        return self.tier.value.capitalize()


RULES: dict[Tier, TierRule] = {
    Tier.HOURLY: TierRule(Tier.HOURLY, timedelta(hours=1), 24, "kept for 24 hours"),
    Tier.DAILY: TierRule(Tier.DAILY, timedelta(days=1), 7, "kept for 7 days"),
    Tier.WEEKLY: TierRule(Tier.WEEKLY, timedelta(days=7), 4, "kept for 4 weeks"),
    Tier.MONTHLY: TierRule(Tier.MONTHLY, timedelta(days=30), 12, "kept for 12 months"),
}

# The order tiers are shown and considered in.
ORDER: list[Tier] = [Tier.HOURLY, Tier.DAILY, Tier.WEEKLY, Tier.MONTHLY]


def parse_tier(value: str) -> Tier:
    try:
        return Tier(value)
    except ValueError:
        raise InvalidName(
            f"Unknown schedule tier {value!r}: choose from {', '.join(t.value for t in ORDER)}"
        ) from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> timedelta:
    """`45s`, `30m`, `2h`, `1d` (a whole number and a unit)."""
    text = value.strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise InvalidName(f"Invalid duration {value!r}: a whole number and s, m, h or d (30m, 2h, 1d)")
    return timedelta(seconds=int(number) * _UNITS[unit])


def duration_text(value: timedelta) -> str:
    """The shortest of `1d`, `36h`, `90m`, `45s` that says it exactly."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def sort_tiers(tiers: Iterable[str]) -> list[Tier]:
    return sorted({parse_tier(str(t)) for t in tiers}, key=ORDER.index)


def active_schedules_text(tiers: Iterable[str]) -> str:
    """`Active schedules: Daily, Weekly` (or `Active schedules: none`)."""
    names = [RULES[t].label for t in sort_tiers(tiers)]
    return f"Active schedules: {', '.join(names) if names else 'none'}"
