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
    shown = cli.process("schedule", "show", service_path).stdout.splitlines()
    assert shown[1] == "Recovery point: ok (a success at least every 26h)"

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
        "PROVEN",
        "(DRILL)",
    ]
    assert "26h" in failing.stdout.splitlines()[1]


def test_a_bad_grace_is_refused_in_one_line(cli, service_path):
    refused = cli.process("schedule", "set", service_path, "--tier", "daily", "--grace", "soon", ok=False)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "Error: Invalid duration 'soon': a whole number and s, m, h or d (30m, 2h, 1d)"
    ]
    assert cli.json("schedule", "show", service_path)["tiers"] == []


def test_metrics_parse_as_prometheus_text(cli, service_path, postgres, postgres_db):
    from prometheus_client.parser import text_string_to_metric_families

    cli("schedule", "set", service_path, "--tier", "hourly")  # queued: one job waiting
    waiting = {f.name: f for f in text_string_to_metric_families(cli.process("metrics").stdout)}
    assert {(s.labels["state"], s.value) for s in waiting["dflow_backup_jobs"].samples} == {
        ("running", 0.0),
        ("queued", 1.0),
    }
    worker = cli.spawn("worker", "--once")
    assert worker.wait(timeout=120) == 0
    cli("backup", "create", service_path)
    families = {f.name: f for f in text_string_to_metric_families(cli.process("metrics").stdout)}

    def value(name: str, **labels: str) -> float:
        [sample] = [s for s in families[name].samples if s.labels == {"service": service_path, **labels}]
        return sample.value

    [row] = cli.json("fleet")
    assert value("dflow_backup_rpo_seconds") == 90 * 60
    assert value("dflow_backup_last_size_bytes") == row["last_size"] > 0
    assert value("dflow_backup_last_success_timestamp_seconds") > 0
    assert 0 <= value("dflow_backup_last_duration_seconds") < 120
    assert value("dflow_backup_state", dflow_backup_state="ok") == 1
    assert value("dflow_backup_state", dflow_backup_state="late") == 0
    assert {s.labels["status"]: s.value for s in families["dflow_backups"].samples} == {"succeeded": 2.0}


def test_dead_man_pings_reach_a_real_receiver(cli, service_path, postgres, postgres_db, tmp_path):
    from infra.receiver import HttpReceiver

    with HttpReceiver() as receiver:
        cli.process("ping", "set", service_path, f"{receiver.url}/check-7f3a")
        cli.process("backup", "create", service_path)
        assert receiver.paths() == ["/check-7f3a/start", "/check-7f3a"]
        assert {method for method, _path, _body in receiver.requests} == {"POST"}

        worker = cli.spawn("worker", "--once", "--ping", f"{receiver.url}/worker-91c2")
        assert worker.wait(timeout=120) == 0
        assert receiver.paths()[-1] == "/worker-91c2"  # after its pass

        postgres.drop_database(postgres_db)  # the next export fails
        cli.process("backup", "create", service_path, ok=False)
        method, path, body = receiver.requests[-1]
        assert receiver.paths()[-2:] == ["/check-7f3a/start", "/check-7f3a/fail"]
        assert b"does not exist" in body

        cli.process("ping", "set", service_path, "--off")
        cli.process("backup", "create", service_path, ok=False)
        assert receiver.paths()[-1] == "/check-7f3a/fail"  # nothing new


def test_a_monitor_that_is_down_never_fails_a_backup(cli, service_path):
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli("ping", "set", service_path, f"http://127.0.0.1:{port}/check")
    backup_id = cli.process("backup", "create", service_path).stdout.strip()
    assert cli.json("backup", "show", backup_id)["status"] == "succeeded"


def test_a_bad_ping_url_is_refused_in_one_line(cli, service_path):
    refused = cli.process("ping", "set", service_path, "http://host/x;rm -rf /", ok=False)
    assert refused.stderr.splitlines() == [
        "Error: Invalid ping URL 'http://host/x;rm -rf /': give http(s)://HOST/PATH (a healthchecks.io check URL, say)"
    ]


def test_a_worker_serves_metrics_over_http(cli, service_path):
    import signal
    import time
    import urllib.request

    from infra.ports import free_port
    from prometheus_client.parser import text_string_to_metric_families

    cli("backup", "create", service_path)
    port = free_port()
    worker = cli.spawn("worker", "--metrics-port", str(port), "--interval", "3600")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
                    kind = answer.headers["Content-Type"]
                break
            except OSError:
                assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[1]
                time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    assert kind.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    [sample] = families["dflow_backup_last_size_bytes"].samples
    assert sample.labels == {"service": service_path} and sample.value > 0


def test_proven_restorable_in_status_and_metrics_and_a_failed_drill_is_failing(
    cli, service_path, postgres, postgres_db, backup_dir
):
    from prometheus_client.parser import text_string_to_metric_families

    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    cli("schedule", "set", service_path, "--tier", "weekly")
    assert cli.spawn("worker", "--once").wait(timeout=120) == 0  # runs the queued weekly backup
    [proven_id] = [b["id"] for b in cli.json("backup", "list", service_path)]
    cli("drill", "run", service_path)
    [row] = json.loads(cli.process("status", "--json").stdout)
    assert (row["state"], row["proven_backup_id"], row["drill_failed"]) == ("ok", proven_id, False)
    assert row["proven_at"] is not None

    newer = cli("backup", "create", service_path).stdout.strip()
    [listed] = [b for b in cli.json("backup", "list", service_path) if str(b["id"]) == newer]
    dump = backup_dir / listed["location"].rsplit("/", 1)[1]
    dump.write_bytes(dump.read_bytes()[:-10])  # that backup no longer restores
    cli("drill", "run", service_path, "--backup", newer, ok=False)
    failing = cli.process("status", ok=False)
    assert failing.exit_code == 1
    assert failing.stdout.splitlines()[1].split()[:2] == [service_path, "failing"]
    assert failing.stdout.splitlines()[1].split()[-1] == "failed"
    [row] = cli.json("fleet")
    assert (row["state"], row["proven_backup_id"], row["drill_failed"]) == ("failing", proven_id, True)
    families = {f.name: f for f in text_string_to_metric_families(cli.process("metrics").stdout)}
    [failed] = families["dflow_restore_drill_failed"].samples
    [proven] = families["dflow_restore_drill_last_success_timestamp_seconds"].samples
    assert failed.value == 1 and proven.value > 0 and proven.labels == {"service": service_path}
