"""Integrations → Backup Storage: the S3-compatible providers, added, verified, removed.

A full screen over the main one (`s` opens it, Escape goes back). It talks to the
service layer only (`StorageProviders`): add through a form with a masked secret,
verify in a worker (the row shows `verifying…` meanwhile), remove after a
confirmation. When the OS keyring cannot keep secrets, the screen says so first,
with the way to fix it.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Static
from textual.widgets.button import ButtonVariant
from textual.worker import Worker

from dflow_tui.core.views import ProviderView
from dflow_tui.service.storage import StorageProviders
from dflow_tui.ui.errors import notify_worker_error
from dflow_tui.ui.format import (
    NO_VALUE,
    Palette,
    provider_location,
    provider_status_text,
    timestamp,
)
from dflow_tui.ui.screens.add_provider import AddProviderScreen
from dflow_tui.ui.screens.confirm import ConfirmScreen
from dflow_tui.ui.widgets.provider_table import ProviderTable

NO_PROVIDERS = "No storage provider yet: press a to add one (an S3-compatible bucket)."
VERIFY_STEPS = "Verifying: PutObject, GetObject, ListBucket and DeleteObject of a probe object on the prefix…"
SECRET_SHOWN_AS = "•••••••• (in the OS keyring)"

# Worker groups.
LOAD, VERIFY, REMOVE = "providers", "verify", "remove"


class ProvidersChanged(Message):
    """Posted to the app when a provider was added, verified or removed."""


def provider_detail(provider: ProviderView, palette: Palette, *, verifying: bool) -> Group:
    """Everything about one provider; the secret only as bullets."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    endpoint = Text(provider.endpoint_url)
    endpoint.append(f"  region {provider.region}", style="dim")
    table.add_row("Endpoint", endpoint)
    table.add_row("Bucket/prefix", Text(provider_location(provider)))
    table.add_row("Access key id", Text(provider.access_key_id))
    table.add_row("Secret key", SECRET_SHOWN_AS)
    status = Text.assemble(provider_status_text(provider, palette, verifying=verifying))
    if provider.verified_at is not None and not verifying:
        status.append(f"  checked {timestamp(provider.verified_at)} UTC", style="dim")
    table.add_row("Status", status)
    reason = VERIFY_STEPS if verifying else (provider.status_reason or NO_VALUE)
    table.add_row("Reason", Text(reason))
    return Group(table)


