"""Integrations → Backup Storage and the destination card, driven with the keyboard.

Secrets go to the in-memory keyring; S3 is moto's server over real HTTP with
signature checks, so a wrong secret really is refused.
"""

from __future__ import annotations

import asyncio

import keyring
from keyring.backends import fail
from textual import events
from textual.widgets import Input, RadioButton, RadioSet, Select
from tui_support import (
    SIZE,
    START,
    UNVERIFIED_REASON,
    add_fixed_providers,
    fix_provider_statuses,
    focus,
    make_app,
    open_service,
    record_notifications,
    screen_text,
    set_provider_status,
    statuses,
    wait_until,
)

from dflow_tui.ui.screens.add_provider import AddProviderScreen
from dflow_tui.ui.screens.backup_storage import BackupStorageScreen
from dflow_tui.ui.screens.confirm import ConfirmScreen

BUCKET = "tui-backups"


def storage_screen(app) -> BackupStorageScreen:
    assert isinstance(app.screen, BackupStorageScreen)
    return app.screen


def shown_statuses(app) -> dict[str, str]:
    """Provider name → the status badge as drawn in the table."""
    table = storage_screen(app).table
    return {
        provider.name: table.get_cell(provider.name, "status").plain.strip() for provider in table.providers
    }


async def open_storage(pilot) -> BackupStorageScreen:
    app = pilot.app
    await wait_until(pilot, lambda: app.services is not None, "the services to load")
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, BackupStorageScreen), "the storage screen")
    await wait_until(pilot, lambda: app.screen.providers is not None, "the providers to load")
    return app.screen


async def type_into_form(pilot, values: dict[str, str]) -> None:
    """Fills the add-provider form field by field: type, Enter to the next."""
    app = pilot.app
    for field_id, text in values.items():
        assert app.focused is not None and app.focused.id == field_id, (app.focused, field_id)
        if field_id == "provider-prefix":
            await pilot.press("ctrl+u")  # the default prefix goes, whatever is typed instead
        await pilot.press(*text, "enter")


def form_values(moto_s3, name: str, secret: str) -> dict[str, str]:
    return {
        "provider-name": name,
        "provider-endpoint": moto_s3.endpoint_url,
        "provider-region": moto_s3.region,
        "provider-bucket": BUCKET,
        "provider-prefix": "dflow/backups",
        "provider-access-key": moto_s3.access_key_id,
        "provider-secret": secret,
    }


def hold(monkeypatch, target, method: str) -> asyncio.Event:
    """Makes `target.method` wait for the returned event before it runs."""
    release = asyncio.Event()
    original = getattr(target, method)

    async def held(*args, **kwargs):
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(target, method, held)
    return release


async def test_add_a_provider_with_the_keyboard_then_verify_it(
    demo, dflow, moto_s3, memory_keyring, monkeypatch
):
    moto_s3.make_bucket(BUCKET, versioned=True)
    secret = moto_s3.secret_access_key
    release = hold(monkeypatch, dflow.storage, "verify")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        screen = await open_storage(pilot)
        assert "No storage provider yet" in screen_text(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddProviderScreen), "the form")
        values = form_values(moto_s3, "moto", secret)
        last = values.pop("provider-secret")
        await type_into_form(pilot, values)
        await pilot.press(*last)  # typed, not yet submitted
        secret_input = app.screen.query_one("#provider-secret", Input)
        assert secret_input.password and secret_input.value == secret
        text = screen_text(app)
        assert secret not in text
        assert "•" * 12 in text  # the masked field shows bullets
        await pilot.press("enter")  # Enter on the last field adds the provider
        await wait_until(pilot, lambda: app.screen is screen, "the form to close")
        await wait_until(pilot, lambda: shown_statuses(app) == {"moto": "unverified"}, "the new row")
        assert memory_keyring.store[("dflow-tui", "storage:moto")] == secret
        assert "Not verified yet" in screen_text(app)

        await pilot.press("v")
        await wait_until(pilot, lambda: shown_statuses(app) == {"moto": "verifying…"}, "verifying…")
        assert "Verifying: PutObject, GetObject, ListBucket and DeleteObject" in screen_text(app)
        release.set()
        await wait_until(pilot, lambda: shown_statuses(app) == {"moto": "verified"}, "verified", 30)
        text = screen_text(app)
        assert f"work on s3://{BUCKET}/dflow/backups/" in text  # the reason, in the detail
        assert "(versioned bucket" in text
        assert secret not in text
        assert any(n[1] == "Storage provider verified" for n in notes)
        assert all(secret not in message for _, _, message in notes)
    [stored] = await dflow.storage.list()
    assert (stored.name, stored.status) == ("moto", "verified")


