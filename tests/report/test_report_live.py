"""End to end through the native stack: simulator -> exporters -> Prometheus -> report, with the
trading exporter stopped for a few seconds so the gap comes from a real outage (staleness markers
and all), not from backfilled data."""

from __future__ import annotations

import math
import time
from zoneinfo import ZoneInfo

import pytest
import requests

from tradewatch.report import render
from tradewatch.report.period import Period
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import SECTION_TITLES, Options

pytestmark = pytest.mark.e2e


def test_live_stack_report_with_an_exporter_outage(tmp_path):
    live_stack = pytest.importorskip("tradewatch.devstack.testing").live_stack
    with live_stack(scenarios=("normal",), warmup_seconds=4) as stack:
        start = time.time() - 4
        stack.stop_exporter("trading")
        down_at = time.time()
        time.sleep(8)
        stack.start_exporter("trading")
        up_at = time.time()
        stack.wait_for("sum(tradewatch_trading_orders_total) > 0", timeout=30)
        time.sleep(4)
        end = float(int(time.time()))
        # Seconds-scale resolution: the test stack scrapes every second.
        period = Period("daily", float(int(start)), end, ZoneInfo("UTC"), chart_step=1.0, resolution=2.0)
        prom = Prometheus(stack.prometheus_url)
        report = render.build(prom, period, Options(["trading", "model", "system"]), name="live")

        def direct(expr: str) -> float:
            r = requests.get(
                stack.prometheus_url + "/api/v1/query", params={"query": expr, "time": end}, timeout=10
            ).json()["data"]["result"]
            return float(r[0]["value"][1]) if r else math.nan

        s = report.document()["sections"]
        rng = period.range
        assert s["execution"]["data"]["orders"]["submitted"] == pytest.approx(
            direct(f'sum(increase(tradewatch_trading_orders_total{{status="submitted"}}[{rng}]))')
        )
        assert s["equity"]["data"]["equity_end"] == pytest.approx(direct("sum(tradewatch_trading_equity)"))
        assert s["ai_spend"]["data"]["spend_usd"] == pytest.approx(
            direct(f"sum(increase(tradewatch_ai_cost_usd_total[{rng}]))")
        )
        for sid in SECTION_TITLES:
            assert s[sid]["error"] is None, (sid, s[sid]["error"])

    gaps = s["coverage"]["data"]["trading"]["gaps"]
    assert len(gaps) == 1, gaps
    [gap] = gaps
    # The outage, to within the 2 s resolution plus a scrape and the exporter's start-up.
    assert down_at - 3 <= gap["start"] <= down_at + 3
    assert up_at - 3 <= gap["end"] <= up_at + 6
    assert s["coverage"]["data"]["model"]["gaps"] == [] and s["coverage"]["data"]["system"]["gaps"] == []
    assert any(n.startswith("No data from the trading exporter from ") for n in s["equity"]["notes"])
    paths = report.write(tmp_path)
    assert paths["html"].read_text().count("<img ") == len(report.images) >= 7  # no risk events here
