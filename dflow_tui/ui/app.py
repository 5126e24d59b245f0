"""The full-screen app: pick a service, see and act on its backups.

The app is the only place that talks to the service layer; widgets show what it
hands them and trigger its actions. Every call runs in a worker (harlequin's
pattern): `exit_on_error=False`, a group and a description, and a single
`on_worker_state_changed` turns any failure into a notification — a user sees a
sentence, never a traceback, and the app keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable
from functools import partial

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widget import MountError
from textual.widgets import Footer, Header, Input, TabbedContent, TabPane, Tabs
from textual.worker import Worker

from dflow_tui.core.clock import Clock
from dflow_tui.core.enums import BackupStatus, RecoveryState, WorkerKind
from dflow_tui.core.errors import DflowError
from dflow_tui.core.permissions import Permission
from dflow_tui.core.views import (
    BackupView,
    FleetRow,
    ProviderView,
    ScheduleView,
    ServiceView,
)
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.ui.commands import DflowCommands
from dflow_tui.ui.errors import error_message, notify_worker_error
from dflow_tui.ui.format import EXTERNAL, Palette, backup_title, health_line, schedule_line
from dflow_tui.ui.job_watch import AppJobWatcher, JobEnded, JobProgressed, JobStarted, RunningJobs
from dflow_tui.ui.resources import stylesheet
from dflow_tui.ui.screens.activity import ActivityScreen
from dflow_tui.ui.screens.backup_detail import BackupDetailScreen
from dflow_tui.ui.screens.backup_storage import BackupStorageScreen, ProvidersChanged
from dflow_tui.ui.screens.confirm import (
    ConfirmScreen,
    DeleteConfirmScreen,
    RestoreConfirmScreen,
    RestoreIntoScreen,
)
from dflow_tui.ui.screens.copies import CopyToScreen, copy_places
from dflow_tui.ui.screens.fleet import FleetScreen
from dflow_tui.ui.screens.help import HelpScreen
from dflow_tui.ui.screens.schedule import ScheduleScreen
from dflow_tui.ui.screens.servers import ServersScreen, ServicesChanged
from dflow_tui.ui.widgets.backup_table import BackupTable
from dflow_tui.ui.widgets.backups_panel import NO_SERVICES_YET, PICK_A_SERVICE, BackupsPanel
from dflow_tui.ui.widgets.destination_card import DestinationCard
from dflow_tui.ui.widgets.service_tree import ServiceFilter, ServiceTree, matching
from dflow_tui.ui.worker_groups import (
    CANCEL,
    DESTINATION,
    HEALTH,
    INVENTORY,
    JOBS,
    PROVIDERS,
    REFRESH,
    SCHEDULE,
    SHORT_WORK_TIMEOUT,
    SHUTDOWN,
    STARTUP,
)

HEALTH_INTERVAL = 30.0
"""Seconds between two looks at how the fleet stands (a service turns late by time alone)."""

# Actions on the main screen only: the Backup Storage screen must not start a backup.
MAIN_SCREEN_ACTIONS = (
    "create_backup",
    "restore",
    "restore_into",
    "drill",
    "copy_backup",
    "delete",
    "show_backup",
    "open_storage",
    "edit_schedule",
    "open_activity",
    "open_servers",
    "show_keys",
    "cancel_job",
)
# What each action needs; without it the action says why instead of running.
NEEDS = {
    "create_backup": Permission.CREATE,
    "restore": Permission.RESTORE,
    "restore_into": Permission.RESTORE,
    "drill": Permission.RESTORE,
    "delete": Permission.DELETE,
    "edit_schedule": Permission.SCHEDULE,
}

__all__ = ["DflowApp", "error_message", "run_app"]


def settle_start_up_heap() -> None:
    """What start-up made (modules, the main screen, the services) lives as long as the app:
    frozen, the collector's full passes no longer walk it. Those passes are set off by
    building many objects at once — a fleet of 10,000 services' rows, say — and each one
    walked the whole heap (about 100 ms)."""
    gc.collect()
    gc.freeze()


class DflowApp(App[None]):
    TITLE = "dflow-tui"
    SUB_TITLE = "Database backups"
    CSS_PATH = [stylesheet(), stylesheet("storage.tcss")]
    COMMANDS = App.COMMANDS | {DflowCommands}
    # Small terminals (80×24) get a narrower tree and tighter spacing (styles/app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        # First, so even an 80-column footer shows where the other keys are listed.
        # The footer shows as many as fit, in this order: at 80 columns, up to Quit.
        Binding("question_mark", "show_keys", "Keys"),
        Binding("b", "create_backup", "Backup"),
        Binding("r", "restore", "Restore"),
        Binding("d", "delete", "Delete"),
        Binding("x", "cancel_job", "Cancel job"),
        Binding("q", "quit", "Quit"),
        Binding("e", "show_backup", "Details"),
        Binding("c", "edit_schedule", "Schedule"),
        Binding("s", "open_storage", "Storage"),
        Binding("a", "open_activity", "Activity"),
        Binding("v", "open_servers", "Servers"),
        Binding("R", "restore_into", "Restore into another service", show=False),
        Binding("p", "drill", "Prove it restores (a restore drill)", show=False),
        Binding("y", "copy_backup", "Copy the backup to another place", show=False),
        Binding("f", "open_fleet", "Fleet: every service", show=False),
        Binding("slash", "filter_services", "Filter the services", show=False),
        Binding("t", "toggle_theme", "Light/dark theme", show=False),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
        dflow: Dflow | None = None,
        scheduler: bool = True,
    ) -> None:
        """`dflow`, when given, is already open and stays open: its owner closes it.

        With `scheduler`, the app runs the worker loop (scheduler passes and queued
        jobs) in the background while it is open, like `dflow-tui worker`.
        """
        super().__init__()
        self._run_scheduler = scheduler
        # Why the acting user may not use each permission (None: they may), as the
        # service layer says: the app shows it, it does not decide it.
        self.refusals: dict[Permission, str | None] = {}
        self.schedule: ScheduleView | None = None
        self.settings = settings
        self._clock = clock
        self._actor = actor
        self.dflow: Dflow | None = dflow
        self._owns_dflow = dflow is None
        self.services: list[ServiceView] | None = None
        # How each service stood at the last health read (every 30 s): the Fleet view opens on it.
        self.fleet_rows: list[FleetRow] | None = None
        self.providers: list[ProviderView] | None = None
        self.service: ServiceView | None = None
        self._refresh_timer: Timer | None = None
        self._refresh_error: str | None = None
        # (path, revision) of what the table shows: an idle poll costs one small query.
        self._shown_revision: tuple | None = None
        self.running_jobs = RunningJobs()
        self.monotonic = time.monotonic  # rate and ETA are measured with it
        self._action_state: tuple[object, ...] | None = None
        self._who = ""  # the header: who acts, then how the fleet stands (when it has schedules)
        self._health = ""

    # --- layout ----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="tree-pane"):
                yield ServiceFilter(id="service-filter")
                yield ServiceTree(id="services")
            with TabbedContent(id="service-tabs", initial="backups"):
                with TabPane("Backups", id="backups"):
                    yield BackupsPanel(id="backups-panel")
        yield Footer(show_command_palette=False)

    @property
    def panel(self) -> BackupsPanel:
        return self.query_one(BackupsPanel)

    @property
    def table(self) -> BackupTable:
        return self.query_one(BackupTable)

    @property
    def service_tree(self) -> ServiceTree:
        return self.query_one(ServiceTree)

    def on_mount(self) -> None:
        # One tab only: its strip is a title, not a stop on the way from the tree to the card.
        self.query_one("#service-tabs", TabbedContent).query_one(Tabs).can_focus = False
        self.service_tree.focus()
        self._sync_actions()
        self._work(partial(self._open), STARTUP, "Opening the state database", exclusive=True)

    async def on_unmount(self) -> None:
        # Reads and saves in flight end by themselves first (they are short): one
        # cancelled while SQLite makes it wait for the write lock could leave the
        # lock taken behind it.
        self._stop_refresh_timer()
        short = [worker for worker in self.workers if worker.group != SHUTDOWN and not worker.is_finished]
        if short:
            with contextlib.suppress(Exception):  # still stuck: Textual cancels it
                await asyncio.wait_for(self.workers.wait_for_complete(short), SHORT_WORK_TIMEOUT)
        if self.dflow is not None:
            # Jobs still running stop now, and record how they ended before the
            # database goes away (the quit dialog said so).
            await self.dflow.stop_worker(grace=0)
            self.dflow.worker.watcher = None
        if self._owns_dflow and self.dflow is not None:
            await self.dflow.close()
            self.dflow = None

    # --- workers and errors ----------------------------------------------

    def _work(
        self, work: Callable[[], Awaitable], group: str, description: str, *, exclusive: bool = False
    ) -> Worker:
        """`work` is called when the worker starts: one replaced before it starts (an
        exclusive refresh, say) leaves no coroutine behind that nobody awaits."""
        return self.run_worker(
            work,
            name=description,
            group=group,
            description=description,
            exclusive=exclusive,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Work cut short by closing the app (its screens go first, then the state) is no
        # error: Textual stops running before it tears anything down.
        if not self.is_running:
            return
        if not notify_worker_error(self, event):
            return
        if event.worker.group == STARTUP:
            self.panel.show_hint("The state database could not be opened; see the message.")

    # --- services --------------------------------------------------------

    async def _open(self) -> None:
        if self.dflow is None:
            self.dflow = await Dflow.open(
                self.settings, clock=self._clock, actor=self._actor, role=WorkerKind.APP
            )
        await self._load_access()
        await self._load_services()  # first: the loop's jobs are shown under their service
        # Every job this window runs (a key, or the queue) reports through one watcher.
        self.dflow.start_worker(
            kind=WorkerKind.APP,
            watcher=AppJobWatcher(self, lambda: self.monotonic()),
            scheduler=self._run_scheduler,
        )
        await self._load_providers()
        self.set_interval(HEALTH_INTERVAL, self.refresh_health, name="fleet-health")
        settle_start_up_heap()

    # --- who is acting, and what they may do ------------------------------

    async def _load_access(self) -> None:
        assert self.dflow is not None
        role = await self.dflow.access.role()
        self.refusals = await self.dflow.access.refusals()
        self._who = f"Database backups · {self.dflow.actor} ({role or 'unknown user'})"
        self._show_title()
        self._action_state = None
        self._sync_actions()

    def refusal(self, permission: Permission) -> str | None:
        """Why the acting user may not do it (the service layer's own words), or None."""
        return self.refusals.get(permission) if self.dflow is not None else None

    def refused(self, reason: str | None, title: str = "Not allowed") -> bool:
        """Says why when there is a reason not to: True when refused."""
        if reason is None:
            return False
        self.notify(reason, title=title, severity="warning", markup=False, timeout=8)
        return True

    async def _load_services(self) -> None:
        assert self.dflow is not None
        services = await self.dflow.inventory.list_services()
        self.services = services
        self._show_tree()
        self.refresh_health()
        self.panel.show_hint(PICK_A_SERVICE if services else NO_SERVICES_YET)
        if self.service is not None:
            fresh = next((s for s in services if s.path == self.service.path), None)
            self._select(fresh)

    # --- how the fleet stands: the header's counts, the tree's badges ------

    def refresh_health(self) -> None:
        if self.dflow is not None and self.is_running:
            self._work(partial(self._load_health), HEALTH, "Reading how the fleet stands", exclusive=True)

    async def _load_health(self) -> None:
        assert self.dflow is not None
        health = await self.dflow.fleet.health(self.services)
        self.fleet_rows = health.rows
        states = health.states
        scheduled = any(state != RecoveryState.OFF for state in states.values())
        late, failing, never = (
            health.count(state) for state in (RecoveryState.LATE, RecoveryState.FAILING, RecoveryState.NEVER)
        )
        if scheduled or health.undelivered:
            self._health = health_line(late, failing, never, health.undelivered)
        else:
            self._health = ""
        self._show_title()
        palette = Palette.from_theme_variables(self.theme_variables)
        if states != self.service_tree.states:
            self.service_tree.show_states(states, palette)

    def _show_title(self) -> None:
        # How the fleet stands first: on a narrow terminal the header cuts its end.
        self.sub_title = " · ".join(part for part in (self._health, self._who) if part)

    def action_reload(self) -> None:
        if self.dflow is None:
            return
        self._work(partial(self._load_services), INVENTORY, "Reloading the services", exclusive=True)
        self.reload_providers()
        self.refresh_backups()

    @on(ServiceTree.ServiceHighlighted)
    def _service_highlighted(self, event: ServiceTree.ServiceHighlighted) -> None:
        self._select(event.service)

    @on(ServiceTree.ServiceChosen)
    def _service_chosen(self, event: ServiceTree.ServiceChosen) -> None:
        self._select(event.service)
        self.table.focus()

    def _select(self, service: ServiceView | None) -> None:
        same = service is not None and self.service is not None and service.path == self.service.path
        self.service = service
        self.panel.show_service(service)
        if service is not None:
            self._show_jobs(service.path)
        if not same:
            self.refresh_backups()
        self._sync_actions()

    # --- destination and storage providers --------------------------------

    async def _load_providers(self) -> None:
        assert self.dflow is not None
        self.providers = await self.dflow.storage.list()
        self.panel.show_providers(self.providers)

    def reload_providers(self) -> None:
        if self.dflow is not None:
            self._work(
                partial(self._load_providers), PROVIDERS, "Loading the storage providers", exclusive=True
            )

    @on(ProvidersChanged)
    def _providers_changed(self) -> None:
        self.reload_providers()

    def action_open_storage(self) -> None:
        if self.dflow is None:
            return
        screen = BackupStorageScreen(self.dflow.storage, lambda: self.refusal(Permission.STORAGE))
        self.push_screen(screen, lambda _: self.reload_providers())

    def action_open_servers(self) -> None:
        if self.dflow is None:
            return
        self.push_screen(ServersScreen(self.dflow.inventory, lambda: self.refusal(Permission.INVENTORY)))

    @on(ServicesChanged)
    def _services_changed(self) -> None:
        if self.dflow is not None:
            self._work(partial(self._load_services), INVENTORY, "Reloading the services", exclusive=True)

    def go_to_service(self, path: str) -> None:
        """Shows that service (the command palette's "Go to …")."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if self.service_tree.go_to(path):
            self.service_tree.focus()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_show_keys(self) -> None:
        keys = [
            (binding.key.replace("question_mark", "?").replace("slash", "/"), binding.description)
            for binding in self.BINDINGS
            if isinstance(binding, Binding) and binding.description
        ]
        self.push_screen(HelpScreen(keys))

    def action_filter_services(self) -> None:
        box = self.query_one(ServiceFilter)
        box.display = True
        box.focus()

    @on(Input.Changed, "#service-filter")
    def _filter_services(self) -> None:
        self._show_tree()

    def _show_tree(self) -> None:
        """The services the filter lets through, the cursor kept on the one shown."""
        if self.services is not None:
            shown = matching(self.services, self.query_one(ServiceFilter).value)
            self.service_tree.show_services(shown, keep=self.service.path if self.service else None)

    @on(Input.Submitted, "#service-filter")
    def _filter_done(self) -> None:
        self.service_tree.focus()

    def action_open_fleet(self) -> None:
        if self.dflow is None:
            return

        def chosen(path: str | None) -> None:
            if path is not None:
                self.go_to_service(path)

        screen = FleetScreen(self.dflow.fleet, self.dflow.clock.now, self.services, self.fleet_rows)
        self.push_screen(screen, chosen)

    def action_open_activity(self) -> None:
        if self.dflow is None:
            return
        service = self.service.path if self.service is not None else None
        self.push_screen(ActivityScreen(self.dflow.audit, service))

    @on(DestinationCard.SaveRequested)
    def _save_destination(self, event: DestinationCard.SaveRequested) -> None:
        if self.dflow is None or self.refused(self.refusal(Permission.DESTINATION)):
            return
        path = event.service.path
        self._work(
            partial(self._set_destination, path, event.destination, event.provider, event.copies),
            DESTINATION,
            f"Saving the destination of {path}",
            exclusive=True,
        )

    async def _set_destination(
        self, path: str, destination: str, provider: str | None, copies: tuple[str, ...]
    ) -> None:
        assert self.dflow is not None
        # The compression saved stays as it is (None): the card does not show it.
        await self.dflow.destinations.set(path, destination, provider, None, copies)
        await self._load_services()
        where = f"external storage {provider}" if destination == EXTERNAL else "the server's disk (internal)"
        if copies:
            where += f", with copies in {', '.join(copies)}"
        self.notify(
            f"The next backups of {path} go to {where}; existing backups keep their type.",
            title="Destination saved",
            markup=False,
        )

    # --- the live backup list --------------------------------------------

    def refresh_backups(self, force: bool = True) -> None:
        """Fetches the shown service's backups now; the next fetch is armed after it.

        The timer's polls (force=False) fetch the list only when its revision moved."""
        self._stop_refresh_timer()
        if self.dflow is None or self.service is None:
            return
        path = self.service.path
        if force:
            self._shown_revision = None
        self._work(
            partial(self._fetch_backups, path), REFRESH, f"Refreshing the backups of {path}", exclusive=True
        )

    async def _fetch_backups(self, path: str) -> None:
        assert self.dflow is not None
        delay = self.settings.refresh_interval
        try:
            revision = (path, await self.dflow.backups.revision(path))
            if revision == self._shown_revision:
                self._arm_refresh(delay)
                return
            backups = await self.dflow.backups.list(path)
            schedule = await self.dflow.schedules.show(path)
            self._shown_revision = revision
        except Exception as error:  # keeps polling, without a notification every second
            message = error_message(error)
            if message != self._refresh_error:
                self.notify(message, title="Could not refresh the backups", severity="error", markup=False)
            self._refresh_error = message
            delay = max(5 * delay, 5.0)
        else:
            self._refresh_error = None
            if self.service is not None and self.service.path == path:
                self.panel.show_backups(backups)
                self._show_schedule(schedule)
                self._sync_actions()
        self._arm_refresh(delay)

    def _polling(self) -> bool:
        if self.service is None or not self.is_running:
            return False
        return self.query_one(TabbedContent).active == "backups"

    def _arm_refresh(self, delay: float) -> None:
        self._stop_refresh_timer()
        if self._polling():
            self._refresh_timer = self.set_timer(
                delay, lambda: self.refresh_backups(force=False), name="backups-refresh"
            )

    def _stop_refresh_timer(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "backups":
            self.refresh_backups()
        else:
            self._stop_refresh_timer()

    @on(BackupTable.Highlighted, "#backup-table")
    def _row_highlighted(self) -> None:
        self._sync_actions()

    @on(BackupTable.Chosen, "#backup-table")
    def _row_selected(self) -> None:
        self.action_show_backup()

    # --- what can be done now --------------------------------------------

    def _selected_backup(self) -> BackupView | None:
        if self.service is None:
            return None
        try:
            return self.table.selected_backup
        except NoMatches:  # not composed yet
            return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False  # another screen is in front: only its own keys apply (and show)
        return self._can(action)

    def _can(self, action: str) -> bool | None:
        if action in ("open_storage", "open_activity", "open_servers"):
            return True if self.dflow is not None else None
        if action in ("create_backup", "edit_schedule"):
            return True if (self.dflow is not None and self.service is not None) else None
        if action in ("restore", "restore_into", "drill", "copy_backup", "delete", "show_backup"):
            return True if (self.dflow is not None and self._selected_backup() is not None) else None
        if action == "cancel_job":
            # Offered only on a row where a job runs that may be stopped: the footer stays short.
            backup = self._selected_backup()
            return self.dflow is not None and backup is not None and backup.cancel_refusal is None
        return True

    def _sync_actions(self) -> None:
        try:
            panel = self.panel
        except NoMatches:  # not composed yet
            return
        # A key stays live when it may not be used (pressing it says why); the
        # button is disabled and its tooltip says why.
        service = self.service if self.dflow is not None else None
        backup = self._selected_backup() if self.dflow is not None else None
        reasons = {
            "create-backup": self.refusal(Permission.CREATE),
            "restore": backup.restore_refusal if backup else None,
            "delete": backup.delete_refusal if backup else None,
            "edit-schedule": self.refusal(Permission.SCHEDULE),
        }
        state = (
            service is not None and reasons["create-backup"] is None,
            backup is not None and reasons["restore"] is None,
            backup is not None and reasons["delete"] is None,
            service is not None and reasons["edit-schedule"] is None,
            tuple(reasons.values()),
            self._can("cancel_job"),
            backup is not None,
        )
        if state != self._action_state:  # the footer is redrawn only when something changed
            self._action_state = state
            panel.enable_actions(create=state[0], restore=state[1], delete=state[2], schedule=state[3])
            panel.explain_refusals(reasons)
            self.refresh_bindings()

    # --- jobs: started by a key, run by the service layer's worker loop ----

    def action_create_backup(self) -> None:
        if self.dflow is None or self.service is None or self.refused(self.refusal(Permission.CREATE)):
            return
        self._work(partial(self._start_backup, self.service.path), JOBS, f"Backup of {self.service.path}")

    async def _start_backup(self, path: str) -> None:
        assert self.dflow is not None
        try:
            backup = await self.dflow.backups.create(path, wait=False)
        except DflowError as refusal:  # a backup runs already, no server, …: a refusal, not a failure
            self.refused(str(refusal), "Backup not started")
            return
        if self.service is not None and self.service.path == path:
            # Shown at once, before the job's first step, with the cursor on it.
            others = [b for b in self.table.backups if b.id != backup.id]
            self.panel.show_backups([backup, *others])
            self.table.select_backup(backup.id)
            self._sync_actions()
        self.refresh_backups()

    def action_restore(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(backup.restore_refusal):
            return
        screen = RestoreConfirmScreen(backup, server=self.service.server)

        def confirmed(answer: bool | None) -> None:
            if answer:
                start = partial(self._start_operation, "restore", backup, screen.safety_backup)
                self._work(start, JOBS, f"Restore of {backup.service_path}")

        self.push_screen(screen, confirmed)

    def action_restore_into(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(backup.restore_refusal):
            return
        engine, source = self.service.engine, self.service.path
        targets = [s.path for s in self.services or [] if s.engine == engine and s.path != source]
        if self.refused(
            None if targets else f"No other {engine} service to restore into: add one first (v, Servers)",
            "Nothing to restore into",
        ):
            return
        screen = RestoreIntoScreen(backup, targets)

        def confirmed(answer: bool | None) -> None:
            if answer:
                start = partial(self._start_operation, "restore", backup, screen.safety_backup, screen.target)
                self._work(start, JOBS, f"Restore of backup {backup.id} into {screen.target}")

        self.push_screen(screen, confirmed)

    def action_drill(self) -> None:
        """A restore drill of the backup: into a throwaway service, counted, destroyed. The
        live service is not touched, so nothing to confirm."""
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(backup.restore_refusal):
            return
        start = partial(self._start_operation, "drill", backup, False)
        self._work(start, JOBS, f"Drill of backup {backup.id}")

    def action_copy_backup(self) -> None:
        """One more copy of the backup (or its missing copy redone): the place is asked."""
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(backup.copy_refusal):
            return
        verified = [p.name for p in self.providers or [] if p.verified]
        places = copy_places(backup, verified)
        if self.refused(
            None
            if places
            else f"Backup {backup.id} is in every place it can be: add and verify a provider (s)",
            "Nowhere else to copy to",
        ):
            return

        def chosen(place: str | None) -> None:
            if place is not None:
                self._work(partial(self._start_copy, backup, place), JOBS, f"Copy of backup {backup.id}")

        self.push_screen(CopyToScreen(backup, places), chosen)

    async def _start_copy(self, backup: BackupView, place: str) -> None:
        assert self.dflow is not None
        try:
            await self.dflow.backups.copy(backup.id, place, wait=False)
        except DflowError as refusal:
            self.refused(str(refusal), "Copy not started")
            return
        self.refresh_backups()

    def action_delete(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(backup.delete_refusal):
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                start = partial(self._start_operation, "delete", backup, False)
                self._work(start, JOBS, f"Delete of backup {backup.id}")

        self.push_screen(DeleteConfirmScreen(backup, server=self.service.server), confirmed)

    async def _start_operation(
        self, kind: str, backup: BackupView, safety_backup: bool, into: str | None = None
    ) -> None:
        assert self.dflow is not None
        try:
            if kind == "restore":
                await self.dflow.backups.restore(
                    backup.id, safety_backup=safety_backup, into=into, wait=False
                )
            elif kind == "drill":
                await self.dflow.backups.drill(backup.service_path, backup.id, wait=False)
            else:
                await self.dflow.backups.delete(backup.id, wait=False)
        except DflowError as refusal:
            self.refused(str(refusal), f"{kind.capitalize()} not started")
            return
        self.refresh_backups()

    def action_cancel_job(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.dflow is None or self.refused(backup.cancel_refusal):
            return
        if backup.status == BackupStatus.IN_PROGRESS:
            title, message = (
                "Cancel backup",
                f"Stop {backup_title(backup)} of {backup.service_path}?\n"
                "It is marked failed; its partial dump or upload is removed. "
                "The live database is not touched.",
            )
        else:
            what = backup.operation_kind or "job"
            title, message = (
                f"Cancel {what}",
                f"Stop the {what} of {backup_title(backup)}?\n"
                f"It stops before it changes anything; the {what} is marked failed.",
            )

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._work(partial(self._cancel, backup), CANCEL, f"Cancelling the job on backup {backup.id}")

        self.push_screen(ConfirmScreen(title, message, confirm_label="Stop it"), confirmed)

    async def _cancel(self, backup: BackupView) -> None:
        assert self.dflow is not None
        said = await self.dflow.backups.cancel(backup.id)
        for path in self.running_jobs.mark_cancelling(backup.id):
            self._show_jobs(path)
        self.notify(said, title="Cancel requested", markup=False)
        self.refresh_backups()

    def on_job_started(self, event: JobStarted) -> None:
        self.running_jobs.start(event.job)
        self._show_jobs(event.job.service_path)
        self.refresh_backups()

    def on_job_progressed(self, event: JobProgressed) -> None:
        if self.running_jobs.apply(event):  # False: the job has ended, a late event is dropped
            self._show_jobs(event.job.service_path)

    def on_job_ended(self, event: JobEnded) -> None:
        outcome = event.outcome
        self.running_jobs.end(outcome.job)
        self._show_jobs(outcome.job.service_path)
        if outcome.warning:
            self.notify(outcome.message, title=outcome.title, severity="warning", markup=False, timeout=10)
        elif outcome.succeeded:
            self.notify(outcome.message, title=outcome.title, markup=False)
        else:
            self.notify(outcome.message, title=outcome.title, severity="error", markup=False, timeout=10)
        self.refresh_backups()
        self.refresh_health()

    def _show_jobs(self, path: str) -> None:
        if self.service is None or self.service.path != path or not self.is_running:
            return
        with contextlib.suppress(NoMatches, MountError):  # the screen is being torn down
            self.panel.show_jobs(self.running_jobs.lines(path))

    async def action_quit(self) -> None:
        running = self.dflow.worker.running if self.dflow is not None else []
        unattended = None
        if self.dflow is not None and self._run_scheduler:
            with contextlib.suppress(DflowError):  # a state database gone away: quit all the same
                unattended = await self.dflow.schedules.unattended(besides_this_process=True)
        if not running and unattended is None:
            self.exit()
            return
        parts = []
        if running:
            parts.append(
                f"Still running: {', '.join(f'{job.label} of {job.service_path}' for job in running)}.\nQuitting stops them now: a "
                "backup is marked failed and its partial dump removed; a restore or delete that has not "
                "started changing anything is marked failed. A restore already importing, or a delete "
                "already removing, runs to its end first."
            )
        if unattended is not None:
            parts.append(unattended + ".")
        message = "\n".join([*parts, "Quit anyway?"])

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.exit()

        self.push_screen(ConfirmScreen("Quit", message, confirm_label="Quit"), confirmed)

    # --- schedules -------------------------------------------------------

    def _show_schedule(self, schedule: ScheduleView) -> None:
        self.schedule = schedule
        assert self.dflow is not None
        palette = Palette.from_theme_variables(self.theme_variables)
        self.panel.show_schedule(schedule_line(schedule, palette, self.dflow.clock.now()))

    def action_edit_schedule(self) -> None:
        if self.dflow is None or self.service is None or self.refused(self.refusal(Permission.SCHEDULE)):
            return
        path = self.service.path
        self._work(
            partial(self._open_schedule, path), SCHEDULE, f"Opening the schedule of {path}", exclusive=True
        )

    async def _open_schedule(self, path: str) -> None:
        assert self.dflow is not None
        schedule = await self.dflow.schedules.show(path)

        def chosen(tiers: list[str] | None) -> None:
            if tiers is not None:
                self._work(
                    partial(self._save_schedule, path, tiers),
                    SCHEDULE,
                    f"Saving the schedule of {path}",
                    exclusive=True,
                )

        self.push_screen(ScheduleScreen(schedule), chosen)

    async def _save_schedule(self, path: str, tiers: list[str]) -> None:
        assert self.dflow is not None
        report = await self.dflow.schedules.set(path, tiers)  # runs a pass at once
        schedule = await self.dflow.schedules.show(path)
        if self.service is not None and self.service.path == path:
            self._show_schedule(schedule)
        queued = [b.schedule_tier for b in report.queued if b.schedule_tier]
        message = schedule.active_text
        if queued:
            message += f". Due now: {', '.join(queued)} backup — it appears in the list and runs."
        self.notify(message, title="Schedule saved", markup=False)
        self.refresh_backups()

    # --- details ---------------------------------------------------------

    def action_show_backup(self) -> None:
        backup = self._selected_backup()
        if backup is not None:
            self.push_screen(BackupDetailScreen(backup))


def run_app(settings: Settings) -> None:
    """Runs the TUI on this terminal until the user quits."""
    DflowApp(settings).run()
