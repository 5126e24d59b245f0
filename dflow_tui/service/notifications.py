"""Notifiers: where messages about failures, late services, restores and deletes go.

A notifier is a name, the events it is told of, and an apprise URL (Slack, e-mail,
Telegram, ntfy, a JSON webhook…). The URL holds tokens and passwords: it lives in the
OS keyring like a storage provider's secret, and is never shown again.
"""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.errors import AlreadyExists, InvalidName, RemoteError
from dflow_tui.core.naming import validate_label
from dflow_tui.core.notices import events_text, parse_events, test_notice
from dflow_tui.core.permissions import Permission
from dflow_tui.core.views import NotifierView
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.notify import send_through
from dflow_tui.secrets import delete_secret_async, notifier_secret_name, set_secret_async
from dflow_tui.service.access import Access
from dflow_tui.store.queries import notices, rows
from dflow_tui.store.tables import Notifier


class Notifiers:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def add(self, name: str, url: str, events: str | None = None) -> NotifierView:
        """Checks the URL with apprise, keeps it in the keyring, then saves the notifier."""
        await self.access.require(Permission.NOTIFY, "notify.add", target=name)
        validate_label(name, "notifier")
        chosen = parse_events(events)
        url = url.strip()
        if not url:
            raise InvalidName("The notifier's URL is empty")
        if not _understood(url):
            raise InvalidName(
                f"apprise does not understand the URL given for {name!r} (it is not shown: it may hold "
                "a token); see https://github.com/caronc/apprise/wiki for the forms it takes"
            )
        if await notices.find_notifier(self.ctx.db, name) is not None:  # before its URL is touched
            raise AlreadyExists(f"A notifier named {name!r} already exists (remove it first to change it)")
        await set_secret_async(notifier_secret_name(name), url)
        try:
            notifier = await rows.insert(
                self.ctx.db,
                Notifier(
                    name=name,
                    events=events_text(chosen),
                    created_by=self.access.login,
                    created_at=self.ctx.clock.now(),
                ),
                f"A notifier named {name!r}",
            )
        except Exception:
            await delete_secret_async(notifier_secret_name(name))
            raise
        await self.access.audit("notify.add", AuditResult.SUCCEEDED, target=name, detail=events_text(chosen))
        return _view(notifier, None)

    async def list(self) -> list[NotifierView]:
        await self.access.require(Permission.READ, "notify.list")
        found = await notices.list_notifiers(self.ctx.db)
        states = await notices.deliveries(self.ctx.db)
        return [_view(notifier, states.get(rows.saved_id(notifier.id))) for notifier in found]

    async def test(self, name: str) -> None:
        """Sends a test message now, through the stored URL; RemoteError says why it failed."""
        await self.access.require(Permission.NOTIFY, "notify.test", target=name)
        notifier = await notices.notifier_named(self.ctx.db, name)
        notice = test_notice(name, self.access.login)
        error = await send_through(self.ctx, notifier, notice.title, notice.body, notice.severity)
        await self.access.audit(
            "notify.test",
            AuditResult.SUCCEEDED if error is None else AuditResult.FAILED,
            target=name,
            detail=error,
        )
        if error is not None:
            raise RemoteError(f"The test message to {name!r} was not delivered: {error}")

    async def remove(self, name: str) -> None:
        """The notifier, the messages it still had to deliver, and its URL in the keyring."""
        await self.access.require(Permission.NOTIFY, "notify.remove", target=name)
        notifier = await notices.notifier_named(self.ctx.db, name)
        await notices.remove_notifier(self.ctx.db, rows.saved_id(notifier.id))
        await delete_secret_async(notifier_secret_name(name))
        await self.access.audit("notify.remove", AuditResult.SUCCEEDED, target=name)


def _understood(url: str) -> bool:
    import apprise  # its plugins load slowly: only when a notifier is added

    return bool(apprise.Apprise().add(url))


def _view(notifier: Notifier, state: notices.Delivery | None) -> NotifierView:
    return NotifierView(
        name=notifier.name,
        events=tuple(notifier.events.split(",")),
        pending=state.pending if state else 0,
        failing=state.failing if state else 0,
        given_up=state.given_up if state else 0,
        last_sent=state.last_sent if state else None,
        last_error=state.last_error if state else None,
    )
