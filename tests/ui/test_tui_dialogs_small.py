"""Every dialog on an 80×24 terminal: inside the screen, above the footer, and every
field and button reachable with Tab and drawn where the user sees it."""

from __future__ import annotations

import pytest
from textual.widgets import Footer
from tui_support import make_app, open_service, statuses, wait_until

SMALL = (80, 24)


def _is_within(widget, ancestor) -> bool:
    while widget is not None:
        if widget is ancestor:
            return True
        widget = widget.parent
    return False


async def assert_fits(pilot, name: str) -> None:
    screen = pilot.app.screen
    dialog = screen.query_one(".dialog")
    box = dialog.region
    bottom = SMALL[1]
    footers = [f for f in screen.query(Footer) if f.display]
    if footers:
        bottom = footers[0].region.y
    assert box.x >= 0 and box.y >= 0 and box.right <= SMALL[0] and box.bottom <= bottom, (
        f"{name}: the dialog {box} leaves the {SMALL[0]}x{bottom} area"
    )
    focusable = [w for w in dialog.query("*") if w.focusable and w.display]
    assert focusable, f"{name}: nothing to focus"
    for widget in focusable:
        widget.focus()
        await pilot.pause()
        x, y = widget.region.center
        assert widget.region.area and box.contains(x, y), f"{name}: {widget!r} is not drawn in the dialog"
        seen, _ = screen.get_widget_at(x, y)
        assert _is_within(seen, widget), f"{name}: {widget!r} is hidden under {seen!r}"


DIALOGS = {
    # name: keys from the service's Backups tab to the dialog
    "help": ["question_mark"],
    "restore": ["r"],
    "restore into": ["R"],
    "delete": ["d"],
    "details": ["e"],
    "schedule": ["c"],
    "add provider": ["s", "a"],
    "add server": ["v", "n"],
    "discover": ["v", "i"],
}


@pytest.mark.parametrize("keys", DIALOGS.values(), ids=DIALOGS.keys())
async def test_the_dialog_fits_at_80x24(demo, dflow, keys):
    backup = await dflow.backups.create(demo.service)
    await dflow.inventory.add_service(
        "demo/production/shop-db-copy", "postgres"
    )  # after shop-db: R has a target
    app = make_app(demo, dflow)
    async with app.run_test(size=SMALL) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        base = app.screen
        *before, last = keys
        for key in before:
            await pilot.press(key)
            await pilot.pause(0.2)
        screen_before = app.screen
        await pilot.press(last)
        await wait_until(
            pilot,
            lambda: app.screen is not screen_before and app.screen.query(".dialog"),
            f"the dialog of {keys}",
        )
        assert app.screen is not base
        await assert_fits(pilot, "+".join(keys))
