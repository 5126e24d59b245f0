"""Backup Storage and the destination card, frozen: fixed providers, clock and sizes.

The providers are added through the service (secrets into the in-memory keyring)
and their verify results are written straight into the state database, so no
network is involved and every reason text is fixed. Update the baselines with
`--snapshot-update` on the whole tests/ui directory, never on a `-k` subset.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from textual.widgets import Input, Select
from tui_support import (
    ACTOR,
    SIZE,
    START,
    Demo,
    add_fixed_providers,
    fix_provider_statuses,
    open_service,
    screen_text,
    wait_until,
)

from dflow_tui.core.clock import FixedClock
from dflow_tui.service import Dflow
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.add_provider import AddProviderScreen
from dflow_tui.ui.screens.backup_storage import BackupStorageScreen

SMALL = (80, 24)
LARGE = (160, 48)
TYPED_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


async def seed(demo: Demo, *, external: bool) -> None:
    """b2 verified and minio-lab unverified; with `external`, the demo service saves
    b2 as its destination and has one (internal) backup from before."""
    api = await Dflow.open(demo.settings, clock=FixedClock(START), actor=ACTOR)
    try:
        await add_fixed_providers(api)
        fix_provider_statuses(demo)
        if external:
            backup = await api.backups.create(demo.service)
            assert backup.status == "succeeded", backup.error
            await api.destinations.set(demo.service, "external", "b2")
    finally:
        await api.close()


@pytest.fixture
def providers(demo: Demo, memory_keyring) -> Demo:
    asyncio.run(seed(demo, external=False))
    return demo


@pytest.fixture
def external(demo: Demo, memory_keyring) -> Demo:
    asyncio.run(seed(demo, external=True))
    return demo


def make_app(demo: Demo) -> DflowApp:
    return DflowApp(demo.settings, clock=FixedClock(START + timedelta(days=1)), actor=ACTOR, scheduler=False)


async def show_storage(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.services is not None, "the services to load")
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, BackupStorageScreen), "the storage screen")
    await wait_until(pilot, lambda: len(app.screen.table.providers) == 2, "both providers")
    await wait_until(
        pilot, lambda: bool(str(app.screen.query_one("#keyring-status").render())), "the keyring line"
    )


class TestBackupStorage:
    def test_verified_and_unverified(self, providers, snap_compare):
        assert snap_compare(make_app(providers), terminal_size=SIZE, run_before=show_storage)

    def test_verified_and_unverified_large_terminal(self, providers, snap_compare):
        assert snap_compare(make_app(providers), terminal_size=LARGE, run_before=show_storage)

    def test_verified_and_unverified_small_terminal(self, providers, snap_compare):
        assert snap_compare(make_app(providers), terminal_size=SMALL, run_before=show_storage)

    def test_unverified_selected_small_terminal(self, providers, snap_compare):
        async def run_before(pilot):
            await show_storage(pilot)
            await pilot.press("down")  # minio-lab: its reason in full below the table

        assert snap_compare(make_app(providers), terminal_size=SMALL, run_before=run_before)


class TestAddProviderForm:
    def test_secret_typed_is_masked(self, providers, snap_compare):
        async def run_before(pilot):
            await show_storage(pilot)
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, AddProviderScreen), "the form")
            # The plain fields are filled in directly (typing them is test_tui_storage's job);
            # the secret is typed, so the snapshot shows what typing it looks like.
            form = pilot.app.screen
            for field, value in {
                "provider-name": "wasabi",
                "provider-endpoint": "https://s3.eu-central-2.wasabisys.com",
                "provider-region": "eu-central-2",
                "provider-bucket": "acme-dumps",
                "provider-access-key": "AKIAIOSFODNN7EXAMPLE",
            }.items():
                form.query_one(f"#{field}", Input).value = value
            form.query_one("#provider-secret", Input).focus()
            await pilot.press(*TYPED_SECRET)
            text = screen_text(pilot.app)
            assert TYPED_SECRET not in text and "•" * 20 in text
            for label in ("Endpoint URL", "Region", "Access key id", "Secret access key"):
                assert label in text, label  # each field says what it is, beside it

        assert snap_compare(make_app(providers), terminal_size=SIZE, run_before=run_before)


class TestDestinationCard:
    def test_provider_select_lists_verified_only(self, providers, snap_compare):
        async def run_before(pilot):
            await open_service(pilot)
            card = pilot.app.panel.destination
            await wait_until(pilot, lambda: card.verified == ["b2"], "the providers")
            card.query_one("#destination-external").value = True
            select = card.query_one(Select)
            await wait_until(pilot, lambda: select.display, "the provider select")
            select.focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: select.expanded, "the list to open")

        assert snap_compare(make_app(providers), terminal_size=SIZE, run_before=run_before)

    def test_saved_external_small_terminal(self, external, snap_compare):
        async def run_before(pilot):
            await open_service(pilot)
            await wait_until(pilot, lambda: len(pilot.app.table.backups) == 1, "the backup row")
            card = pilot.app.panel.destination
            await wait_until(pilot, lambda: card.chosen_provider == "b2", "the saved provider")

        assert snap_compare(make_app(external), terminal_size=SMALL, run_before=run_before)
