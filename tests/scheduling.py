"""How `make test` spreads the suite over pytest-xdist workers (``-n 4 --dist loadfile``).

* Each file runs whole on one worker, in file order: a module-scoped fixture (a live stack, an
  exporter process) starts once, and tests written to run in order (tests/e2e/test_alerting.py)
  still do. A session fixture starts once per worker that runs a file using it (tests/report's
  backfilled Prometheus: twice at most). Not ``--dist loadgroup``: with pytest 9.2, xdist 3.8.0's
  loadgroup ignores the ``xdist_group`` marks (pytest-xdist issue 1386) and splits files.
* Files with an ``e2e`` test are handed out first: they are the longest (tests/e2e/test_scenarios.py
  about 4 minutes) and mostly wait on Prometheus, so they overlap the rest instead of ending last.

Only in xdist workers: a serial run collects and orders exactly as before.
"""

from __future__ import annotations

import os

import pytest


def file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def spread_over_workers(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    live = {file_of(item) for item in items if item.get_closest_marker("e2e")}
    # Stable: each file keeps its tests in order. Every worker sorts the same collection the same
    # way, as xdist requires.
    items.sort(key=lambda item: file_of(item) not in live)