async def test_a_wrong_secret_is_unverified_with_its_reason(demo, dflow, moto_s3, memory_keyring):
    moto_s3.make_bucket(BUCKET)
    wrong = "wrong-secret-" + "x" * 27
    await dflow.storage.add(
        "bad-key",
        endpoint_url=moto_s3.endpoint_url,
        region=moto_s3.region,
        bucket=BUCKET,
        access_key_id=moto_s3.access_key_id,
        secret_access_key=wrong,
    )
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_storage(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: any(n[1] == "Verify failed" for n in notes), "the verify to fail", 30)
        assert shown_statuses(app) == {"bad-key": "unverified"}
        text = screen_text(app)
        assert "SignatureDoesNotMatch" in text  # the reason, shown in full in the detail
        assert wrong not in text
        assert all(wrong not in message for _, _, message in notes)
    [stored] = await dflow.storage.list()
    assert stored.status == "unverified" and "SignatureDoesNotMatch" in stored.status_reason


async def test_a_refusal_from_the_service_is_shown_in_the_form(demo, dflow, memory_keyring):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_storage(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddProviderScreen), "the form")
        await type_into_form(
            pilot,
            {
                "provider-name": "b2",
                "provider-endpoint": "s3.example.com",  # no scheme: refused
                "provider-region": "",
                "provider-bucket": "bucket",
                "provider-prefix": "dflow/backups",
                "provider-access-key": "AKIAEXAMPLE",
                "provider-secret": "hunter2-secret",
            },
        )
        form = app.screen
        await wait_until(
            pilot,
            lambda: "Invalid endpoint URL" in str(form.query_one("#form-error").render()),
            "the refusal in the form",
        )
        assert isinstance(app.screen, AddProviderScreen)  # still open, with what was typed
        assert form.query_one("#provider-bucket", Input).value == "bucket"
        assert "hunter2-secret" not in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupStorageScreen), "cancelled")
    assert await dflow.storage.list() == []
    assert memory_keyring.store == {}


async def test_without_a_usable_keyring_the_screen_says_so_first(demo, dflow, monkeypatch):
    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    keyring.set_keyring(fail.Keyring())
    try:
        app = make_app(demo, dflow)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_storage(pilot)
            await wait_until(
                pilot,
                lambda: screen.query_one("#keyring-status").has_class("-unusable"),
                "the keyring warning",
            )
            warning = str(screen.query_one("#keyring-status").render())
            assert "Secrets cannot be kept" in warning and "No usable keyring backend" in warning
            assert "PYTHON_KEYRING_BACKEND" in warning  # how to fix it
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, AddProviderScreen), "the form")
            error = app.screen.query_one("#form-error")
            assert "No usable keyring backend" in str(error.render())  # said in the form too
    finally:
        keyring.set_keyring(previous)


