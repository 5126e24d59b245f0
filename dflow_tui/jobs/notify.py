"""Notifications: what is worth a message, written once, and delivered with apprise.

An event becomes messages (one per notifier subscribed to it) in the transaction that
records it, so that every worker sharing the state database may look and only one
message is made:
- a backup that fails opens its service's `failure` incident (a failure streak is one
  incident: one message); a success closes whatever is open (one `recovered` message);
- `watch`, after a scheduler pass, opens `late` incidents (no success within the
  recovery point) and reminds of the incidents still open once a reminder interval
  has passed;
- a restore or delete that ended is one message.
`deliver` sends what is due. A message that cannot be delivered is logged, kept and
tried again (1 min, 2, 4, … an hour apart at most) until it is given up after days; it
never fails or holds up the job it tells of beyond NOTIFY_TIMEOUT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from dflow_tui import secrets
from dflow_tui.core.enums import (
    AuditResult,
    BackupStatus,
    BackupType,
    IncidentKind,
    NotifyEvent,
    OperationKind,
    RecoveryState,
)
from dflow_tui.core.notices import (
    Notice,
    degraded_notice,
    failure_notice,
    late_notice,
    operation_notice,
    recovered_notice,
    reminder_notice,
    whole_again_notice,
)
from dflow_tui.core.policy import recovery
from dflow_tui.core.redact import redact
from dflow_tui.jobs.audit import job_result
from dflow_tui.jobs.context import JobContext
from dflow_tui.settings import NOTIFY_GIVE_UP, NOTIFY_RETRY_FIRST, NOTIFY_RETRY_MOST, NOTIFY_TIMEOUT
from dflow_tui.store.queries import backups, copies, fleet, inventory, notices, providers, rows, schedules
from dflow_tui.store.tables import Backup, Notification, Notifier, Operation

log = logging.getLogger("dflow_tui.notify")


def _messages(notifiers: Sequence[Notifier], notice: Notice, path: str | None) -> list[Notification]:
    return [
        Notification(
            notifier_id=notifier.id,
            event=notice.event,
            title=notice.title,
            body=notice.body,
            severity=notice.severity,
            service_path=path,
        )
        for notifier in notifiers
        if notifier.id is not None and notice.event.value in notifier.events.split(",")
    ]


async def backup_ended(ctx: JobContext, backup: Backup, label: str, path: str) -> None:
    """A failure opens the service's failure incident (said once per streak); a success
    closes its failure and late incidents (said once, as recovered). A success with a copy
    missing opens its degraded incident (said once per streak, reminded while it lasts), and
    the next whole one closes it (said once). Never raises: telling of a backup must not
    change how it ended."""
    try:
        now = ctx.clock.now()
        notifiers = await notices.list_notifiers(ctx.db)
        service_id = backup.service_id
        if backup.status == BackupStatus.SUCCESS:
            troubles = (IncidentKind.FAILURE, IncidentKind.LATE)
            closed = await notices.close_incidents(ctx.db, service_id, now, troubles)
            opened = [incident.opened_at for incident in closed if incident.opened_at is not None]
            if opened:
                notice = recovered_notice(path, label, min(opened), now)
                await notices.enqueue(ctx.db, _messages(notifiers, notice, path), now)
            missing = await missing_copies(ctx, backup)
            if missing:
                detail = "; ".join(f"copy to {name} failed: {why}" for name, why in missing)
                messages = _messages(notifiers, degraded_notice(path, label, missing), path)
                if not await notices.open_incident(
                    ctx.db, service_id, IncidentKind.DEGRADED, detail, now, messages
                ):
                    await notices.update_detail(ctx.db, service_id, IncidentKind.DEGRADED, detail)
            else:
                whole = await notices.close_incidents(ctx.db, service_id, now, (IncidentKind.DEGRADED,))
                since = [incident.opened_at for incident in whole if incident.opened_at is not None]
                if since:
                    notice = whole_again_notice(path, label, min(since), now)
                    await notices.enqueue(ctx.db, _messages(notifiers, notice, path), now)
        elif job_result(False, backup.error) == AuditResult.FAILED:  # not cancelled on purpose
            error = redact(backup.error or "failed", ctx.secrets)
            async with ctx.db.reading() as session:
                last_success, _failed = await backups.recovery_facts(session, backup.service_id)
            notice = failure_notice(path, label, error, last_success)
            messages = _messages(notifiers, notice, path)
            if not await notices.open_incident(
                ctx.db, backup.service_id, IncidentKind.FAILURE, error, now, messages
            ):
                await notices.update_detail(ctx.db, backup.service_id, IncidentKind.FAILURE, error)
    except Exception:
        log.exception("recording the notifications of backup %s failed", backup.id)


async def missing_copies(ctx: JobContext, backup: Backup) -> list[tuple[str, str]]:
    """The copies of a backup that failed: each one's place and why."""
    failed = [
        copy
        for copy in await copies.backup_copies(ctx.db, rows.saved_id(backup.id))
        if copy.status == BackupStatus.FAILED
    ]
    if not failed:
        return []
    async with ctx.db.reading() as session:
        names = await providers.provider_names(session)
    return [
        (
            names.get(copy.provider_id, "storage")
            if copy.provider_id is not None
            else BackupType.INTERNAL.value,
            redact(copy.error or "no reason given", ctx.secrets),
        )
        for copy in failed
    ]


