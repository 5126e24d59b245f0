"""The jobs running in this window, as the progress lines show them.

Two kinds feed it: jobs the user started here (the app runs them), and jobs the
in-app worker loop claims (scheduled backups, or ones queued from the CLI). Both
report `Progress` events; each event arrives as a message, so a burst collapses to
the latest while the app is busy, and lines are updated on the app's own time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textual.message import Message

from dflow_tui.core.views import Progress
from dflow_tui.ui.widgets.job_progress import OUTPUT_LINES, JobLine


class JobProgressed(Message):
    """A running job's Progress event. A newer one for the same job replaces it while
    both wait in the queue, unless either carries a line of output (each line counts)."""

    def __init__(self, path: str, key: str, progress: Progress, at: float) -> None:
        self.path = path
        self.key = key
        self.progress = progress
        self.at = at
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, JobProgressed)
            and (message.path, message.key) == (self.path, self.key)
            and message.progress.output is None
            and self.progress.output is None
        )


class WorkerJobChanged(Message):
    """The in-app worker loop started or ended a job."""

    def __init__(self, path: str | None, key: str, label: str, backup_id: int, started: bool) -> None:
        self.path = path
        self.key = key
        self.label = label
        self.backup_id = backup_id
        self.started = started
        super().__init__()


class RunningJobs:
    """Service path → job key → the line it shows; rate measured from the first byte count."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self._lines: dict[str, dict[str, JobLine]] = {}
        self._first_bytes: dict[str, tuple[float, int]] = {}

    def start(self, path: str, key: str, label: str, backup_id: int | None) -> None:
        self._lines.setdefault(path, {})[key] = JobLine(
            key=key, label=label, message="starting", backup_id=backup_id
        )

    def end(self, path: str, key: str) -> None:
        self._lines.get(path, {}).pop(key, None)
        self._first_bytes.pop(key, None)

    def lines(self, path: str) -> list[JobLine]:
        return list(self._lines.get(path, {}).values())

    def message_for(self, path: str, key: str, progress: Progress) -> JobProgressed:
        """The message carrying one event; the first byte count starts the rate clock."""
        at = self.monotonic()
        if progress.done_bytes is not None:
            self._first_bytes.setdefault(key, (at, progress.done_bytes))
        return JobProgressed(path, key, progress, at)

    def apply(self, event: JobProgressed) -> bool:
        """Updates the job's line; False when the job has ended (a late event is dropped)."""
        jobs = self._lines.get(event.path, {})
        line = jobs.get(event.key)
        if line is None:
            return False
        progress = event.progress
        if progress.output is not None:
            jobs[event.key] = dataclasses.replace(
                line, output=(*line.output, progress.output)[-OUTPUT_LINES:]
            )
            return True
        rate = line.rate
        if progress.done_bytes is not None:
            first = self._first_bytes.get(event.key, (event.at, progress.done_bytes))
            elapsed = event.at - first[0]
            if elapsed > 0 and progress.done_bytes > first[1]:
                rate = (progress.done_bytes - first[1]) / elapsed
        jobs[event.key] = dataclasses.replace(
            line,
            message=progress.message,
            done_bytes=progress.done_bytes,
            total_bytes=progress.total_bytes,
            rate=rate,
        )
        return True

    def mark_cancelling(self, backup_id: int) -> list[str]:
        """Flags every line working on this backup; returns the paths that changed."""
        changed = []
        for path, jobs in self._lines.items():
            for key, line in jobs.items():
                if line.backup_id == backup_id:
                    jobs[key] = dataclasses.replace(line, cancelling=True)
                    changed.append(path)
        return changed

    def count(self) -> int:
        return sum(len(jobs) for jobs in self._lines.values())


class WorkerJobWatcher:
    """Hooks the in-app worker loop's jobs into the app (service layer's JobWatcher)."""

    def __init__(self, app, running: RunningJobs, path_of: Callable[[int], str | None]) -> None:
        self.app = app
        self.running = running
        self.path_of = path_of
        self._paths: dict[str, str | None] = {}

    @staticmethod
    def _key(job) -> str:
        return f"{job.key} (worker)"

    def job_started(self, job) -> None:
        path = self.path_of(job.service_id)
        self._paths[job.key] = path
        self.app.post_message(WorkerJobChanged(path, self._key(job), job.label, job.backup_id, True))

    def job_progressed(self, job, progress: Progress) -> None:
        path = self._paths.get(job.key)
        if path is not None:
            self.app.post_message(self.running.message_for(path, self._key(job), progress))

    def job_ended(self, job) -> None:
        path = self._paths.pop(job.key, None)
        self.app.post_message(WorkerJobChanged(path, self._key(job), job.label, job.backup_id, False))
