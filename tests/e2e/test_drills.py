"""Restore drills through the real sshd, for every engine backed by a real server: the
backup restored into a throwaway `dflow-drill-N` service, counted, and destroyed — after a
pass and after a failure — and never a service the drill did not make."""

from __future__ import annotations

import asyncio

from dflow_tui.store.tables import Backup


def services(made) -> list[str]:
    listed = made.sshd.run(["dokku", f"{made.engine.name}:list"], check=True).stdout
    return [line.strip() for line in listed.splitlines() if line.strip() and not line.startswith("=")]


def test_a_good_backup_passes_with_its_figures_and_leaves_nothing(cli, service, engine):
    path, made = service
    backup_id = cli("backup", "create", path).stdout.strip()
    before = services(made)

    passed = cli("drill", "run", path)
    # Counted on the live service beside the export too: the same figures.
    expected = ("2 keys" if engine.name == "redis" else "1 tables, 2 rows") + ", as when the backup was taken"
    assert passed.stdout.strip() == f"Drill passed: backup {backup_id} of {path} restores ({expected})"
    assert "creating the throwaway" in passed.stderr and "destroying dflow-drill-" in passed.stderr
    assert services(made) == before  # the throwaway service is gone
    assert made.customers() == ["Ada", "Grace"]  # the live service, untouched
    [drill] = [e for e in cli.json("audit", "--service", path) if e["action"] == "backup.drill"]
    assert drill["result"] == "succeeded"
    [listed] = cli.json("drill", "list", path)
    assert (listed["backup_id"], listed["status"], listed["probe"]) == (int(backup_id), "succeeded", expected)
    assert listed["error"] is None and 0 <= listed["seconds"] < 60


def test_a_dump_that_is_not_its_record_fails_and_the_throwaway_is_gone(cli, service, engine, backup_dir):
    path, made = service
    backup_id = cli("backup", "create", path).stdout.strip()
    [row] = cli.json("backup", "list", path)
    dump = backup_dir / row["location"].rsplit("/", 1)[1]
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])  # truncated on the server
    before = services(made)

    failed = cli("drill", "run", path, "--backup", backup_id, ok=False)
    assert "does not match its record" in failed.output and "refusing to import" in failed.output
    assert services(made) == before
    table = cli("drill", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "SERVICE", "BACKUP", "RESULT"]
    assert table[1].split()[1:4] == [path, backup_id, "failed"] and "does not match its record" in table[1]


def test_an_empty_backup_fails_the_drill(cli, sshd, real_server, engine, service):
    path, made = service
    emptied = {"redis": "FLUSHALL\n"}.get(engine.name, "DROP TABLE orders;\n")
    made.dokku("connect", emptied)
    cli("backup", "create", path)
    before = services(made)
    failed = cli("drill", "run", path, ok=False)
    assert "The restored database is empty" in failed.output
    assert services(made) == before


def test_a_drill_never_destroys_a_service_it_did_not_make(cli, postgres, postgres_db, service_path, sshd):
    """The first drill of a fresh state database is operation 1: a live service already
    named `dflow-drill-1` makes the create fail, and it is left as it was."""
    postgres.create_database("dflow-drill-1")
    try:
        postgres.psql("CREATE TABLE precious (v int); INSERT INTO precious VALUES (42)", db="dflow-drill-1")
        postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
        cli("backup", "create", service_path)
        failed = cli("drill", "run", service_path, ok=False)
        assert "Creating the drill's service dflow-drill-1 failed" in failed.output
        assert postgres.psql("SELECT v FROM precious", db="dflow-drill-1") == "42"
    finally:
        postgres.drop_database("dflow-drill-1")


def test_a_scheduled_drill_is_run_by_a_worker(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout.strip())

    scheduled = cli("drill", "schedule", service_path, "--every", "weekly").stdout
    assert f"Drills of {service_path}: weekly" in scheduled and "Queued now: 1 drill(s)" in scheduled
    assert cli.json("schedule", "show", service_path)["drill_every"] == "weekly"
    cli.process("worker", "--once")
    [drill] = cli.json("drill", "list", service_path)
    assert (drill["backup_id"], drill["status"], drill["probe"], drill["requested_by"]) == (
        backup_id,
        "succeeded",
        "1 tables, 2 rows, as when the backup was taken",
        "scheduler",
    )
    assert "dflow-drill-" not in postgres.psql("SELECT string_agg(datname, ',') FROM pg_database")

    cli.process("worker", "--once")  # not due again before a week
    assert len(cli.json("drill", "list", service_path)) == 1
    off = cli("drill", "schedule", service_path, "--every", "off").stdout
    assert off.strip() == f"Drills of {service_path}: only when asked (`drill run`)"
    assert "Restore drills: only when asked" in cli("schedule", "show", service_path).stdout


def test_a_restore_unlike_the_live_service_at_backup_time_fails(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout.strip())

    async def counted(rows: int | None = None) -> tuple[int | None, int | None]:
        """The backup's count; with `rows`, as if the live service had held that many."""
        app = await cli.open_app()
        try:
            async with app.db.session() as session:
                backup = await session.get(Backup, backup_id)
                if rows is not None:
                    backup.probe_rows = rows
                    session.add(backup)
                    await session.commit()
                return backup.probe_tables, backup.probe_rows
        finally:
            await app.close()

    assert asyncio.run(counted()) == (1, 2)
    asyncio.run(counted(rows=200))
    failed = cli("drill", "run", service_path, ok=False)
    assert (
        "The restored database holds 1 tables, 2 rows; the live one held 1 tables, 200 rows "
        "when the backup was taken (more than 1% apart)"
    ) in failed.output
    assert "dflow-drill-" not in postgres.psql("SELECT string_agg(datname, ',') FROM pg_database")