async def test_remove_asks_first_and_is_refused_while_a_service_uses_it(demo, dflow, memory_keyring):
    await add_fixed_providers(dflow)
    fix_provider_statuses(demo)
    await dflow.destinations.set(demo.service, "external", "b2")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        screen = await open_storage(pilot)
        assert screen.table.selected_provider.name == "b2"
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "Remove the storage provider b2" in str(app.screen.query_one(".dialog-message").render())
        await pilot.press("n")  # cancelled: nothing happens
        await wait_until(pilot, lambda: app.screen is screen, "the confirmation to close")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any(n[0] == "warning" for n in notes), "the refusal")
        severity, title, message = next(n for n in notes if n[0] == "warning")
        assert title == "Removing storage provider b2: refused"  # a rule said no: not a failure
        assert message.startswith("Storage provider 'b2' is the destination of a service")
        assert set(shown_statuses(app)) == {"b2", "minio-lab"}

        await pilot.press("down")  # minio-lab is used by nothing
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: set(shown_statuses(app)) == {"b2"}, "the row to go")
    assert [p.name for p in await dflow.storage.list()] == ["b2"]
    assert ("dflow-tui", "storage:minio-lab") not in memory_keyring.store


async def test_backup_keys_do_nothing_on_the_storage_screen(demo, dflow, memory_keyring):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await open_storage(pilot)
        await pilot.press("b")
        await pilot.pause(0.3)
        footer = screen_text(app)
        assert "Cancel job" not in footer and "Add provider" in footer
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, BackupStorageScreen), "back")
        assert statuses(app) == []
    assert await dflow.backups.list(demo.service) == []


async def test_external_without_a_verified_provider_offers_backup_storage(demo, dflow, memory_keyring):
    await add_fixed_providers(dflow)  # both unverified
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        card = app.panel.destination
        await focus(pilot, card.query_one(RadioSet))
        await pilot.press("right", "enter")  # External
        await wait_until(pilot, lambda: card.has_class("-no-provider"), "the no-provider hint")
        text = screen_text(app)
        assert "No verified provider yet." in text and "Backup Storage [s]" in text
        assert not card.query_one("#destination-provider", Select).display
        await pilot.press("tab")  # onto "Backup Storage [s]"
        assert app.focused.id == "open-storage"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupStorageScreen), "the storage screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, BackupStorageScreen), "back")


async def test_external_destination_then_a_backup_goes_to_the_bucket(demo, dflow, moto_s3, memory_keyring):
    moto_s3.make_bucket(BUCKET, versioned=True)
    await dflow.storage.add(
        "moto-ok",
        endpoint_url=moto_s3.endpoint_url,
        region=moto_s3.region,
        bucket=BUCKET,
        access_key_id=moto_s3.access_key_id,
        secret_access_key=moto_s3.secret_access_key,
    )
    assert (await dflow.storage.verify("moto-ok")).ok
    await dflow.storage.add(
        "moto-bad",
        endpoint_url=moto_s3.endpoint_url,
        region=moto_s3.region,
        bucket=BUCKET,
        access_key_id=moto_s3.access_key_id,
        secret_access_key="not-the-secret",
    )
    assert not (await dflow.storage.verify("moto-bad")).ok
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        card = app.panel.destination
        await wait_until(pilot, lambda: len(card.providers) == 2, "the providers")
        assert card.border_title == "Backup destination: internal"
        await focus(pilot, card.query_one(RadioSet))
        await pilot.press("right", "enter")  # External
        await wait_until(pilot, lambda: card.choice == "external", "external chosen")
        await pilot.press("tab")
        select = card.query_one("#destination-provider", Select)
        assert app.focused is select
        await pilot.press("enter")  # opens the list: only the verified provider is offered
        await wait_until(pilot, lambda: select.expanded, "the list to open")
        text = screen_text(app)
        assert "moto-ok" in text and "moto-bad" not in text
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: card.chosen_provider == "moto-ok", "moto-ok chosen")
        assert card.border_subtitle == "not saved"
        await pilot.press("tab")
        assert app.focused.id == "destination-copies"
        await pilot.press("tab")
        assert app.focused.id == "save-destination"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n[1] == "Destination saved" for n in notes), "saved")
        await wait_until(
            pilot, lambda: card.border_title == "Backup destination: external · moto-ok", "the title"
        )
        assert card.border_subtitle == ""
        assert [button.value for button in card.query(RadioButton)] == [False, True]

        await pilot.press("b")
        await wait_until(pilot, lambda: [s for _, s in statuses(app)] == ["succeeded"], "the backup", 30)
        [(backup_id, _)] = statuses(app)
        assert app.table.get_cell(str(backup_id), "storage").plain.strip() == "external"
    [service] = [s for s in await dflow.inventory.list_services() if s.path == demo.service]
    assert (service.destination, service.provider) == ("external", "moto-ok")
    [backup] = await dflow.backups.list(demo.service)
    assert backup.type == "external" and backup.location.startswith(f"s3://{BUCKET}/dflow/backups/")
    key = backup.location.removeprefix(f"s3://{BUCKET}/")
    assert len(moto_s3.versions_of(BUCKET, key)) == 1
    assert demo.dumps() == []  # nothing on the server's disk


