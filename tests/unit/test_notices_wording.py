"""What an incident's reminder and its end say (core.notices: pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dflow_tui.core.enums import IncidentKind, NotifyEvent
from dflow_tui.core.notices import reminder_notice, whole_again_notice

SINCE = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NOW = SINCE + timedelta(hours=26)


def test_a_degraded_streak_is_reminded_as_a_missing_copy_not_as_a_failure_of_the_backups():
    notice = reminder_notice(
        IncidentKind.DEGRADED, "shop/prod/db", SINCE, "copy to r2 failed: NoSuchBucket", NOW
    )
    assert notice.title == "Still degraded: shop/prod/db"
    assert notice.event is NotifyEvent.FAILURE  # who listens for failures hears of it
    assert notice.body.startswith(
        "Backups of shop/prod/db have been missing a copy for 1d 2h (since 2026-12-01 06:00 UTC)"
    )
    assert "their other places hold them" in notice.body
    assert notice.body.endswith("Latest: copy to r2 failed: NoSuchBucket")


def test_a_failure_streak_reminder_is_unchanged():
    notice = reminder_notice(IncidentKind.FAILURE, "shop/prod/db", SINCE, "export failed", NOW)
    assert notice.title == "Still failing: shop/prod/db"
    assert "have been failing for " in notice.body


def test_whole_again_says_when_and_for_how_long_a_copy_was_missing():
    notice = whole_again_notice("shop/prod/db", "Backup 9", SINCE, NOW)
    assert (notice.event, notice.title) == (NotifyEvent.RECOVERED, "Backups whole again: shop/prod/db")
    assert "is stored in every place again" in notice.body and "with a copy missing" in notice.body
