"""The app's jobs: create, restore, delete and cancel from the keyboard, the progress
lines of every job running in this window, and quitting while some still run.

Mixed into DflowApp (which provides `dflow`, `service`, `panel`, `table`, `settings`,
`running_jobs`, `job_worker`, `_work`, `_selected_backup`, `refused` and
`refresh_backups`). Message handlers go by name here (`on_job_progressed`): the
`@on` decorator only registers handlers on Textual's own classes.
"""

from __future__ import annotations

import asyncio
from functools import partial

from textual.worker import Worker

from dflow_tui.core.permissions import Permission
from dflow_tui.core.views import BackupView, Progress, ServiceView, human_size
from dflow_tui.ui.format import (
    ACTIVE_OPERATION,
    IN_PROGRESS,
    OPERATION_SUCCEEDED,
    RUNNING_LABEL,
    SUCCESS,
    backup_title,
)
from dflow_tui.ui.running_jobs import JobProgressed, WorkerJobChanged
from dflow_tui.ui.screens.confirm import (
    ConfirmScreen,
    DeleteConfirmScreen,
    RestoreConfirmScreen,
)
from dflow_tui.ui.worker_groups import CANCEL, JOBS, SHUTDOWN, STOP_JOBS_TIMEOUT


class JobActions:
    """Keys b, r, d, x and q, and the progress lines of running jobs."""

    # --- progress of running jobs ----------------------------------------

    def _start_job(self, path: str, label: str, backup_id: int) -> str:
        """A key for one run of a job; its progress line lives until `_end_job`."""
        self._job_serial += 1
        key = f"{label}#{self._job_serial}"
        self.running_jobs.start(path, key, label, backup_id)
        self._show_jobs(path)
        return key

    def _progress(self, path: str, key: str):
        def on_progress(progress: Progress) -> None:
            # A message, so a burst of events collapses to the latest (toolong's pattern).
            self.post_message(self.running_jobs.message_for(path, key, progress))

        return on_progress

    def on_job_progressed(self, event: JobProgressed) -> None:
        if self.running_jobs.apply(event):  # False: the job has ended, a late event is dropped
            self._show_jobs(event.path)

    def _end_job(self, path: str, key: str) -> None:
        self.running_jobs.end(path, key)
        self._show_jobs(path)

    def _show_jobs(self, path: str) -> None:
        if self.service is not None and self.service.path == path:
            self.panel.show_jobs(self.running_jobs.lines(path))

    def _path_of_service(self, service_id: int) -> str | None:
        for service in self.services or []:
            if service.id == service_id:
                return service.path
        return None

    def on_worker_job_changed(self, event: WorkerJobChanged) -> None:
        """A job of the in-app worker loop (a scheduled backup, say) shows like ours."""
        if event.path is None:
            return
        if event.started:
            self.running_jobs.start(event.path, event.key, event.label, event.backup_id)
        else:
            self.running_jobs.end(event.path, event.key)
        self._show_jobs(event.path)
        self.refresh_backups()

    # --- cancel ----------------------------------------------------------

    def _cancellable(self, backup: BackupView | None) -> bool:
        if backup is None:
            return False
        if backup.status == IN_PROGRESS:
            return True
        return backup.operation_status in ACTIVE_OPERATION and not backup.operation_irreversible

    def action_cancel_job(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.dflow is None:
            return
        if not self._cancellable(backup):
            if backup.operation_status in ACTIVE_OPERATION:
                what = RUNNING_LABEL.get(backup.operation_kind, backup.operation_kind)
                reason = f"Backup {backup.id} is {what} and past the point where it can stop safely."
            else:
                reason = f"Nothing runs on backup {backup.id}: there is nothing to cancel."
            self.notify(reason, severity="warning", markup=False)
            return
        if backup.status == IN_PROGRESS:
            title, message = (
                "Cancel backup",
                (
                    f"Stop {backup_title(backup)} of {backup.service_path}?\n"
                    "It is marked failed; its partial dump or upload is removed. "
                    "The live database is not touched."
                ),
            )
        else:
            what = "restore" if backup.operation_kind == "restore" else "delete"
            title, message = (
                f"Cancel {what}",
                (
                    f"Stop the {what} of {backup_title(backup)}?\n"
                    f"It stops before it changes anything; the {what} is marked failed."
                ),
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

    # --- create ----------------------------------------------------------

    def action_create_backup(self) -> None:
        if self.dflow is None or self.service is None or self.refused(Permission.CREATE):
            return
        service = self.service
        self._work(partial(self._backup_job, service), JOBS, f"Backup of {service.path}")

    async def _backup_job(self, service: ServiceView) -> None:
        assert self.dflow is not None
        path = service.path
        backup = await self.dflow.backups.create(path)
        if self.service is not None and self.service.path == path:
            # Shown at once, before the job even starts, with the cursor on it.
            others = [b for b in self.table.backups if b.id != backup.id]
            self.panel.show_backups([backup, *others])
            self.table.select_backup(backup.id)
            self._sync_actions()
        result = await self._watched(
            path,
            f"Backup {backup.id}",
            backup.id,
            lambda on_progress: self.dflow.backups.run(backup.id, on_progress=on_progress),
        )
        self._tell(
            result.status == SUCCESS,
            result.error,
            done=("Backup done", f"Backup {result.id} of {path} finished ({human_size(result.size_bytes)})."),
            failed=("Backup failed", f"Backup {result.id} of {path} failed"),
        )

    async def _watched(self, path: str, label: str, backup_id: int, run):
        """Runs `run(on_progress)` with a progress line, then refreshes the list."""
        job = self._start_job(path, label, backup_id)
        try:
            return await run(self._progress(path, job))
        finally:
            self._end_job(path, job)
            self.refresh_backups()

    def _tell(self, ok: bool, error: str | None, *, done: tuple[str, str], failed: tuple[str, str]) -> None:
        """How a job ended, as a notification: (title, sentence) for each outcome."""
        if ok:
            self.notify(done[1], title=done[0], markup=False)
        else:
            self.notify(f"{failed[1]}: {error}", title=failed[0], severity="error", markup=False, timeout=10)

    # --- restore ---------------------------------------------------------

    def action_restore(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(Permission.RESTORE):
            return
        if backup.status != SUCCESS:
            self.notify(
                f"Backup {backup.id} is {backup.status}: only a successful backup can be restored.",
                severity="warning",
                markup=False,
            )
            return
        if self._busy(backup):
            return
        screen = RestoreConfirmScreen(backup, server=self.service.server)

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._work(
                    partial(self._restore_job, backup, screen.safety_backup),
                    JOBS,
                    f"Restore of {backup.service_path}",
                )

        self.push_screen(screen, confirmed)

    async def _restore_job(self, backup: BackupView, safety_backup: bool) -> None:
        assert self.dflow is not None
        path = backup.service_path
        operation = await self.dflow.backups.queue_restore(backup.id)
        self.refresh_backups()
        result = await self._watched(
            path,
            f"Restore of backup {backup.id}",
            backup.id,
            lambda on_progress: self.dflow.backups.run_restore(
                operation.id, safety_backup=safety_backup, on_progress=on_progress
            ),
        )
        self._tell(
            result.status == OPERATION_SUCCEEDED,
            result.error,
            done=("Restore done", f"{path} now holds the data of {backup_title(backup)}."),
            failed=("Restore failed", f"Restore of backup {backup.id} into {path} failed"),
        )

    # --- delete ----------------------------------------------------------

    def action_delete(self) -> None:
        backup = self._selected_backup()
        if backup is None or self.service is None or self.refused(Permission.DELETE):
            return
        if backup.status == IN_PROGRESS:
            self.notify(
                f"Backup {backup.id} is still in progress; delete it when it has finished.",
                severity="warning",
                markup=False,
            )
            return
        if self._busy(backup):
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._work(partial(self._delete_job, backup), JOBS, f"Delete of backup {backup.id}")

        self.push_screen(DeleteConfirmScreen(backup, server=self.service.server), confirmed)

    async def _delete_job(self, backup: BackupView) -> None:
        assert self.dflow is not None
        path = backup.service_path
        operation = await self.dflow.backups.queue_delete(backup.id)
        self.refresh_backups()
        result = await self._watched(
            path,
            f"Delete of backup {backup.id}",
            backup.id,
            lambda on_progress: self.dflow.backups.run_delete(operation.id, on_progress=on_progress),
        )
        self._tell(
            result.status == OPERATION_SUCCEEDED,
            result.error,
            done=("Backup deleted", f"Deleted {backup_title(backup)} of {path}."),
            failed=("Delete failed", f"Delete of backup {backup.id} failed"),
        )

    def _busy(self, backup: BackupView) -> bool:
        """A restore or delete already runs on this row: say so instead of asking."""
        if backup.operation_kind and backup.operation_status in ACTIVE_OPERATION:
            label = RUNNING_LABEL.get(backup.operation_kind, backup.operation_kind)
            self.notify(
                f"Backup {backup.id} is {label} — wait for it to finish.",
                severity="warning",
                markup=False,
            )
            return True
        return False

    # --- quitting --------------------------------------------------------

    def _running_jobs(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.group == JOBS and not worker.is_finished]

    async def action_quit(self) -> None:
        running = self._running_jobs()
        scheduled = len(self.job_worker.running) if self.job_worker is not None else 0
        if not running and not scheduled:
            self.exit()
            return
        names = [worker.description for worker in running]
        if scheduled:
            names.append(f"{scheduled} scheduled job(s)")
        message = (
            f"Still running: {', '.join(names)}.\nQuitting stops them now: a backup is marked "
            "failed, and a restore stopped midway can leave the database half-restored. "
        )
        if scheduled:
            message += f"Scheduled jobs get up to {self.settings.shutdown_grace:.0f}s to finish first. "
        message += "Quit anyway?"

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._work(
                    partial(self._stop_jobs_and_exit), SHUTDOWN, "Stopping the running jobs", exclusive=True
                )

        self.push_screen(ConfirmScreen("Quit", message, confirm_label="Quit"), confirmed)

    async def _stop_jobs_and_exit(self) -> None:
        running = self._running_jobs()
        for worker in running:
            worker.cancel()
        try:
            await asyncio.wait_for(self.workers.wait_for_complete(running), STOP_JOBS_TIMEOUT)
        finally:
            self.exit()
