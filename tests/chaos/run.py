"""The chaos driver: every scenario, one table of figures, a non-zero exit if a promise broke.

    python -m tests.chaos.run            # the full run (`make chaos`): a few minutes
    python -m tests.chaos.run --short    # the sizes test_chaos_short.py uses
    python -m tests.chaos.run --only corpus,ontology

Each scenario is bounded in count and time; the table has one row per
scenario (inputs or operations tried, INTERNAL answers, acknowledged / lost
writes, restart time kill -9 -> ready, time to exit SIGTERM -> exit, the
verdict), and the broken promises follow it, grouped by kind.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from tests.chaos.crash import kill9_rounds, sigterm_rounds
from tests.chaos.disk_full import disk_full
from tests.chaos.figures import Row, render
from tests.chaos.hostile import hostile_corpus
from tests.chaos.onto_faults import ontology_faults


@dataclass(frozen=True)
class Scenario:
    name: str
    full: Callable[[], Row]
    short: Callable[[], Row]


SCENARIOS = [
    Scenario("kill9", lambda: kill9_rounds(rounds=3, acks_per_round=1500),
             lambda: kill9_rounds(rounds=1, acks_per_round=300)),
    Scenario("sigterm", lambda: sigterm_rounds(rounds=3, acks_per_round=800, late_callers=True),
             lambda: sigterm_rounds(rounds=1, acks_per_round=300, late_callers=False)),
    Scenario("disk", lambda: disk_full(fill_seconds=30, writes_after_full=2000, resume_writes=60),
             lambda: disk_full(fill_seconds=10, writes_after_full=300, resume_writes=30)),
    Scenario("corpus", lambda: hostile_corpus(count=None), lambda: hostile_corpus(count=200)),
    Scenario("ontology", lambda: ontology_faults(phase_creates=40), lambda: ontology_faults(phase_creates=10)),
]


def run(names: list[str], short: bool) -> list[Row]:
    rows = []
    for scenario in SCENARIOS:
        if scenario.name not in names:
            continue
        print(f"chaos: running {scenario.name}...", file=sys.stderr, flush=True)
        try:
            row = (scenario.short if short else scenario.full)()
        except Exception as error:  # noqa: BLE001 - a scenario that could not finish is a broken row, not a lost table
            row = Row(scenario.name)
            where = traceback.extract_tb(error.__traceback__)[-1]
            details = error.details() if hasattr(error, "details") else str(error)
            row.problem(f"the scenario did not finish: {type(error).__name__} {details!r:.300} "
                        f"at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}")
        print(f"chaos: {scenario.name}: {row.verdict} in {row.seconds:.0f} s", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the short sizes the pytest suite runs")
    parser.add_argument("--only", default=",".join(s.name for s in SCENARIOS),
                        help="comma-separated scenarios: " + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--problems", type=int, default=15, help="broken promises shown per scenario")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    rows = run(names, args.short)
    print()
    print(render(rows))
    broken = [row for row in rows if not row.ok]
    for row in broken:
        print()
        print(row.summary(args.problems))
    print()
    print("chaos: " + ("every promise held" if not broken else
                       f"{len(broken)} of {len(rows)} scenarios broke a promise: "
                       + ", ".join(row.scenario for row in broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
