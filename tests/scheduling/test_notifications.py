"""Notifications to real receivers on 127.0.0.1 (an HTTP server taking apprise's json://
webhooks, an SMTP server taking mailto:// mail), with a moved clock: one message per
incident, reminders while it lasts, one when it ends, once however many workers look."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from infra.receiver import HttpReceiver
from infra.smtp import SmtpReceiver

from dflow_tui.core.errors import AlreadyExists, InvalidName, NotFound, RemoteError
from dflow_tui.demo.sandbox import seed_state
from dflow_tui.jobs import notify
from dflow_tui.jobs.context import JobContext
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


def webhook(receiver: HttpReceiver, path: str = "/hook") -> str:
    return receiver.url.replace("http://", "json://", 1) + path


def messages(receiver: HttpReceiver) -> list[tuple[str, str, str]]:
    """(type, title, message) of every webhook received, in order."""
    bodies = [json.loads(body) for _method, _path, body in receiver.requests]
    return [(b["type"], b["title"], b["message"]) for b in bodies]


def break_database(sandbox):
    database = sandbox / "databases" / "shop-db.sqlite"
    database.rename(database.with_suffix(".away"))
    return lambda: database.with_suffix(".away").rename(database)


async def test_a_failure_streak_is_one_message_with_reminders_then_one_recovered(
    app, service, clock, sandbox, receiver, memory_keyring
):
    await app.notifiers.add("ops", webhook(receiver))
    await app.schedules.set(service, ["daily"])
    await app.worker.drain()
    assert receiver.requests == []  # a success with nothing wrong before: nothing to say

    repair = break_database(sandbox)
    for _ in range(3):  # one streak of three failures
        await app.backups.create(service)
    [(kind, title, body)] = messages(receiver)
    assert (kind, title) == ("failure", f"Backup failed: {service}")
    assert body.startswith("Backup ") and "failed" in body and "Last successful backup: 2026-03-01" in body

    clock.advance(timedelta(hours=12))
    await app.worker.once()  # a pass, the watch, the jobs: nothing new to say
    assert len(receiver.requests) == 1
    clock.advance(timedelta(hours=12, minutes=1))
    await app.worker.once()  # a day on: one reminder (the scheduled run fails again: same streak)
    assert [(k, t) for k, t, _ in messages(receiver)][1:] == [("failure", f"Still failing: {service}")]

    repair()
    await app.backups.create(service)
    kind, title, body = messages(receiver)[-1]
    assert (kind, title) == ("success", f"Backups recovered: {service}")
    assert "after 1d of trouble" in body
    await app.backups.create(service)
    assert len(receiver.requests) == 3  # recovered once; a success after a success says nothing


async def test_late_is_told_once_for_a_service_never_backed_up(
    app, service, clock, sandbox, receiver, memory_keyring
):
    await app.notifiers.add("ops", webhook(receiver), "late,recovered")  # not failures
    break_database(sandbox)
    await app.schedules.set(service, ["daily"])
    await app.worker.once()
    assert await app.notifiers.list() and receiver.requests == []  # failing, but no `failure` subscription

    clock.advance(timedelta(hours=36, minutes=1))  # past the recovery point since the schedule began
    await app.worker.once()
    await app.worker.once()
    [(kind, title, body)] = messages(receiver)
    assert (kind, title) == ("warning", f"Backups late: {service}")
    assert "has never been backed up since its schedule began; its recovery point is 36h" in body


async def test_two_workers_looking_at_once_tell_it_once(
    state_url, clock, sandbox, service, receiver, memory_keyring
):
    if state_url.startswith("postgresql"):  # the sandbox put the demo service in its SQLite file only
        await seed_state(Settings(db_url=state_url), sandbox / "backups")
    first = await Dflow.open(Settings(db_url=state_url), clock=clock)
    second = await Dflow.open(Settings(db_url=state_url), clock=clock)
    try:
        await first.notifiers.add("ops", webhook(receiver))
        await first.schedules.set(service, ["hourly"])
        await first.worker.drain()
        other = JobContext(
            db=second.ctx.db, clock=clock, settings=second.settings, worker_id="worker:elsewhere:1"
        )

        clock.advance(timedelta(hours=2))  # late: nobody ran the hourly backups
        await asyncio.gather(notify.watch(first.ctx), notify.watch(other))
        await asyncio.gather(notify.deliver(first.ctx), notify.deliver(other))
        clock.advance(timedelta(days=1))  # and the reminder, once too
        await asyncio.gather(notify.watch(first.ctx), notify.watch(other))
        await asyncio.gather(notify.deliver(first.ctx), notify.deliver(other))
        await asyncio.gather(notify.deliver(first.ctx), notify.deliver(other))
        assert [(k, t) for k, t, _ in messages(receiver)] == [
            ("warning", f"Backups late: {service}"),
            ("warning", f"Still late: {service}"),
        ]
        await asyncio.gather(
            first.backups.create(service), first.backups.create(service), return_exceptions=True
        )
        await asyncio.gather(notify.deliver(first.ctx), notify.deliver(other))
        assert [t for _k, t, _ in messages(receiver)][2:] == [f"Backups recovered: {service}"]
    finally:
        await first.close()
        await second.close()


async def test_an_undelivered_message_is_kept_shown_and_retried_and_the_backup_stands(
    app, service, clock, sandbox, receiver, memory_keyring, caplog
):
    receiver.status = 500  # the webhook is down
    await app.notifiers.add("ops", webhook(receiver))
    break_database(sandbox)
    failed = await app.backups.create(service)
    assert failed.status == "failed" and "shop-db" in (failed.error or "")  # its own error, nothing else
    [view] = await app.notifiers.list()
    assert (view.pending, view.failing, view.last_sent) == (1, 1, None)
    assert "500" in (view.last_error or "") or "error" in (view.last_error or "").lower()
    assert (await app.fleet.health()).undelivered == 1  # what the app's header says
    assert any("not delivered" in r.getMessage() for r in caplog.records)

    receiver.status = 200
    assert await notify.deliver(app.ctx) == 0  # not due yet: the first retry is a minute on
    clock.advance(timedelta(minutes=1))
    assert await notify.deliver(app.ctx) == 1
    [view] = await app.notifiers.list()
    assert (view.pending, view.failing, view.last_sent) == (0, 0, clock.now())
    assert (await app.fleet.health()).undelivered == 0
    assert [k for k, _t, _b in messages(receiver)] == ["failure", "failure"]  # the 500, then the retry


async def test_mail_to_a_real_smtp_server_for_restores_and_deletes(app, service, sandbox, memory_keyring):
    with SmtpReceiver() as smtp:
        await app.notifiers.add("mail", smtp.apprise_url("ops@example.com"), "restore,delete")
        backup = await app.backups.create(service)
        assert smtp.mails == []  # backups are not what it listens for
        await app.backups.restore(backup.id, safety_backup=False)
        await app.backups.delete(backup.id)
        assert smtp.subjects() == [f"Restore done: {service}", f"Delete done: {service}"]
        [restore, _delete] = smtp.mails
        assert restore["To"] == "ops@example.com"
        text = restore.get_payload()[0].get_payload(decode=True).decode()
        assert f"Restore of backup {backup.id} of {service}" in text and "succeeded" in text


async def test_notifiers_are_checked_kept_in_the_keyring_tested_and_removed(app, receiver, memory_keyring):
    url = webhook(receiver, "/T0KEN-s3cr3t")
    with pytest.raises(InvalidName) as bad_url:
        await app.notifiers.add("ops", "nope://T0KEN-s3cr3t")
    assert "T0KEN" not in str(bad_url.value) and "apprise does not understand" in str(bad_url.value)
    with pytest.raises(InvalidName, match="Unknown event 'sometimes'"):
        await app.notifiers.add("ops", url, "failure,sometimes")
    with pytest.raises(InvalidName):
        await app.notifiers.add("ops team", url)
    assert memory_keyring.store == {}  # nothing kept of what was refused

    view = await app.notifiers.add("ops", url, "failure,restore")
    assert view.events == ("failure", "restore")
    assert memory_keyring.store == {("dflow-tui", "notify:ops"): url}  # the URL: only in the keyring
    with pytest.raises(AlreadyExists):
        await app.notifiers.add("ops", url)
    assert memory_keyring.store == {("dflow-tui", "notify:ops"): url}

    await app.notifiers.test("ops")
    [(method, path, body)] = receiver.requests
    assert path == "/T0KEN-s3cr3t" and json.loads(body)["title"] == "dflow-tui test message (ops)"
    receiver.status = 503
    with pytest.raises(RemoteError) as failed:
        await app.notifiers.test("ops")
    assert "was not delivered" in str(failed.value) and "T0KEN" not in str(failed.value)

    await app.notifiers.remove("ops")
    assert await app.notifiers.list() == [] and memory_keyring.store == {}
    with pytest.raises(NotFound):
        await app.notifiers.test("ops")
