"""The chaos suite, short: each scenario of `make chaos` at the sizes `python -m tests.chaos.run --short` uses.

One kill -9 round and one SIGTERM round under 16 writers, a small disk-full
run on a 20 MB tmpfs, 200 corpus inputs sampled over every RPC and every
category, and every ontology fault once. Each test asserts the scenario's
promises (tests/chaos/*.py say which) and prints its row of figures.
"""

from __future__ import annotations

import pytest

from tests.chaos.figures import Row, render
from tests.chaos.run import SCENARIOS

pytestmark = pytest.mark.slow


def short(name: str) -> Row:
    row = next(s for s in SCENARIOS if s.name == name).short()
    print(render([row]))
    return row


def test_acknowledged_writes_survive_kill_9_under_16_writers() -> None:
    row = short("kill9")
    assert row.ok, row.summary()
    assert row.acknowledged >= 300 and row.restart_seconds


def test_sigterm_under_load_exits_zero_in_time_and_loses_nothing() -> None:
    row = short("sigterm")
    assert row.ok, row.summary()
    assert row.acknowledged >= 300 and row.exit_seconds


def test_a_full_disk_refuses_writes_loses_none_and_recovers_without_restart() -> None:
    row = short("disk")
    if row.skipped:
        pytest.skip(f"disk-full scenario: {row.skipped}")
    assert row.ok, row.summary()


def test_hostile_inputs_over_every_rpc_get_no_internal_leak_nothing_and_round_trip() -> None:
    row = short("corpus")
    assert row.ok, row.summary()
    assert row.tried >= 200 and row.notes["RPCs"] >= 21


def test_an_ontology_failing_in_every_way_never_stops_creates_or_health() -> None:
    row = short("ontology")
    assert row.ok, row.summary()
    assert row.acknowledged > 0
