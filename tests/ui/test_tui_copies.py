"""Copies in the TUI: chosen on the destination card, shown per backup in the table (a
missing one marked) and in the backup's details.

S3 is moto's server over real HTTP; the demo sandbox's server is this machine.
"""

from __future__ import annotations

import re

from textual.widgets import Button, Checkbox
from tui_support import (
    SIZE,
    focus,
    make_app,
    open_service,
    record_notifications,
    screen_text,
    statuses,
    wait_until,
)

from dflow_tui.ui.screens.backup_detail import BackupDetailScreen
from dflow_tui.ui.screens.copies import CopiesScreen, CopyToScreen

KEPT, GONE = "tui-copies-kept", "tui-copies-gone"


async def _provider(dflow, moto_s3, name: str, bucket: str) -> None:
    await dflow.storage.add(
        name,
        endpoint_url=moto_s3.endpoint_url,
        region=moto_s3.region,
        bucket=bucket,
        access_key_id=moto_s3.access_key_id,
        secret_access_key=moto_s3.secret_access_key,
    )
    assert (await dflow.storage.verify(name)).ok


async def test_copies_chosen_on_the_card_land_with_each_backup_and_a_missing_one_is_marked(
    demo, dflow, moto_s3, memory_keyring
):
    moto_s3.make_bucket(KEPT, versioned=True)
    moto_s3.make_bucket(GONE)
    await _provider(dflow, moto_s3, "moto-a", KEPT)
    await _provider(dflow, moto_s3, "moto-b", GONE)
    s3 = moto_s3.client()
    for found in s3.list_objects_v2(Bucket=GONE).get("Contents", []):
        s3.delete_object(Bucket=GONE, Key=found["Key"])
    s3.delete_bucket(Bucket=GONE)  # its account closed after it was verified
    # Saved from the CLI before: the card does not show compression, and saving it keeps it.
    await dflow.destinations.set(demo.service, "internal", compression="zstd")

    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        card = app.panel.destination
        await wait_until(pilot, lambda: card.verified == ["moto-a", "moto-b"], "the providers")
        copies = card.query_one("#destination-copies", Button)
        assert str(copies.label) == "Copies: none"
        await focus(pilot, copies)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CopiesScreen), "the copies form")
        form = app.screen
        # The primary goes to the server's disk: only the two providers are offered.
        assert form.places == ["moto-a", "moto-b"]
        assert "Copies · " + demo.service in screen_text(app)
        await pilot.press("space", "tab", "space")  # both ticked
        assert [box.value for box in form.query(Checkbox)] == [True, True]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is not form, "the form to close")
        assert str(copies.label) == "Copies: moto-a+moto-b"
        assert card.border_subtitle == "not saved"
        await focus(pilot, card.query_one("#save-destination", Button))
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: card.border_title == "Backup destination: internal + copies: moto-a, moto-b",
            "the saved title",
        )
        assert card.border_subtitle == ""
        [(_, _, saved)] = [n for n in notes if n[1] == "Destination saved"]
        assert "with copies in moto-a, moto-b" in saved

        await pilot.press("b")
        await wait_until(pilot, lambda: [s for _, s in statuses(app)] == ["succeeded"], "the backup", 30)
        [(backup_id, _)] = statuses(app)
        # The copy whose bucket is gone is marked, and the backup says it is degraded.
        await wait_until(
            pilot,
            lambda: app.table.get_cell(str(backup_id), "storage").plain.strip() == "int+moto-a+moto-b!",
            "the places",
        )
        assert "degraded" in app.table.get_cell(str(backup_id), "status").plain
        assert any("Backup degraded" in n[1] for n in notes)

        await pilot.press("e")
        await wait_until(pilot, lambda: "Copy in moto-b" in screen_text(app), "the details")
        text = screen_text(app)
        assert re.search(r"Copy in moto-a\s*succeeded", text) and f"s3://{KEPT}/" in text
        assert re.search(r"Copy in moto-b\s*failed", text) and "NoSuchBucket" in text
        assert re.search(r"Status\s*succeeded, degraded", text)
        await pilot.press("escape")

        # Its bucket is back: `y` redoes the missing copy (the places that keep one, and the
        # primary's own, are not offered).
        moto_s3.make_bucket(GONE)
        await wait_until(pilot, lambda: not isinstance(app.screen, BackupDetailScreen), "the table")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, CopyToScreen), "the places")
        assert app.screen.places == [("moto-b", "redo its copy there")]
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n[1] == "Copy done" for n in notes), "the copy", 30)
        await wait_until(
            pilot,
            lambda: app.table.get_cell(str(backup_id), "storage").plain.strip() == "int+moto-a+moto-b",
            "the places, none missing",
        )
        assert "degraded" not in app.table.get_cell(str(backup_id), "status").plain

    [backup] = await dflow.backups.list(demo.service)
    assert backup.compression == "zstd"  # the saved compression was kept
    assert [(c.destination, c.status) for c in backup.copies] == [
        ("moto-a", "succeeded"),
        ("moto-b", "succeeded"),
    ]
    assert not backup.degraded


async def test_saving_the_card_without_touching_the_copies_keeps_them(demo, dflow, moto_s3, memory_keyring):
    moto_s3.make_bucket(KEPT, versioned=True)
    await _provider(dflow, moto_s3, "moto-a", KEPT)
    await dflow.destinations.set(demo.service, "external", "moto-a", copy_to=["internal"])
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        card = app.panel.destination
        await wait_until(pilot, lambda: card.verified == ["moto-a"], "the provider")
        assert card.border_title == "Backup destination: external · moto-a + copies: internal"
        assert str(card.query_one("#destination-copies", Button).label) == "Copies: int"
        await focus(pilot, card.query_one("#destination-copies", Button))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CopiesScreen), "the copies form")
        assert app.screen.places == ["internal"]  # the primary's own place is not offered
        await pilot.press("space", "escape")  # unticked, then cancelled: the draft is unchanged
        await wait_until(pilot, lambda: not isinstance(app.screen, CopiesScreen), "the form to close")
        assert card.border_subtitle == ""
        await focus(pilot, card.query_one("#save-destination", Button))
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n[1] == "Destination saved" for n in notes), "saved")
    [service] = [s for s in await dflow.inventory.list_services() if s.path == demo.service]
    assert (service.destination, service.provider, service.copies) == ("external", "moto-a", ("internal",))
