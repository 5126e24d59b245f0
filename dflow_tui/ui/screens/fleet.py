"""Fleet: every service on one screen — where it is, its schedule, and how its backups stand.

`f` opens it from the main screen (and the palette). One row per service, drawn only
as far as the screen shows (RowList), so 10,000 services open at once: with how each
one stood at the app's last health read (every 30 s: last result, success, due), read
again at once; before the app's first read, the services it holds are listed and their
figures fill in when read. `s` orders by
the next column (and a click on a header by that one), `S` turns the order round, `/`
filters by text, Enter opens the service on the main screen, Escape goes back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static
from textual.worker import Worker

from dflow_tui.core.views import FleetRow, ServiceView, human_size
from dflow_tui.service.fleet import Fleet
from dflow_tui.ui.errors import notify_worker_error
from dflow_tui.ui.format import NO_VALUE, Palette, age, due_in, state_text
from dflow_tui.ui.widgets.row_list import Column, Row, RowList

# How each service stands comes first: on 80 columns the last three scroll into view.
COLUMNS = (
    Column("service", "Service", 0, keep_end=True),
    Column("state", "State", 9),
    Column("result", "Result", 11),
    Column("last_success", "Success", 9),
    Column("next_due", "Due", 8),
    Column("tiers", "Tiers", 7),
    Column("proven", "Proven", 9, essential=False),
    Column("size", "Size", 9, essential=False),
    Column("engine", "Engine", 9, essential=False),
    Column("server", "Server", 14, essential=False),
    Column("destination", "Destination", 13, essential=False),
)
STATE_COLUMN = 1
# Worst first: the services whose backups stopped keeping their promise lead the list.
STATE_ORDER = {"late": 0, "never": 1, "failing": 2, "ok": 3, "off": 4}
TIER_LETTERS = {"hourly": "H", "daily": "D", "weekly": "W", "monthly": "M"}
NO_SERVICES = "No services yet: add a server (v on the main screen), or run with --demo."


PENDING = "…"

# A Row per service, twice (listed, then with its figures): each holds its Row, the maker
# of its texts and otherwise plain values (strings, numbers, times), so that building
# 10,000 of them does not set off the collector's full passes over the app's whole heap.


def _place(service: ServiceView) -> tuple[Text, Text, Text]:
    """The last three cells, what a service is and where: engine, server, destination."""
    return Text(service.engine), Text(service.server or NO_VALUE), Text(service.destination_name)


def _place_keys(service: ServiceView) -> tuple[str, str | None, str]:
    return str(service.engine), service.server, str(service.destination_name)


def _search(service: ServiceView, *more: str) -> str:
    """What `/` looks in: the path, engine, server, destination and `more`, lower-case."""
    return " ".join(
        (service.path, service.engine, service.server or "", service.destination_name, *more)
    ).lower()


class _PendingTexts:
    """The cells of a service listed before its figures are read: its place, `…` for the rest."""

    __slots__ = ("service",)

    def __init__(self, service: ServiceView) -> None:
        self.service = service

    def __call__(self) -> tuple[Text, ...]:
        pending = Text(PENDING, style="dim")
        return (Text(self.service.path), *(pending,) * 7, *_place(self.service))


def pending_row(service: ServiceView) -> Row:
    """A service listed before its figures are read: its place now, `…` for the rest."""
    path = service.path
    sort_keys = (path, None, None, None, None, None, None, None, *_place_keys(service))
    return Row(path, sort_keys, _search(service), _PendingTexts(service))


class _FleetTexts:
    """The cells of a service with its figures, made when its row is first drawn."""

    __slots__ = ("now", "palette", "row")

    def __init__(self, row: FleetRow, now: datetime, palette: Palette) -> None:
        self.row = row
        self.now = now
        self.palette = palette

    def __call__(self) -> tuple[Text, ...]:
        row, now, palette = self.row, self.now, self.palette
        result = row.last_result or NO_VALUE
        colour = {"succeeded": palette.success, "failed": palette.error, "in-progress": palette.accent}
        due = row.next_due
        return (
            Text(row.service.path),
            state_text(row.state, palette),
            Text(result, style=Style(color=colour.get(result, palette.muted))),
            Text(age(row.last_success, now)),
            Text(due_in(due, now), style=Style(color=palette.warning) if due and due <= now else ""),
            Text("".join(TIER_LETTERS.get(t, "?") for t in row.tiers) or "off"),
            _proven(row, now, palette),
            Text(human_size(row.last_size) if row.last_size is not None else NO_VALUE),
            *_place(row.service),
        )


def _proven(row: FleetRow, now: datetime, palette: Palette) -> Text:
    """How long ago a restore drill proved it (`2d ago`), or that the newest one failed."""
    if row.drill_failed:
        return Text("failed", style=Style(color=palette.error, bold=True))
    return Text(age(row.proven_at, now))


def fleet_row(row: FleetRow, now: datetime, palette: Palette, listed: Row | None = None) -> Row:
    """Sort keys and search text now; the cells' texts when the row is first drawn.
    `listed`: this service's row as shown before, whose place and search text it takes over."""
    service = row.service
    path = service.path
    if listed is not None:
        place, searched = listed.sort_keys[-3:], listed.search
    else:
        place, searched = _place_keys(service), _search(service)
    sort_keys = (
        path,
        STATE_ORDER.get(row.state, len(STATE_ORDER)),
        row.last_result,
        row.last_success,
        row.next_due,
        len(row.tiers),
        row.proven_at,
        row.last_size,
        *place,
    )
    search = f"{searched} {(row.last_result or NO_VALUE).lower()} {row.state}"
    return Row(path, sort_keys, search, _FleetTexts(row, now, palette))


