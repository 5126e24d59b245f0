"""Running jobs as the user watches them: the progress line, the server command's
output, jobs of the app's own worker loop, and cancelling with a key."""

from __future__ import annotations

from tui_support import (
    SIZE,
    before_dokku,
    make_app,
    open_service,
    record_notifications,
    screen_text,
    slow_export,
    statuses,
    wait_until,
)

from dflow_tui.jobs import worker as worker_module
from dflow_tui.ui.screens.confirm import ConfirmScreen, RestoreConfirmScreen


def job_lines(app) -> list[str]:
    """The progress lines as drawn: label and step, then the command's output lines."""
    return [
        f"{row.job.label}: {row.job.message} | " + " / ".join(row.job.output)
        for row in app.panel.query("JobProgressRow")
    ]


async def test_a_running_backup_shows_its_output_and_x_cancels_it(demo, dflow):
    slow_export(demo)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        assert "Cancel job" not in screen_text(app)  # nothing runs: the key is not offered
        await pilot.press("b")
        await wait_until(
            pilot, lambda: "waiting for a lock on shop-db" in screen_text(app), "the output line"
        )
        [(backup_id, status)] = statuses(app)
        assert status == "in-progress"
        assert job_lines(app) == [
            f"Backup {backup_id}: exporting postgres service shop-db | -----> waiting for a lock on shop-db"
        ]
        await wait_until(pilot, lambda: "Cancel job" in screen_text(app), "the key in the footer")

        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "partial dump or upload is removed" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: statuses(app) == [(backup_id, "failed")], "the row to fail", 20)
        await wait_until(
            pilot,
            lambda: any(n[1] == "Backup failed" and "Cancelled by alice" in n[2] for n in notes),
            "the failure notice",
        )
        assert any(n[1] == "Cancel requested" for n in notes)
        assert job_lines(app) == []
        await pilot.press("x")  # nothing runs on it any more
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)
    [stored] = await dflow.backups.list(demo.service)
    assert (stored.status, stored.error) == ("failed", "Cancelled by alice")
    assert list(demo.backup_dir.iterdir()) == []  # the partial dump is gone
    [entry] = [e for e in await dflow.audit.list() if e.action == "backup.cancel"]
    assert (entry.actor, entry.result) == ("alice", "succeeded")


async def test_a_scheduled_backup_run_by_the_app_shows_its_progress(demo, dflow):
    slow_export(demo, seconds=2)
    await dflow.schedules.set(demo.service, ["hourly"])  # queued now; the app's loop runs it
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: bool(job_lines(app)), "the scheduled job's line")
        [(backup_id, _)] = statuses(app)
        await wait_until(pilot, lambda: "waiting for a lock" in " ".join(job_lines(app)), "its output")
        [line] = job_lines(app)
        assert line.startswith(f"Scheduled hourly backup {backup_id}: exporting postgres service shop-db |")
        await wait_until(
            pilot, lambda: statuses(app) == [(backup_id, "succeeded")], "the backup to finish", 30
        )
        await wait_until(pilot, lambda: job_lines(app) == [], "the line to go")
    assert len(demo.dumps()) == 1


async def test_a_key_and_the_scheduler_start_jobs_that_run_and_report_the_same_way(demo, dflow, monkeypatch):
    """One way for a job to run: the backup started with `b` and the one the scheduler
    queues both go through the worker loop's run_job and the app's one watcher."""
    ran: list[str] = []
    run = worker_module.run_job

    async def recording_run(ctx, job, on_progress=None):
        ran.append(job.label)
        return await run(ctx, job, on_progress)

    monkeypatch.setattr(worker_module, "run_job", recording_run)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: dflow.serving, "the worker loop")
        watcher = dflow.worker.watcher
        seen: list[tuple[str, str]] = []
        for hook in ("job_started", "job_ended"):
            original = getattr(watcher, hook)

            def recorded(event, original=original, hook=hook):
                seen.append((hook, (event.job if hook == "job_ended" else event).label))
                original(event)

            monkeypatch.setattr(watcher, hook, recorded)
        await pilot.press("b")
        await wait_until(pilot, lambda: any(n[1] == "Backup done" for n in notes), "the manual backup")
        await dflow.schedules.set(demo.service, ["hourly"])  # queued now; the app's loop claims it
        await wait_until(
            pilot, lambda: len([n for n in notes if n[1] == "Backup done"]) == 2, "the scheduled one"
        )
    manual, scheduled = ran
    assert manual.startswith("Backup ") and scheduled.startswith("Scheduled hourly backup ")
    assert seen == [
        ("job_started", manual),
        ("job_ended", manual),
        ("job_started", scheduled),
        ("job_ended", scheduled),
    ]
    assert sorted(b.trigger for b in await dflow.backups.list(demo.service)) == ["manual", "scheduled"]


async def test_a_restore_shows_the_safety_exports_output_then_the_imports_own(demo, dflow):
    """During the restore, the output under its step is the step's own: the safety
    backup's export lines while it exports, then only the import's lines."""
    backup = await dflow.backups.create(demo.service)
    before_dokku(
        demo,
        'case "$1" in postgres:export) echo "-----> safety export of $2" >&2; sleep 2;; '
        'postgres:import) echo "-----> applying the dump to $2" >&2; sleep 2;; esac',
    )
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), "the modal")
        await pilot.press(*demo.service, "enter")
        await wait_until(pilot, lambda: "safety export of" in " ".join(job_lines(app)), "the safety export")
        await wait_until(pilot, lambda: "applying the dump" in " ".join(job_lines(app)), "the import", 20)
        assert job_lines(app) == [
            f"Restore of backup {backup.id}: importing into postgres service shop-db"
            " | -----> applying the dump to shop-db"
        ]
        await wait_until(
            pilot, lambda: any(n[1] == "Restore done" for n in notes), "the restore to finish", 30
        )
