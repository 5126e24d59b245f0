"""The command palette's own entries (posting's pattern: a provider that knows the
app's state), added to Textual's built-in ones rather than replacing them.

Jump to any service by name, open Servers, Backup Storage or Activity, toggle the
light/dark theme, show the keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from dflow_tui.core.views import ServiceView


class PaletteHost(Protocol):
    """What the palette needs of the app (the app provides it; no import of the app here)."""

    @property
    def services(self) -> Sequence[ServiceView] | None: ...

    def go_to_service(self, path: str) -> None: ...

    def run_action(self, action: str) -> Awaitable[Any]: ...


SCREENS = (
    ("Open Fleet", "Every service: schedule, last success, next due, last result", "open_fleet"),
    ("Open Servers", "Servers: list, add, check connection, discover databases", "open_servers"),
    ("Open Backup Storage", "S3-compatible storage providers", "open_storage"),
    ("Open Activity", "The audit log: who did what, when", "open_activity"),
    (
        "Prove the selected backup restores",
        "A restore drill: into a throwaway service, counted, destroyed (p)",
        "drill",
    ),
    (
        "Copy the selected backup to another place",
        "One more copy, or its missing copy redone: the server's disk or a provider (y)",
        "copy_backup",
    ),
    ("Toggle light/dark theme", "Switch between the light and the dark theme", "toggle_theme"),
    ("Show keys", "Every key binding of the main screen", "show_keys"),
)


class DflowCommands(Provider):
    @property
    def host(self) -> PaletteHost:
        return cast(PaletteHost, self.app)

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.host
        commands: list[tuple[str, str, Callable[[], Any]]] = []
        for service in app.services or []:
            commands.append(
                (
                    f"Go to {service.path}",
                    f"{service.engine} service on {service.server or 'no server'}",
                    partial(app.go_to_service, service.path),
                )
            )
        for title, help_text, action in SCREENS:
            commands.append((title, help_text, partial(app.run_action, action)))
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
