"""Servers: the hosts backups run on — listed, added, checked, and searched for databases.

A full screen over the main one (`v` opens it, Escape goes back). It talks to the
service layer only (`Inventory`). Checking a connection says plainly what
happened; a host whose key is not known yet shows the key's fingerprint and
offers to trust exactly that key. Discovering imports the databases Dokku lists
into a project/environment, and the main screen's tree is reloaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Header, Input, Static
from textual.worker import Worker

from dflow_tui.core.errors import HostKeyUnknown
from dflow_tui.core.views import ServerView
from dflow_tui.service.inventory import Inventory
from dflow_tui.settings import DEFAULT_BACKUP_DIR, DEFAULT_SSH_PORT
from dflow_tui.ui.errors import error_message, notify_worker_error
from dflow_tui.ui.format import NO_VALUE
from dflow_tui.ui.screens.confirm import ConfirmScreen
from dflow_tui.ui.widgets.toggles import Tick

SERVER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("address", "Address"),
    ("backup_dir", "Backup directory"),
    ("check", "Last check"),
)
NO_SERVERS = "No server yet: press n to add one."
LOAD, CHECK, ADD, TRUST, DISCOVER = "servers", "check", "add-server", "trust", "discover"


class ServicesChanged(Message):
    """Posted to the app when discovery added services."""


class ServersScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "add", "Add server"),
        Binding("c", "check", "Check connection"),
        Binding("i", "discover", "Discover databases"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, inventory: Inventory, refusal: Callable[[], str | None] = lambda: None) -> None:
        """`refusal()` says why the acting user may not manage servers (None: they may);
        checking a connection needs no more than reading."""
        super().__init__(id="servers-screen")
        self.inventory = inventory
        self.refusal = refusal
        self.servers: list[ServerView] | None = None
        self.checks: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="servers-body"):
            with Horizontal(id="server-actions"):
                yield Button("Add server \\[n]", id="add-server", variant="primary", compact=True)
                yield Button("Check connection \\[c]", id="check-server", compact=True)
                yield Button("Discover databases \\[i]", id="discover", compact=True)
            yield DataTable(id="server-table", cursor_type="row", zebra_stripes=True)
            yield Static(NO_SERVERS, id="no-servers")
            yield Static(id="server-result")
        yield Footer()

    @property
    def table(self) -> DataTable:
        return self.query_one("#server-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "Servers"
        for key, label in SERVER_COLUMNS:
            self.table.add_column(label, key=key)
        denied = self.refusal()
        for button in self.query(Button):
            button.can_focus = False
        for button_id in ("#add-server", "#discover"):
            button = self.query_one(button_id, Button)
            button.disabled = denied is not None
            button.tooltip = denied
        self.table.focus()
        self.action_reload()

    def _work(self, work, group: str, description: str) -> Worker:
        return self.run_worker(
            work,
            name=description,
            group=group,
            description=description,
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)

    @on(Button.Pressed, "#add-server")
    def _add_pressed(self) -> None:
        self.action_add()

    @on(Button.Pressed, "#check-server")
    def _check_pressed(self) -> None:
        self.action_check()

    @on(Button.Pressed, "#discover")
    def _discover_pressed(self) -> None:
        self.action_discover()

    def action_back(self) -> None:
        self.dismiss(None)

    def _refused(self) -> bool:
        reason = self.refusal()
        if reason is not None:
            self.notify(reason, title="Not allowed", severity="warning", markup=False, timeout=8)
        return reason is not None

    # --- the list --------------------------------------------------------

    def action_reload(self) -> None:
        self._work(self._load(), LOAD, "Loading the servers")

    async def _load(self, select: str | None = None) -> None:
        self.servers = await self.inventory.list_servers()
        self._show(select)

    def _show(self, select: str | None = None) -> None:
        table = self.table
        current = select or (self.selected.name if self.selected else None)
        table.clear()
        for server in self.servers or []:
            table.add_row(
                Text(server.name),
                Text(server.address),
                Text(server.backup_dir),
                self.checks.get(server.name, Text(NO_VALUE, style="dim")),
                key=server.name,
            )
        self.query_one("#no-servers").display = not self.servers
        if current is not None and self.servers and any(s.name == current for s in self.servers):
            table.move_cursor(row=table.get_row_index(current))

    @property
    def selected(self) -> ServerView | None:
        if not self.servers or not self.table.row_count:
            return None
        row = min(max(self.table.cursor_row, 0), len(self.servers) - 1)
        return self.servers[row]

    def _result(self, text: Text) -> None:
        self.query_one("#server-result", Static).update(text)

    # --- check and trust -------------------------------------------------

    def action_check(self) -> None:
        server = self.selected
        if server is not None:
            self._result(Text(f"Checking {server.name} ({server.address})…", style="italic"))
            self._set_check(server.name, Text("checking…", style="italic"))
            self._work(self._check(server), CHECK, f"Checking {server.name}")

    def _set_check(self, name: str, text: Text) -> None:
        self.checks[name] = text
        if self.table.row_count:
            with contextlib.suppress(Exception):  # the row went away meanwhile
                self.table.update_cell(name, "check", text, update_width=True)

    async def _check(self, server: ServerView) -> None:
        try:
            result = await self.inventory.check_server(server.name)
        except HostKeyUnknown as unknown:
            self._set_check(server.name, Text("host key unknown", style="bold"))
            self._result(
                Text.assemble(
                    ("Host key not known. ", "bold"),
                    f"{unknown.host}:{unknown.port} presents the key\n",
                    (unknown.fingerprint, "bold"),
                    "\nCompare it with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub).",
                )
            )
            self._offer_trust(server, unknown.fingerprint)
            return
        except Exception as error:
            self._set_check(server.name, Text("failed", style="bold"))
            self._result(Text.assemble(("Connection failed. ", "bold"), error_message(error)))
            return
        self._set_check(server.name, Text(f"ok · {result.dokku_version}"))
        self._result(
            Text.assemble(
                ("Connected. ", "bold"),
                f"{result.server} ({result.address}) answers `dokku version`: ",
                (result.dokku_version, "bold"),
            )
        )

    def _offer_trust(self, server: ServerView, fingerprint: str) -> None:
        denied = self.refusal()
        if denied is not None:
            self._result(
                Text.assemble(
                    ("Host key not known. ", "bold"),
                    f"{server.address} presents the key\n",
                    (fingerprint, "bold"),
                    f"\nAn admin can trust it after comparing it. ({denied})",
                )
            )
            return
        message = Text.assemble(
            f"Trust the host key of {server.name} ({server.address})?\n",
            (fingerprint, "bold"),
            "\nIt is added to known_hosts only if the server still presents this exact key.",
        )

        def answered(trust: bool | None) -> None:
            if trust:
                self._work(self._trust(server, fingerprint), TRUST, f"Trusting the host key of {server.name}")

        self.app.push_screen(ConfirmScreen("Unknown host key", message, confirm_label="Trust"), answered)

    async def _trust(self, server: ServerView, fingerprint: str) -> None:
        await self.inventory.trust_server(server.name, expected_fingerprint=fingerprint)
        self.notify(
            f"Host key of {server.name} trusted: {fingerprint}", title="Host key trusted", markup=False
        )
        await self._check(server)

    # --- add -------------------------------------------------------------

    def action_add(self) -> None:
        if self._refused():
            return

        def added(fields: dict[str, Any] | None) -> None:
            if fields is not None:
                self._work(self._add(fields), ADD, f"Adding server {fields['name']}")

        self.app.push_screen(AddServerScreen(), added)

    async def _add(self, fields: dict[str, Any]) -> None:
        server = await self.inventory.add_server(**fields)
        self.notify(f"Server {server.name} added ({server.address}).", title="Server added", markup=False)
        await self._load(select=server.name)

    # --- discover --------------------------------------------------------

    def action_discover(self) -> None:
        server = self.selected
        if server is None or self._refused():
            return

        def chosen(where: tuple[str, str] | None) -> None:
            if where is not None:
                self._result(Text(f"Asking {server.name} which databases it has…", style="italic"))
                self._work(
                    self._discover(server, *where), DISCOVER, f"Discovering databases on {server.name}"
                )

        self.app.push_screen(DiscoverScreen(server.name), chosen)

    async def _discover(self, server: ServerView, project: str, environment: str) -> None:
        found = await self.inventory.discover(server.name, project, environment)
        text = Text.assemble(("Discovered ", "bold"), f"{len(found)} database(s) on {server.name}")
        for item in found:
            text.append(f"\n  {item.path} · {item.engine} · ")
            text.append("added" if item.added else "already listed", style="bold" if item.added else "dim")
        self._result(text)
        if any(item.added for item in found):
            self.app.post_message(ServicesChanged())


Answer = TypeVar("Answer")


class FormScreen(ModalScreen[Answer]):
    """A small modal form: Escape cancels, Enter in the last field or Save submits."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _submit(self) -> None:
        self.submit()

    def submit(self) -> None:
        raise NotImplementedError

    def value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()


