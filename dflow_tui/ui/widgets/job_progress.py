"""One progress line per running job of the shown service: what it does now, a
bar (bytes moved out of the total when the total is known), the rate and the ETA,
then the last lines the server command wrote (its stderr), dimmed.

A view only: the app keeps the job states (fed by the jobs' Progress events) and
hands this widget the lines to show; rows are updated in place by job key.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import ProgressBar, Static

from dflow_tui.core.views import human_size


@dataclass(frozen=True)
class JobLine:
    """What one running job shows."""

    key: str
    label: str
    message: str
    done_bytes: int | None = None
    total_bytes: int | None = None
    rate: float | None = None  # bytes per second, when known
    output: tuple[str, ...] = ()  # the last lines of the server command's output
    cancelling: bool = False
    backup_id: int | None = None  # the row it works on

    @property
    def eta_seconds(self) -> float | None:
        if self.total_bytes is None or self.done_bytes is None or not self.rate:
            return None
        return max(self.total_bytes - self.done_bytes, 0) / self.rate


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


OUTPUT_LINES = 3


def job_text(job: JobLine) -> Text:
    """`Backup 4: uploading`."""
    text = Text(f"{job.label}: ", style="bold")
    text.append(job.message)
    if job.cancelling:
        text.append(" · cancelling…", style="bold")
    return text


def output_text(job: JobLine, lines: int = OUTPUT_LINES) -> Text:
    """`│ pg_dump: dumping contents of table orders` for each of the last lines."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, line in enumerate(job.output[-lines:]):
        if index:
            text.append("\n")
        text.append("│ ", style="dim")
        text.append(line)
    return text


def job_numbers(job: JobLine) -> Text:
    """`12.0 MiB of 40.0 MiB · 3.0 MiB/s · ETA 0:00:09` (what is known of it)."""
    text = Text()
    if job.done_bytes is not None:
        moved = human_size(job.done_bytes)
        if job.total_bytes is not None:
            moved += f" of {human_size(job.total_bytes)}"
        text.append(moved)
    if job.rate:
        text.append(f" · {human_size(int(job.rate))}/s")
    eta = job.eta_seconds
    if eta is not None:
        text.append(f" · ETA {duration(eta)}")
    return text


class JobProgressRow(Vertical):
    """Line 1: what the job does, and its bar; line 2: bytes, rate and ETA;
    then the command's last output lines."""

    def __init__(self, job: JobLine) -> None:
        super().__init__(classes="job-row")
        self.job = job

    def compose(self) -> ComposeResult:
        with Horizontal(classes="job-line"):
            yield Static(classes="job-text")
            yield ProgressBar(show_eta=False, show_percentage=True, classes="job-bar")
        yield Static(classes="job-numbers")
        yield Static(classes="job-output")

    def on_mount(self) -> None:
        self.show(self.job)

    def show(self, job: JobLine) -> None:
        self.job = job
        try:
            label = self.query_one(".job-text", Static)
        except NoMatches:
            return  # not composed yet: on_mount shows the latest
        text = job_text(job)
        text.no_wrap, text.overflow = True, "ellipsis"
        label.update(text)
        numbers = job_numbers(job)
        numbers.no_wrap, numbers.overflow = True, "ellipsis"
        self.query_one(".job-numbers", Static).update(numbers)
        self.query_one(".job-numbers").display = bool(numbers.plain)
        output = self.query_one(".job-output", Static)
        # A short terminal has room for the latest line only (styles/app.tcss).
        output.update(output_text(job, 1 if self.screen.has_class("-short") else OUTPUT_LINES))
        output.display = bool(job.output)
        bar = self.query_one(ProgressBar)
        if job.total_bytes:
            bar.update(total=job.total_bytes, progress=min(job.done_bytes or 0, job.total_bytes))
        # Without a known total there is nothing to measure: the text says what happens.
        bar.display = bool(job.total_bytes)


class JobProgressList(Vertical):
    """Rows keyed by job; gone jobs are removed, the others updated in place."""

    def on_mount(self) -> None:
        self.display = False

    @property
    def rows(self) -> dict[str, JobProgressRow]:
        return {row.job.key: row for row in self.query(JobProgressRow)}

    def show_jobs(self, jobs: list[JobLine]) -> None:
        rows = self.rows
        wanted = {job.key for job in jobs}
        for key, row in rows.items():
            if key not in wanted:
                row.remove()
        for job in jobs:
            if job.key in rows:
                rows[job.key].show(job)
            else:
                self.mount(JobProgressRow(job))
        self.display = bool(jobs)