async def test_a_refused_save_is_a_notification(demo, dflow, memory_keyring, monkeypatch):
    await add_fixed_providers(dflow)
    fix_provider_statuses(demo)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        card = app.panel.destination
        await wait_until(pilot, lambda: card.verified == ["b2"], "the verified provider")
        # Someone un-verifies b2 meanwhile (another user, the CLI): the service refuses.
        set_provider_status(demo, "b2", "unverified", UNVERIFIED_REASON, START)
        await focus(pilot, card.query_one(RadioSet))
        await pilot.press("right", "enter", "tab", "enter")
        await wait_until(pilot, lambda: card.query_one(Select).expanded, "the list")
        await pilot.press("down", "enter", "tab", "tab", "enter")  # b2, past Copies to Save
        await wait_until(pilot, lambda: any(n[0] == "warning" for n in notes), "the refusal")
        severity, title, message = next(n for n in notes if n[0] == "warning")
        assert title == f"Saving the destination of {demo.service}: refused"
        assert "is not verified" in message
        assert card.border_title == "Backup destination: internal"


def type_ahead(app, keys: list[str]) -> None:
    """Sends keys the way a fast typist or a password manager's auto-type does: all
    read at once, none waiting for the app to finish with the one before."""
    driver = app._driver
    for key in keys:
        driver.send_message(events.Key(key, "\r" if key == "enter" else key))


async def test_a_secret_typed_ahead_after_enter_lands_in_the_masked_field(demo, dflow, memory_keyring):
    secret = "typed-ahead-secret-value"
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_storage(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddProviderScreen), "the form")
        form = app.screen
        for _ in range(5):
            await pilot.press("enter")  # to the access key id
        assert app.focused.id == "provider-access-key"
        type_ahead(app, [*"AKIDEXAMPLE", "enter", *secret])
        await wait_until(
            pilot, lambda: form.query_one("#provider-secret", Input).value == secret, "the secret"
        )
        assert form.query_one("#provider-access-key", Input).value == "AKIDEXAMPLE"
        assert secret not in screen_text(app)


async def test_the_draft_follows_the_service_shown(demo, dflow, memory_keyring):
    await add_fixed_providers(dflow)
    fix_provider_statuses(demo)
    await dflow.inventory.add_project("lab")
    await dflow.inventory.add_environment("lab", "staging")
    await dflow.inventory.add_service("lab/staging/orders-db", "mysql")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        card = app.panel.destination
        await wait_until(pilot, lambda: card.verified == ["b2"], "the providers")
        card.query_one("#destination-external", RadioButton).value = True  # a draft, not saved
        await wait_until(pilot, lambda: card.border_subtitle == "not saved", "the unsaved draft")
        app.service_tree.focus()
        await pilot.press("down", "down", "down")  # lab, staging, orders-db
        await wait_until(pilot, lambda: app.service.path == "lab/staging/orders-db", "the other service")
        await pilot.press("up", "up", "up")
        await wait_until(pilot, lambda: app.service.path == demo.service, "back")
        assert card.choice == "internal" and card.border_subtitle == ""
        assert [button.value for button in card.query(RadioButton)] == [True, False]
