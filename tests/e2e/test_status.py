"""`dflow-tui status`: each service's recovery point, and an exit code a monitor can read,
as processes against the real sshd and PostgreSQL."""

from __future__ import annotations

import json


def test_status_exit_codes_follow_the_worst_service(cli, service_path, postgres, postgres_db):
    off = cli.process("status")
    assert off.exit_code == 0 and off.stdout.splitlines()[1].split()[:2] == [service_path, "off"]

    cli("schedule", "set", service_path, "--tier", "daily", "--grace", "2h")  # queued; nobody runs it
    never = cli.process("status", ok=False)
    assert never.exit_code == 2 and never.stdout.splitlines()[1].split()[:2] == [service_path, "never"]

    worker = cli.spawn("worker", "--once")
    assert worker.wait(timeout=120) == 0
    ok = cli.process("status", service_path, "--json")
    [row] = json.loads(ok.stdout)
    assert ok.exit_code == 0
    assert (row["state"], row["rpo_seconds"], row["tiers"]) == ("ok", 26 * 3600, ["daily"])
    assert row["last_success"] is not None

    postgres.drop_database(postgres_db)  # the next export fails: no such database
    cli("backup", "create", service_path, ok=False)
    failing = cli.process("status", ok=False)
    assert failing.exit_code == 1 and failing.stdout.splitlines()[1].split()[:2] == [service_path, "failing"]
    assert failing.stdout.splitlines()[0].split() == [
        "SERVICE",
        "STATE",
        "LAST",
        "SUCCESS",
        "RPO",
        "NEXT",
        "DUE",
    ]
    assert "26h" in failing.stdout.splitlines()[1]


def test_a_bad_grace_is_refused_in_one_line(cli, service_path):
    refused = cli.process("schedule", "set", service_path, "--tier", "daily", "--grace", "soon", ok=False)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "Error: Invalid duration 'soon': a whole number and s, m, h or d (30m, 2h, 1d)"
    ]
    assert cli.json("schedule", "show", service_path)["tiers"] == []
