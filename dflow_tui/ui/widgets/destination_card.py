"""The "Backup destination" card of a service's Backups tab.

Internal (the server's disk) or external (one **verified** storage provider), the
copies beside it ("Copies…": more places each backup is also stored in, from the same
export), then "Save destination". The card's title shows what is saved; the choice on
the card is only a draft until saved, and it affects the next backups only.

A view only: the app hands it the service and the providers, and it asks the
app to save with a `SaveRequested` message. When no provider is verified, the
external choice says so and offers the Backup Storage screen.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, RadioButton, RadioSet, Select, Static

from dflow_tui.core.copies import places_label
from dflow_tui.core.views import ProviderView, ServiceView
from dflow_tui.ui.format import EXTERNAL, INTERNAL, destination_text
from dflow_tui.ui.screens.copies import CopiesScreen
from dflow_tui.ui.widgets.toggles import Choice

TITLE = "Backup destination"
INTERNAL_HINT = "On the server's disk."
NO_VERIFIED = "No verified provider yet."
PROVIDER_PROMPT = "Choose a provider"
NO_SCHEDULE = "Active schedules: none"


def copies_label(copies: tuple[str, ...]) -> str:
    return f"Copies: {places_label(copies)}" if copies else "Copies: none"


class DestinationCard(Vertical):
    class SaveRequested(Message):
        """Save `destination` (internal/external) with `provider` and `copies` for the shown service."""

        def __init__(
            self, service: ServiceView, destination: str, provider: str | None, copies: tuple[str, ...]
        ) -> None:
            self.service = service
            self.destination = destination
            self.provider = provider
            self.copies = copies
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.service: ServiceView | None = None
        self.providers: list[ProviderView] = []
        self._saved: tuple[str, str | None, tuple[str, ...]] | None = None
        self._copies: tuple[str, ...] = ()  # the draft's copies

    def compose(self) -> ComposeResult:
        with RadioSet(id="destination-kind", compact=True):
            yield Choice("Internal", id="destination-internal", value=True)
            yield Choice("External", id="destination-external")
        with Horizontal(id="destination-detail"):
            yield Static(INTERNAL_HINT, id="destination-hint")
            yield Select[str]([], prompt=PROVIDER_PROMPT, id="destination-provider", compact=True)
            yield Button("Backup Storage \\[s]", id="open-storage", action="app.open_storage", compact=True)
            yield Button(copies_label(()), id="destination-copies", compact=True)
            yield Button("Save destination", id="save-destination", variant="primary", compact=True)
        yield Static(NO_SCHEDULE, id="schedule-active")

    def on_mount(self) -> None:
        self.border_title = TITLE
        self._sync()

    # --- reading the draft --------------------------------------------------

    @property
    def verified(self) -> list[str]:
        return [provider.name for provider in self.providers if provider.verified]

    @property
    def choice(self) -> str:
        external = self.query_one("#destination-external", RadioButton).value
        return EXTERNAL if external else INTERNAL

    @property
    def chosen_provider(self) -> str | None:
        select = self.query_one("#destination-provider", Select)
        return None if select.is_blank() else str(select.value)

    # --- what the app hands it ----------------------------------------------

    def show_service(self, service: ServiceView | None) -> None:
        """Resets the draft to what is saved when the service, or what it has saved, changed."""
        saved = (service.destination, service.provider, service.copies) if service is not None else None
        moved = service is None or self.service is None or service.path != self.service.path
        self.service = service
        if service is not None and (moved or saved != self._saved):
            self._saved = saved
            self._reset_draft(service)
        self._sync()

    def show_schedule(self, active_text: Text | str | None) -> None:
        """`Active schedules: Daily, Weekly`, as the service layer words it."""
        self.query_one("#schedule-active", Static).update(active_text or NO_SCHEDULE)

    def show_providers(self, providers: list[ProviderView]) -> None:
        """The providers known now; only the verified ones can be chosen."""
        self.providers = providers
        select = self.query_one("#destination-provider", Select)
        current = self.chosen_provider
        if current is None and self.service is not None and self.service.destination == EXTERNAL:
            current = self.service.provider
        names = self.verified
        with self.prevent(Select.Changed):
            select.set_options([(name, name) for name in names])
            if current in names:
                select.value = current
        self._sync()

    def _reset_draft(self, service: ServiceView) -> None:
        external = service.destination == EXTERNAL
        # Only ever switch a button on: the RadioSet switches the other one off (and
        # it refuses a button being switched off directly).
        button = "#destination-external" if external else "#destination-internal"
        self.query_one(button, RadioButton).value = True
        self._copies = service.copies
        select = self.query_one("#destination-provider", Select)
        with self.prevent(Select.Changed):
            if external and service.provider in self.verified:
                select.value = service.provider
            else:
                select.clear()

    # --- showing the draft --------------------------------------------------

    @on(RadioSet.Changed, "#destination-kind")
    @on(Select.Changed, "#destination-provider")
    def _draft_changed(self) -> None:
        self._sync()

    def _sync(self) -> None:
        external = self.choice == EXTERNAL
        none_verified = not self.verified
        self.set_class(external, "-external")
        self.set_class(external and none_verified, "-no-provider")
        hint = self.query_one("#destination-hint", Static)
        if not external:
            hint.update(INTERNAL_HINT)
        elif none_verified:
            hint.update(NO_VERIFIED)
        self.query_one("#destination-copies", Button).label = copies_label(self._copies)
        save = self.query_one("#save-destination", Button)
        save.disabled = self.service is None or (external and self.chosen_provider is None)
        if self.service is None:
            self.border_title = TITLE
            self.border_subtitle = ""
            return
        self.border_title = f"{TITLE}: {destination_text(self.service)}"
        draft = (self.choice, self.chosen_provider if external else None, self._copies)
        self.border_subtitle = "not saved" if draft != self._saved else ""

    # --- copies -------------------------------------------------------------

    @property
    def primary_place(self) -> str | None:
        """Where the draft's primary goes: `internal` or the chosen provider."""
        return self.chosen_provider if self.choice == EXTERNAL else INTERNAL

    @on(Button.Pressed, "#destination-copies")
    def _choose_copies(self, event: Button.Pressed) -> None:
        event.stop()
        if self.service is None:
            return
        # The verified providers, and any saved copy whose provider is no longer verified
        # (shown ticked, so that unticking it is a choice).
        places = [INTERNAL, *self.verified]
        places += [copy for copy in self._copies if copy not in places]
        screen = CopiesScreen(self.service.path, self.primary_place or "", places, self._copies)
        self.app.push_screen(screen, self._copies_chosen)

    def _copies_chosen(self, copies: tuple[str, ...] | None) -> None:
        if copies is not None:
            self._copies = copies
            self._sync()

    # --- saving -------------------------------------------------------------

    @on(Button.Pressed, "#save-destination")
    def _save(self, event: Button.Pressed) -> None:
        event.stop()
        if self.service is None:
            return
        external = self.choice == EXTERNAL
        self.post_message(
            self.SaveRequested(
                self.service, self.choice, self.chosen_provider if external else None, self._copies
            )
        )
