"""Workers on several hosts, as processes on one real PostgreSQL state database: the
per-server job limit holds across all of them, and every job runs exactly once."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

TIMED_DOKKU = Path(__file__).parent.parent / "infra" / "timed_dokku.bash"


def test_three_workers_keep_one_job_at_a_time_per_server_and_run_each_once(cli, postgres, tmp_path):
    state = f"state_{uuid.uuid4().hex[:12]}"
    postgres.create_database(state)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(TIMED_DOKKU, bin_dir / "dokku")
    log = tmp_path / "exports.log"
    cli.env |= {
        "DFLOW_TUI_DB": postgres.url(state, driver="postgresql+asyncpg"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TIMED_DOKKU_LOG": str(log),
        "TIMED_DOKKU_SECONDS": "0.4",
    }
    owner = {}
    for server in ("alpha", "beta"):
        cli("server", "add", server, "--local", "--backup-dir", str(tmp_path / server), "--max-jobs", "1")
        cli("project", "add", server, "--server", server)
        cli("env", "add", server, "production")
        for n in range(4):
            name = f"{server}-db{n}"
            cli("service", "add", f"{server}/production/{name}", "--engine", "postgres")
            owner[name] = server
    assert [s["max_jobs"] for s in cli.json("server", "list")] == [1, 1]
    for name, server in owner.items():
        cli("schedule", "set", f"{server}/production/{name}", "--tier", "daily")  # queued at once

    workers = [cli.spawn("worker", "--concurrency", "3", "--interval", "3600") for _ in range(3)]
    try:
        deadline = time.monotonic() + 60
        while True:
            backups = cli.json("backup", "list", "--all")
            if len(backups) == 8 and all(b["status"] != "in-progress" for b in backups):
                break
            assert time.monotonic() < deadline, backups
            time.sleep(0.3)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        errors = [worker.communicate(timeout=30)[1] for worker in workers]
        postgres.drop_database(state)
    assert [w.returncode for w in workers] == [0, 0, 0], errors
    assert {b["status"] for b in backups} == {"succeeded"}

    events = [line.split() for line in log.read_text().splitlines()]
    assert Counter(name for kind, name, _ in events if kind == "start") == dict.fromkeys(owner, 1)
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    started = {}
    for kind, name, at in events:
        if kind == "start":
            started[name] = float(at)
        else:
            spans[owner[name]].append((started[name], float(at)))
    for server, runs in spans.items():
        runs.sort()
        overlaps = [(a, b) for a, b in itertools.pairwise(runs) if b[0] < a[1]]
        assert overlaps == [], f"two jobs at once on {server}"
    # The two servers did work side by side: the limit is per server, not for everyone.
    alpha, beta = spans["alpha"], spans["beta"]
    assert any(a[0] < b[1] and b[0] < a[1] for a in alpha for b in beta)


def test_fleet_lists_every_service_with_its_schedule_and_last_backup(cli, service_path):
    backup_id = cli("backup", "create", service_path).stdout.strip()
    cli("schedule", "set", service_path, "--tier", "daily", "--tier", "weekly")
    listed = cli.process("fleet", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["service"], row["engine"], row["tiers"]) == (service_path, "postgres", ["daily", "weekly"])
    assert row["last_result"] == "in-progress"  # the weekly backup the schedule just queued
    assert row["last_success"] is not None and row["next_due"] is not None
    table = cli.process("fleet").stdout.splitlines()
    assert table[0].split()[:4] == ["SERVICE", "RESULT", "LAST", "SUCCESS"]
    assert table[1].startswith(service_path) and "daily,weekly" in table[1]
    assert backup_id