async def operation_ended(ctx: JobContext, operation: Operation, path: str) -> None:
    """A restore, delete or drill that ended: one message to whoever listens for it (a copy
    is told to whoever ran it, and a missing copy by the next backup's degraded notice)."""
    event = {
        OperationKind.RESTORE: NotifyEvent.RESTORE,
        OperationKind.DELETE: NotifyEvent.DELETE,
        OperationKind.DRILL: NotifyEvent.DRILL,
    }.get(OperationKind(operation.kind))
    if event is None:
        return
    try:
        succeeded = operation.error is None
        error = redact(operation.error, ctx.secrets) if operation.error else None
        notice = operation_notice(
            event, path, operation.backup_id, operation.requested_by or "unknown", succeeded, error
        )
        now = ctx.clock.now()
        await notices.enqueue(ctx.db, _messages(await notices.list_notifiers(ctx.db), notice, path), now)
    except Exception:
        log.exception("recording the notification of the %s of backup %s failed", event, operation.backup_id)


async def watch(ctx: JobContext) -> None:
    """Opens a `late` incident for each scheduled service without a success within its
    recovery point (or since its schedule began), and reminds of open incidents whose
    last message is a reminder interval old. A few grouped reads whatever the fleet."""
    now = ctx.clock.now()
    notifiers = await notices.list_notifiers(ctx.db)
    tiers = await schedules.tiers_by_service(ctx.db)
    still_open = await notices.open_incidents(ctx.db)
    late_now = {incident.service_id for incident in still_open if incident.kind == IncidentKind.LATE}
    late: list[tuple[int, datetime | None, timedelta]] = []
    for service_id, grace, since, last_success in await fleet.scheduled_facts(ctx.db):
        if service_id in late_now:
            continue
        state, rpo = recovery(tiers.get(service_id, []), grace, last_success, False, now)
        if rpo is None:
            continue
        # Never backed up: late once its schedule is older than the recovery point.
        if state is RecoveryState.LATE or (
            state is RecoveryState.NEVER and since is not None and now - since > rpo
        ):
            late.append((service_id, last_success, rpo))
    every = ctx.settings.notify_reminder
    due = [
        incident
        for incident in still_open
        if incident.reminded_at is not None
        and incident.opened_at is not None
        and now - incident.reminded_at >= every
    ]
    if not late and not due:
        return
    async with ctx.db.reading() as session:  # one read of every path, not one per service
        paths = await inventory.service_paths(session)
    for service_id, last_success, rpo in late:
        path = paths[service_id]
        notice = late_notice(path, last_success, rpo, now)
        await notices.open_incident(
            ctx.db, service_id, IncidentKind.LATE, None, now, _messages(notifiers, notice, path)
        )
    for incident in due:
        assert incident.opened_at is not None
        path = paths[incident.service_id]
        notice = reminder_notice(IncidentKind(incident.kind), path, incident.opened_at, incident.detail, now)
        await notices.remind(ctx.db, incident, now, _messages(notifiers, notice, path))


