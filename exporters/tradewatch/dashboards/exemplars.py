"""Exemplars on the latency and slippage panels: a dot per correlated observation that links, via
the Prometheus datasource's ``exemplarTraceIdDestinations``, to that correlation ID's log lines.

Only a panel's first query asks for them: each query of a panel would fetch the same bucket
exemplars again and draw every dot once per quantile.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import prometheus


def first(targets: Sequence[prometheus.Dataquery]) -> list[prometheus.Dataquery]:
    """``targets`` with exemplars switched on for the first."""
    out = list(targets)
    if out:
        out[0] = out[0].exemplar(True)
    return out