class FleetScreen(Screen[str | None]):
    """Dismissed with the path of the service to open, or None."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse", "Reverse"),
        Binding("enter", "open", "Open", show=True),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(
        self,
        fleet: Fleet,
        now: Callable[[], datetime],
        services: list[ServiceView] | None = None,
        held: list[FleetRow] | None = None,
    ) -> None:
        """`services`: the ones the main screen has read already, listed at once; `held`:
        how they stood at the app's last health read (every 30 s), shown at once with
        their figures while they are read again."""
        super().__init__(id="fleet-screen")
        self.fleet = fleet
        self.now = now
        self.services = services
        self.held = held
        self.count = 0  # services listed
        self.loaded = False  # their figures are in
        self._listed: list[Row] = []  # the services listed before their figures were read

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="fleet-body"):
            yield Static(id="fleet-summary")
            yield Input(
                placeholder="Filter: part of a path, engine, server, destination or result", id="fleet-filter"
            )
            yield RowList(COLUMNS, sort_column=STATE_COLUMN, id="fleet-table")
        yield Footer()

    @property
    def table(self) -> RowList:
        return self.query_one(RowList)

    def on_mount(self) -> None:
        self.sub_title = "Fleet"
        self.query_one("#fleet-filter", Input).display = False
        self.table.focus()
        if self.held:
            self.count = len(self.held)
            self._show_figures(self.held)
            self._summarise()
            # Complete already: read again once they are on screen.
            self.call_after_refresh(self._reload, self.services or None)
            return
        if self.services:
            self.count = len(self.services)
            self._listed = [pending_row(service) for service in self.services]
            self.table.show(self._listed)
            self._summarise()
        # Read while the list is drawn (the read waits on the database most of its time);
        # the first read takes the services listed as they are.
        self._reload(self.services or None)

    def action_reload(self) -> None:
        self._reload(None)

    def _reload(self, services: list[ServiceView] | None) -> None:
        self.run_worker(
            self._load(services),
            name="fleet",
            group="fleet",
            exclusive=True,
            description="Loading the fleet",
            exit_on_error=False,
        )

    async def _load(self, services: list[ServiceView] | None) -> None:
        rows = await self.fleet.rows(services=services)
        self.count = len(rows)
        self._show_figures(rows)
        self.loaded = True
        self._summarise()

    def _show_figures(self, rows: list[FleetRow]) -> None:
        palette = Palette.from_theme_variables(self.app.theme_variables)
        now = self.now()  # after the rows: what was due when they were read is due now
        # Rows of the services listed take over their place and search text.
        listed = {row.key: row for row in self._listed}
        self._listed = []
        self.table.show([fleet_row(row, now, palette, listed.get(row.path)) for row in rows])

    def _summarise(self) -> None:
        table = self.table
        if not self.count:
            self.query_one("#fleet-summary", Static).update(NO_SERVICES)
            return
        column = COLUMNS[table.sort_column].title.lower()
        order = "descending" if table.sort_reverse else "ascending"
        shown = (
            f"{len(table.rows):,} of {self.count:,} services"
            if table.filter_text
            else f"{self.count:,} services"
        )
        matching = f"  ·  filter: {table.filter_text!r}" if table.filter_text else ""
        if self.loaded:
            reading = ""
        elif self.held:
            reading = "  ·  reading again…"
        else:
            reading = "  ·  reading how each stands…"
        self.query_one("#fleet-summary", Static).update(
            Text(f"{shown}  ·  by {column}, {order}{matching}{reading}")
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)

    def action_next_sort(self) -> None:
        self.table.sort_by((self.table.sort_column + 1) % len(COLUMNS), reverse=False)

    def action_reverse(self) -> None:
        self.table.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)

    @on(RowList.Sorted)
    def _sorted(self) -> None:
        self._summarise()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter(event.value)
        self._summarise()

    @on(Input.Submitted, "#fleet-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_back(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if box.display and (box.has_focus or box.value):
            box.value = ""
            box.display = False
            self.table.focus()
            return
        self.dismiss(None)

    def action_open(self) -> None:
        if self.table.cursor_key is not None:
            self.dismiss(self.table.cursor_key)

    @on(RowList.Chosen)
    def _chosen(self, event: RowList.Chosen) -> None:
        self.dismiss(event.key)
