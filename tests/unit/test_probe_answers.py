"""What a drill counts: each engine client's answer to the probe, read."""

from __future__ import annotations

from dflow_tui.core.engines import Probe, parse_probe
from dflow_tui.core.enums import Engine


def test_each_clients_answer_is_read():
    psql = " ?column?\n------------------\n dflow-probe 3 2000\n(1 row)\n"
    assert parse_probe(Engine.POSTGRES, psql) == Probe(3, 2000)
    assert parse_probe(Engine.MARIADB, "CONCAT(...)\ndflow-probe 1 7\n") == Probe(1, 7)
    assert parse_probe(Engine.REDIS, "(integer) 12\n") == Probe(-1, 12)
    assert parse_probe(Engine.REDIS, "12\n") == Probe(-1, 12)
    assert parse_probe(Engine.POSTGRES, "ERROR: permission denied\n") is None
    assert str(Probe(3, 2000)) == "3 tables, 2000 rows" and str(Probe(-1, 12)) == "12 keys"