class BackupStorageScreen(Screen[None]):
    """Dismisses with None when the user goes back."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("a", "add", "Add provider"),
        Binding("v", "verify", "Verify"),
        Binding("x,delete", "remove", "Remove"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, storage: StorageProviders, refusal: Callable[[], str | None] = lambda: None) -> None:
        """`refusal()` says why the acting user may not manage Backup Storage (None: they may)."""
        super().__init__(id="backup-storage")
        self.storage = storage
        self.refusal = refusal
        self.sub_title = "Integrations → Backup Storage"
        self.providers: list[ProviderView] | None = None
        self.keyring_problem: str | None = None
        self.verifying: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="storage-body"):
            with VerticalScroll(id="keyring-box"):  # the fix can be long on a small terminal
                yield Static(id="keyring-status")
            with Horizontal(id="storage-actions"):
                yield self._button("Add provider \\[a]", "screen.add", "add-provider", "primary")
                yield self._button("Verify \\[v]", "screen.verify", "verify-provider", "success")
                yield self._button("Remove \\[x]", "screen.remove", "remove-provider", "error")
            yield ProviderTable(id="provider-table")
            yield Static(NO_PROVIDERS, id="no-providers")
            yield Static(id="provider-detail")
        yield Footer()

    @staticmethod
    def _button(label: str, action: str, id: str, variant: ButtonVariant) -> Button:
        button = Button(label, id=id, variant=variant, action=action, compact=True)
        button.can_focus = False  # the keys do the same; focus stays on the table
        return button

    @property
    def table(self) -> ProviderTable:
        return self.query_one(ProviderTable)

    @property
    def selected(self) -> ProviderView | None:
        return self.table.selected_provider

    def on_mount(self) -> None:
        self.table.focus()
        self.query_one("#provider-detail").border_title = "Provider"
        self._sync()
        self.run_worker(
            self._load_all(),
            group=LOAD,
            description="Loading the storage providers",
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)

    # --- loading ------------------------------------------------------------

    async def _load_all(self) -> None:
        usable, message = await self.storage.keyring_status()
        self.show_keyring(usable, message)
        await self._load()

    async def _load(self, select: str | None = None) -> None:
        self.providers = await self.storage.list()
        self.table.show_providers(self.providers, frozenset(self.verifying), select=select)
        self._sync()

    def _reload(self, select: str | None = None) -> None:
        self.run_worker(
            self._load(select),
            group=LOAD,
            description="Loading the storage providers",
            exclusive=True,
            exit_on_error=False,
        )

    def action_reload(self) -> None:
        self.run_worker(
            self._load_all(),
            group=LOAD,
            description="Loading the storage providers",
            exclusive=True,
            exit_on_error=False,
        )

    def show_keyring(self, usable: bool, message: str) -> None:
        self.keyring_problem = None if usable else message
        status = self.query_one("#keyring-status", Static)
        if usable:
            status.update(Text(message))
        else:
            text = Text("Secrets cannot be kept: ", style="bold")
            text.append(message, style="not bold")
            status.update(text)
        status.set_class(not usable, "-unusable")
        box = self.query_one("#keyring-box", VerticalScroll)
        box.set_class(not usable, "-unusable")
        box.can_focus = not usable  # Tab reaches it only when there is a fix to scroll through

    # --- what is shown ------------------------------------------------------

    @on(DataTable.RowHighlighted, "#provider-table")
    def _row_highlighted(self) -> None:
        self._sync()

    def _sync(self) -> None:
        provider = self.selected
        loaded = self.providers is not None
        self.set_class(loaded and not self.providers, "-no-providers")
        detail = self.query_one("#provider-detail", Static)
        if provider is None:
            detail.update("")
            detail.display = False
        else:
            detail.display = True
            detail.border_title = f"Provider {provider.name}"
            detail.update(
                provider_detail(provider, self.table.palette, verifying=provider.name in self.verifying)
            )
        busy = provider is not None and provider.name in self.verifying
        denied = self.refusal()
        # A key stays live when the user may not (pressing it says why); the button
        # is disabled and its tooltip says why.
        self.query_one("#add-provider", Button).disabled = denied is not None
        self.query_one("#verify-provider", Button).disabled = provider is None or busy or denied is not None
        self.query_one("#remove-provider", Button).disabled = provider is None or busy or denied is not None
        for button in self.query("#storage-actions Button"):
            button.tooltip = denied
        self.refresh_bindings()

    def _refused(self) -> bool:
        reason = self.refusal()
        if reason is not None:
            self.notify(reason, title="Not allowed", severity="warning", markup=False, timeout=8)
        return reason is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("verify", "remove"):
            provider = self.selected
            return True if provider is not None and provider.name not in self.verifying else None
        return True

    # --- actions ------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        if self._refused():
            return

        def added(provider: ProviderView | None) -> None:
            if provider is None:
                return
            self.notify(
                f"Added {provider.name} ({provider_location(provider)}); press v to verify it "
                "before choosing it as a destination.",
                title="Storage provider added",
                markup=False,
            )
            self.app.post_message(ProvidersChanged())
            self._reload(select=provider.name)

        self.app.push_screen(AddProviderScreen(self.storage.add, keyring_problem=self.keyring_problem), added)

    def action_verify(self) -> None:
        provider = self.selected
        if provider is None or provider.name in self.verifying or self._refused():
            return
        self.verifying.add(provider.name)
        self.table.show_providers(self.providers or [], frozenset(self.verifying))
        self._sync()
        # An app worker: leaving the screen does not cut a verify short (its probe
        # object is cleaned up by the verify itself), and its failure is reported
        # by the app like any other.
        self.app.run_worker(
            self._verify(provider.name),
            name=f"verify {provider.name}",
            group=VERIFY,
            description=f"Verify of {provider.name}",
            exit_on_error=False,
        )

    async def _verify(self, name: str) -> None:
        try:
            result = await self.storage.verify(name)
        finally:
            self.verifying.discard(name)
            self.app.post_message(ProvidersChanged())
            if self.is_attached:
                self._reload()
        if result.ok:
            self.app.notify(f"{name}: {result.reason}", title="Storage provider verified", markup=False)
        else:
            self.app.notify(
                f"{name} is not verified: {result.reason}",
                title="Verify failed",
                severity="error",
                markup=False,
                timeout=10,
            )

    def action_remove(self) -> None:
        provider = self.selected
        if provider is None or provider.name in self.verifying or self._refused():
            return
        message = Text()
        message.append("Remove the storage provider ")
        message.append(provider.name, style="bold")
        message.append(f" (s3://{provider_location(provider)})?\n")
        message.append(
            "Its secret key is deleted from the keyring. The bucket and its objects are not touched."
        )
        name = provider.name

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.run_worker(
                    self._remove(name),
                    group=REMOVE,
                    description=f"Removing storage provider {name}",
                    exit_on_error=False,
                )

        self.app.push_screen(
            ConfirmScreen("Remove storage provider", message, confirm_label="Remove"), confirmed
        )

    async def _remove(self, name: str) -> None:
        try:
            await self.storage.remove(name)
        finally:
            await self._load()
        self.app.post_message(ProvidersChanged())
        self.notify(f"Removed the storage provider {name}.", title="Provider removed", markup=False)
