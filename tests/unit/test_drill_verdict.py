"""What a drill's count says: the engines' probe answers read, and the verdict on them."""

from __future__ import annotations

from dflow_tui.core.engines import Probe, drill_problem, parse_probe
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
        "The restored database holds 2 tables, 10 rows; the live one held 3 tables, 10 rows when the backup was taken"
    )
    far = drill_problem(Probe(2, 10_000), Probe(2, 9_800))
    assert far is not None and far.endswith("(more than 1% apart)")