async def deliver(ctx: JobContext) -> int:
    """Sends the messages due now that this process could claim; returns how many were
    delivered. Never raises."""
    try:
        now = ctx.clock.now()
        lease = now + timedelta(seconds=2 * NOTIFY_TIMEOUT + 60)
        claimed = await notices.claim_due(ctx.db, ctx.worker_id, now, lease)
        if not claimed:
            return 0
        by_id = {notifier.id: notifier for notifier in await notices.list_notifiers(ctx.db)}
    except Exception:
        log.exception("reading the notifications to deliver failed")
        return 0
    delivered = 0
    for message in claimed:
        notifier = by_id.get(message.notifier_id)
        if notifier is None:
            continue
        error = await send_through(ctx, notifier, message.title, message.body, message.severity)
        try:
            delivered += await _settle(ctx, message.id, message.attempts, message.created_at, notifier, error)
        except Exception:
            log.exception("recording the delivery of notification %s failed", message.id)
    return delivered


async def _settle(
    ctx: JobContext,
    message_id: int | None,
    attempts: int,
    created_at: datetime | None,
    notifier: Notifier,
    error: str | None,
) -> int:
    if message_id is None:
        return 0
    now = ctx.clock.now()
    if error is None:
        await notices.settle(ctx.db, message_id, ctx.worker_id, sent_at=now)
        return 1
    if created_at is not None and now - created_at >= NOTIFY_GIVE_UP:
        log.error("notifier %s: gave up on a message after %d tries: %s", notifier.name, attempts + 1, error)
        await notices.settle(ctx.db, message_id, ctx.worker_id, error=error, given_up_at=now)
        return 0
    wait = min(NOTIFY_RETRY_FIRST * (2**attempts), NOTIFY_RETRY_MOST)
    log.warning("notifier %s: message not delivered (%s); next try in %s", notifier.name, error, wait)
    await notices.settle(ctx.db, message_id, ctx.worker_id, error=error, next_attempt_at=now + wait)
    return 0


async def send_through(
    ctx: JobContext, notifier: Notifier, title: str, body: str, severity: str
) -> str | None:
    """Delivers one message with the notifier's URL from the keyring; None when delivered,
    else why not."""
    try:
        url = await secrets.get_secret_async(secrets.notifier_secret_name(notifier.name))
    except Exception as error:
        return str(error)
    if not url:
        return "its URL is missing from the keyring: remove the notifier and add it again"
    ctx.secrets.add(url)
    return await send(url, title, body, severity)


async def send(url: str, title: str, body: str, severity: str = "info") -> str | None:
    """Delivers one message through apprise; None when it was delivered, else why not
    (without the URL, which holds tokens)."""
    import apprise  # loads a hundred plugins: only where a message goes out

    sender = apprise.Apprise()
    try:
        if not sender.add(url):
            return "the URL is not one apprise understands (see https://github.com/caronc/apprise/wiki)"
        result = await sender.async_notify(
            body=body, title=title, notify_type=severity, timeout=NOTIFY_TIMEOUT
        )
    except Exception as error:  # a plugin's own bug must not stop the worker
        return redact(f"{type(error).__name__}: {error}", [url])
    if result.status == apprise.AppriseResultStatus.SUCCESS:
        return None
    reasons = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    return redact("; ".join(reasons) or f"not delivered ({result.status.name.lower()})", [url])
