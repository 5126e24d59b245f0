"""The jobs this window's worker loop runs, as the progress lines show them.

Every job runs in the service layer's worker loop, whether a key here started it or
the loop claimed it from the queue (a scheduled backup, a job another process
queued). The loop tells one watcher; the watcher turns each event into a message, so
a burst of progress collapses to the latest while the app is busy, and lines are
updated on the app's own time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textual.app import App
from textual.message import Message

from dflow_tui.core.views import Progress
from dflow_tui.service import ClaimedJob, JobOutcome
from dflow_tui.ui.widgets.job_progress import OUTPUT_LINES, JobLine


class JobStarted(Message):
    def __init__(self, job: ClaimedJob) -> None:
        self.job = job
        super().__init__()


class JobProgressed(Message):
    """A running job's Progress event. A newer one for the same job replaces it while
    both wait in the queue, unless either carries a line of output (each line counts)."""

    def __init__(
        self, job: ClaimedJob, progress: Progress, at: float, first: tuple[float, int] | None
    ) -> None:
        self.job = job
        self.progress = progress
        self.at = at
        self.first = first  # (when, bytes) of the job's first byte count: where its rate starts
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, JobProgressed)
            and message.job.key == self.job.key
            and message.progress.output is None
            and self.progress.output is None
        )


class JobEnded(Message):
    def __init__(self, outcome: JobOutcome) -> None:
        self.outcome = outcome
        super().__init__()


class AppJobWatcher:
    """The service layer's JobWatcher for this app: each event becomes a message."""

    def __init__(self, app: App[None], monotonic: Callable[[], float]) -> None:
        self.app = app
        self.monotonic = monotonic
        # Taken as events happen, not as messages are handled: a message may replace another.
        self._first_bytes: dict[str, tuple[float, int]] = {}

    def job_started(self, job: ClaimedJob) -> None:
        self.app.post_message(JobStarted(job))

    def job_progressed(self, job: ClaimedJob, progress: Progress) -> None:
        at = self.monotonic()
        if progress.done_bytes is not None:
            self._first_bytes.setdefault(job.key, (at, progress.done_bytes))
        self.app.post_message(JobProgressed(job, progress, at, self._first_bytes.get(job.key)))

    def job_ended(self, outcome: JobOutcome) -> None:
        self._first_bytes.pop(outcome.job.key, None)
        self.app.post_message(JobEnded(outcome))


class RunningJobs:
    """Service path → job key → the line it shows; the rate is measured from the job's
    first byte count, and a new step starts with no output lines of the step before."""

    def __init__(self) -> None:
        self._lines: dict[str, dict[str, JobLine]] = {}

    def start(self, job: ClaimedJob) -> None:
        self._lines.setdefault(job.service_path, {})[job.key] = JobLine(
            key=job.key, label=job.label, message="starting", backup_id=job.backup_id
        )

    def end(self, job: ClaimedJob) -> None:
        self._lines.get(job.service_path, {}).pop(job.key, None)

    def lines(self, path: str) -> list[JobLine]:
        return list(self._lines.get(path, {}).values())

    def apply(self, event: JobProgressed) -> bool:
        """Updates the job's line; False when the job has ended (a late event is dropped)."""
        jobs = self._lines.get(event.job.service_path, {})
        key = event.job.key
        line = jobs.get(key)
        if line is None:
            return False
        progress = event.progress
        if progress.output is not None:
            output = line.output if progress.message == line.message else ()
            jobs[key] = dataclasses.replace(
                line, message=progress.message, output=(*output, progress.output)[-OUTPUT_LINES:]
            )
            return True
        rate = line.rate
        if progress.done_bytes is not None and event.first is not None:
            elapsed = event.at - event.first[0]
            if elapsed > 0 and progress.done_bytes > event.first[1]:
                rate = (progress.done_bytes - event.first[1]) / elapsed
        jobs[key] = dataclasses.replace(
            line,
            message=progress.message,
            done_bytes=progress.done_bytes,
            total_bytes=progress.total_bytes,
            rate=rate,
            output=line.output if progress.message == line.message else (),
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
