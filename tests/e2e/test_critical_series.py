"""The fast scrape job on a real Prometheus (docs/alerting.md, "Alert latency"): the safety series
come once, from it, with the job label of the 5 s job, and nothing else comes from it."""

from __future__ import annotations

from tradewatch.devstack import render
from tradewatch.devstack.stack import DevStack


def _value(stack: DevStack, promql: str) -> float:
    [sample] = stack.wait_for(promql, timeout=20)
    return float(sample["value"][1])


def test_safety_series_come_once_from_the_fast_job(stack: DevStack) -> None:
    fast = render.CRITICAL_JOB
    assert _value(stack, f'up{{job="{fast}"}}') == 1
    kept = _value(stack, f'scrape_samples_post_metric_relabeling{{job="{fast}"}}')
    # Every kept sample is a safety series, stored under job="trading-exporter" (one series each).
    stored = _value(stack, f'count({{__name__=~"{render.CRITICAL_REGEX}", job="{render.CRITICAL_SOURCE_JOB}"}})')
    assert kept == stored > 0
    assert not stack.query(f'{{job="{fast}", __name__!~"up|scrape_.*"}}')
    normal = f'{{job="{render.CRITICAL_SOURCE_JOB}"}}'
    assert _value(stack, f"scrape_samples_scraped{normal} - scrape_samples_post_metric_relabeling{normal}") > 0, (
        "the 5 s job must drop the safety series, or both jobs write them"
    )
    # Both jobs writing one series would show as out-of-order or duplicate-timestamp samples.
    rejected = "prometheus_target_scrapes_sample_{out_of_order,duplicate_timestamp}_total"
    for name in ("out_of_order", "duplicate_timestamp"):
        assert _value(stack, f"sum(prometheus_target_scrapes_sample_{name}_total)") == 0, rejected
