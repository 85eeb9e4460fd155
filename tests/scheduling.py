"""How `make test` spreads the suite over pytest-xdist workers (``-n 4 --dist loadfile``).

* Each file runs whole on one worker, in file order: a module-scoped fixture (a live stack, an
  exporter process) starts once, and tests written to run in order (tests/e2e/test_alerting.py)
  still do. A session fixture starts once per worker that runs a file using it (tests/report's
  backfilled Prometheus: twice at most). Not ``--dist loadgroup``: with pytest 9.2, xdist 3.8.0's
  loadgroup ignores the ``xdist_group`` marks (pytest-xdist issue 1386) and splits files.
* The longest files are handed out first, then the other files with an ``e2e`` test (live stacks,
  mostly waiting), then the rest: a long file that starts last ends last, after the others are done.

Only in xdist workers: a serial run collects and orders exactly as before.
"""

from __future__ import annotations

import os

import pytest

#: The longest files, longest first (seconds each took serially, measured 2026-12-03).
LONGEST = (
    "tests/e2e/test_scenario_ai_cost.py",  # 155, waits on Prometheus
    "tests/e2e/test_scenarios_desk.py",  # 150, waits
    "tests/e2e/test_scenarios.py",  # 125, waits
    "tests/rules/test_scenario_series.py",  # 110, CPU
    "tests/e2e/test_alerting.py",  # 100, waits
    "tests/fuzz/test_fuzz_http.py",  # 36, CPU (60 beside three other files)
)


def file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def spread_over_workers(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    live = {file_of(item) for item in items if item.get_closest_marker("e2e")}

    def rank(item: pytest.Item) -> int:
        path = file_of(item)
        if path in LONGEST:
            return LONGEST.index(path)
        return len(LONGEST) + (path not in live)

    # Stable: each file keeps its tests in order. Every worker sorts the same collection the same
    # way, as xdist requires.
    items.sort(key=rank)
