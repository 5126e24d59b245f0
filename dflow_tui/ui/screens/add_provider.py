"""Add an S3-compatible storage provider: a keyboard form with a masked secret.

The secret access key is typed into a password field (shown as bullets) and goes
straight to the service layer, which keeps it in the OS keyring. It is never
shown, logged, or put in a message: the form is dismissed with the saved
provider's view, which carries no secret.

Enter moves to the next field; Enter on the last one (or ctrl+s, or the "Add
provider" button) saves; Escape cancels. A refusal from the service (a bad name, an
invalid endpoint URL, no usable keyring...) is shown in the form, which stays
open with what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from dflow_tui.core.redact import redact
from dflow_tui.core.views import ProviderView
from dflow_tui.settings import DEFAULT_PREFIX, DEFAULT_REGION
from dflow_tui.ui.errors import error_message

INTRO = (
    "An S3-compatible bucket (AWS S3, Backblaze B2, MinIO, …). The secret access key "
    "is kept in the OS keyring, never in the state database."
)

# (input id, label, placeholder): in the order of the form.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("provider-name", "Name", "a short name, e.g. b2"),
    ("provider-endpoint", "Endpoint URL", "https://s3.eu-central-003.backblazeb2.com"),
    ("provider-region", "Region", DEFAULT_REGION),
    ("provider-bucket", "Bucket", "my-backups"),
    ("provider-prefix", "Prefix", DEFAULT_PREFIX),
    ("provider-access-key", "Access key id", "the key's id (not secret)"),
    ("provider-secret", "Secret access key", "kept in the OS keyring"),
)
SECRET_FIELD = "provider-secret"

AddProvider = Callable[..., Awaitable[ProviderView]]


class AddProviderScreen(ModalScreen[ProviderView | None]):
    """Dismisses with the added provider, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Add provider"),
        # A priority binding runs as the key is read, before the keys after it are
        # routed: what is typed after Enter (quickly, or by a password manager's
        # auto-type) lands in the next field, never (visible) in the field before
        # the secret. A message from the Input would come too late.
        Binding("enter", "enter", "Next field", show=False, priority=True),
    ]

    def __init__(self, add: AddProvider, *, keyring_problem: str | None = None) -> None:
        """`add` is the service's `StorageProviders.add`."""
        super().__init__(id="add-provider", classes="form-screen")
        self._add = add
        self._keyring_problem = keyring_problem
        self._saving = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog form-dialog") as dialog:
            dialog.border_title = "Add storage provider"
            yield Static(INTRO, classes="form-intro")
            with Grid(id="provider-form"):
                for field_id, label, placeholder in FIELDS:
                    yield Label(label, classes="form-label")
                    yield Input(
                        DEFAULT_PREFIX if field_id == "provider-prefix" else "",
                        placeholder=placeholder,
                        id=field_id,
                        compact=True,
                        password=field_id == SECRET_FIELD,
                    )
            yield Static(id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add provider \\[ctrl+s]", id="add", variant="primary", compact=True)
                yield Button("Cancel \\[esc]", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        if self._keyring_problem:
            self.show_error(self._keyring_problem)
        self.query_one("#provider-name", Input).focus()

    def value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def show_error(self, message: str | None) -> None:
        error = self.query_one("#form-error", Static)
        error.update(Text(message or ""))
        error.set_class(bool(message), "-shown")

    # --- keys ---------------------------------------------------------------

    def action_enter(self) -> None:
        focused = self.focused
        if isinstance(focused, Button):
            focused.press()
        elif isinstance(focused, Input) and focused.id != SECRET_FIELD:
            self.focus_next(Input)
        else:
            self.action_submit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#add")
    def action_submit(self) -> None:
        if self._saving:
            return
        self._saving = True
        self.query_one("#add", Button).disabled = True
        self.show_error(None)
        self.run_worker(
            self._save(),
            name="add-provider",
            group="add-provider",
            description="Adding the storage provider",
            exclusive=True,
            exit_on_error=False,
        )

    async def _save(self) -> None:
        secret = self.value(SECRET_FIELD)
        try:
            provider = await self._add(
                self.value("provider-name").strip(),
                endpoint_url=self.value("provider-endpoint").strip(),
                region=self.value("provider-region").strip(),
                bucket=self.value("provider-bucket").strip(),
                prefix=self.value("provider-prefix").strip(),
                access_key_id=self.value("provider-access-key").strip(),
                secret_access_key=secret,
            )
        except Exception as error:  # every refusal is shown here, the form stays open
            self.show_error(redact(error_message(error), [secret]))
            self._saving = False
            self.query_one("#add", Button).disabled = False
            return
        self.query_one(f"#{SECRET_FIELD}", Input).value = ""
        self.dismiss(provider)
