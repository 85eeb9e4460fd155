"""The live stack for test suites: ``with live_stack() as stack: ...``.

Skips the calling test (pytest) when Debian's prometheus / prometheus-alertmanager are missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tradewatch.devstack.stack import AlertmanagerSpec, DevStack, StackOptions

#: Simulator flags for tests: a short warm-up, fast steps, market time accelerated.
TEST_SIMULATOR_ARGS = ("--warmup", "5", "--rate", "4", "--speed", "10")


@contextmanager
def live_stack(
    *,
    scenarios: Sequence[str] = ("normal",),
    warmup_seconds: float = 15.0,
    simulator_args: Sequence[str] = TEST_SIMULATOR_ARGS,
    alertmanagers: Sequence[AlertmanagerSpec] = (AlertmanagerSpec(),),
    **options: Any,
) -> Iterator[DevStack]:
    """Start the native stack in test mode with the simulator running ``scenarios[0]`` in the
    background, wait ``warmup_seconds`` of data (targets up, trading metrics present), yield it."""
    missing = [b for b in ("prometheus", "prometheus-alertmanager") if not shutil.which(b)]
    if missing:
        import pytest

        pytest.skip(f"{', '.join(missing)} not installed (make system-deps installs them as root)")
    opts = StackOptions(
        simulator=scenarios[0] if scenarios else None,
        simulator_args=tuple(simulator_args),
        alertmanagers=tuple(alertmanagers),
        **options,
    )
    with DevStack(opts) as stack:
        stack.wait_targets_up(timeout=30)
        if scenarios:
            stack.wait_for("sum(tradewatch_trading_orders_total) > 0", timeout=max(30.0, warmup_seconds * 3))
        import time

        time.sleep(warmup_seconds)
        yield stack