class AddServerScreen(FormScreen[dict[str, Any] | None]):
    def __init__(self) -> None:
        super().__init__(id="add-server-form", classes="detail-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form-dialog") as dialog:
            dialog.border_title = "Add server"
            yield Static("Name", classes="form-label")
            yield Input(placeholder="db-1", id="server-name", compact=True)
            yield Tick("This machine (local: no SSH)", id="server-local", compact=True)
            yield Static("Host, port and SSH user", classes="form-label")
            with Horizontal(classes="form-row"):
                yield Input(placeholder="db1.example.com", id="server-host", compact=True)
                yield Input(str(DEFAULT_SSH_PORT), id="server-port", compact=True, type="integer")
                yield Input(placeholder="dokku", id="server-user", compact=True)
            yield Static("SSH key file (empty: your agent / default keys)", classes="form-label")
            yield Input(placeholder="~/.ssh/id_ed25519", id="server-key", compact=True)
            yield Static("Backup directory (under the SSH user's home)", classes="form-label")
            yield Input(DEFAULT_BACKUP_DIR, id="server-backup-dir", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add server", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def submit(self) -> None:
        local = self.query_one("#server-local", Checkbox).value
        name = self.value("server-name")
        if not name:
            self.notify("Give the server a name.", severity="warning")
            return
        port = self.value("server-port") or str(DEFAULT_SSH_PORT)
        self.dismiss(
            {
                "name": name,
                "local": local,
                "host": None if local else (self.value("server-host") or None),
                "port": int(port) if port.isdigit() else DEFAULT_SSH_PORT,
                "user": None if local else (self.value("server-user") or None),
                "key_path": None if local else (self.value("server-key") or None),
                "backup_dir": self.value("server-backup-dir") or DEFAULT_BACKUP_DIR,
            }
        )


class DiscoverScreen(FormScreen[tuple[str, str] | None]):
    """Where the discovered databases go: a project and an environment."""

    def __init__(self, server: str) -> None:
        super().__init__(id="discover-form", classes="detail-screen")
        self.server = server

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form-dialog") as dialog:
            dialog.border_title = f"Discover databases on {self.server}"
            yield Static(
                "The databases Dokku lists are added to this project and environment "
                "(created when missing; the project uses this server).",
                classes="dialog-message",
            )
            yield Static("Project", classes="form-label")
            yield Input(placeholder="shop", id="discover-project", compact=True)
            yield Static("Environment", classes="form-label")
            yield Input("production", id="discover-environment", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Discover", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def submit(self) -> None:
        project, environment = self.value("discover-project"), self.value("discover-environment")
        if not project or not environment:
            self.notify("Give a project and an environment.", severity="warning")
            return
        self.dismiss((project, environment))
