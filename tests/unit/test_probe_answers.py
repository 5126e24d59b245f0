"""What a drill counts: each engine client's answer to the probe, read; and the verdict on it."""

from __future__ import annotations

from dflow_tui.core.engines import Probe, drill_problem, drill_summary, parse_probe
from dflow_tui.core.enums import Engine


def test_each_clients_answer_is_read():
    psql = " ?column?\n------------------\n dflow-probe 3 2000\n(1 row)\n"
    assert parse_probe(Engine.POSTGRES, psql) == Probe(3, 2000)
    assert parse_probe(Engine.MARIADB, "CONCAT(...)\ndflow-probe 1 7\n") == Probe(1, 7)
    assert parse_probe(Engine.REDIS, "(integer) 12\n") == Probe(-1, 12)
    assert parse_probe(Engine.REDIS, "12\n") == Probe(-1, 12)
    assert parse_probe(Engine.POSTGRES, "ERROR: permission denied\n") is None
    assert str(Probe(3, 2000)) == "3 tables, 2000 rows" and str(Probe(-1, 12)) == "12 keys"


def test_the_verdict():
    assert drill_problem(None, Probe(2, 10)) is None  # no backup-time count: not empty is enough
    assert drill_problem(Probe(2, 10), Probe(2, 10)) is None
    assert drill_problem(Probe(2, 10_000), Probe(2, 9_950)) is None  # within 1 %
    assert drill_problem(Probe(0, 0), Probe(0, 0)) == "The restored database is empty (0 tables, 0 rows)"
    assert drill_problem(None, Probe(-1, 0)) == "The restored database is empty (0 keys)"
    assert drill_problem(Probe(3, 10), Probe(2, 10)) == (
        "The restored database holds 2 tables, 10 rows; the live one held 3 tables, 10 rows "
        "when the backup was taken"
    )
    far = drill_problem(Probe(2, 10_000), Probe(2, 9_800))
    assert far is not None and far.endswith("(more than 1% apart)")
    assert drill_problem(Probe(-1, 100), Probe(-1, 50)) is not None  # redis keys too


def test_what_a_drill_says_it_found():
    assert drill_summary(None, Probe(1, 2)) == "1 tables, 2 rows; no count at backup time"
    assert drill_summary(Probe(1, 2), Probe(1, 2)) == "1 tables, 2 rows, as when the backup was taken"
    assert drill_summary(Probe(-1, 1000), Probe(-1, 999)) == "999 keys; 1000 keys when the backup was taken"


def test_the_live_count_is_bounded_on_postgresql_and_the_drills_count_is_not():
    from dflow_tui.core.engines import ENGINES, LIVE_COUNT_SECONDS, live_probe

    assert live_probe(Engine.POSTGRES).startswith(f"SET statement_timeout = '{LIVE_COUNT_SECONDS}s';\n")
    assert live_probe(Engine.POSTGRES).endswith(ENGINES[Engine.POSTGRES].probe)
    assert "statement_timeout" not in ENGINES[Engine.POSTGRES].probe
    assert live_probe(Engine.REDIS) == "DBSIZE"
