"""Every PromQL query of every panel and template variable, run against a live Prometheus fed by
the exporters and the simulator (tradewatch.devstack, the e2e harness), must return data.

Panels that only show something after an incident (rejections, kill switch, breaker transitions,
gaps, heartbeats going down, rejected events, failing AI calls) get it first: the `incidents`
fixture posts those events through the exporters' real ingest API, as a trading system would.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from grafana_model import Query, dashboards, label_values, queries

from tradewatch.devstack.stack import DevStack
from tradewatch.devstack.testing import live_stack

pytestmark = pytest.mark.e2e

# Grafana's built-in variables, at values that fit a stack with 1 s scrape and evaluation.
BUILTINS = {"__rate_interval": "20s", "__interval": "5s", "__range": "5m", "__auto": "10s"}
PROMQL = [q for q in queries() if q.language == "promql"]
# Queries known to come back empty because of a defect elsewhere: xfail(strict) so the day the
# defect is fixed the test says so. Keep each with its reason.
KNOWN_EMPTY: dict[str, str] = {}
# Seconds a query may take to show data after the incidents (drift needs a few computations).
PATIENCE = 45.0


@dataclass
class Live:
    stack: DevStack
    start: float  # beginning of the range queries: the panels' time range


class _Probed(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def probe_target() -> Iterator[str]:
    """A real HTTP service for the system exporter's probes (the panel needs a probe to show)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Probed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()


def _event(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "ts": time.time(), "event_id": f"grafana-{uuid.uuid4()}", **fields}


def _incidents() -> list[dict[str, Any]]:
    """Events of the incidents some panels wait for (one of each, real event schema v1)."""
    now = time.time()
    return [
        _event("circuit_breaker", service="exchange-api", state="open", reason="timeouts"),
        _event("circuit_breaker", service="exchange-api", state="half_open"),
        _event("kill_switch", active=True, reason="manual"),
        _event("kill_switch", active=False, reason="manual"),
        _event("volatility_breach", symbol="BTCUSDT", volatility=0.09, limit=0.05),
        _event(
            "order_submitted",
            order_id="g-1",
            symbol="BTCUSDT",
            side="buy",
            order_type="limit",
            quantity=1,
            limit_price=100,
            reference_price=100,
            strategy="momentum",
            venue="binance",
        ),
        _event("order_rejected", order_id="g-1", reason="venue_unavailable", venue="binance"),
        _event("heartbeat", component="grafana-test-feed", status="degraded"),
        _event("heartbeat", component="grafana-test-bot", status="down"),
        _event("market_data", symbol="GAPUSD", exchange_ts=now - 600, kind="tick", price=1.0),
        _event("market_data", symbol="GAPUSD", exchange_ts=now, kind="tick", price=1.0),
        _event("position_limit", symbol="BTCUSDT", usage_ratio=0.5),
        _event("risk_score", risk_type="var", score=0.3),
    ]


@pytest.fixture(scope="module")
def stack(probe_target: str) -> Iterator[Live]:
    port = urllib.parse.urlparse(probe_target).port
    env = {
        "trading": {
            # Limits are opt-in; the risk panels need them. Hourly-like return periods (1 s of
            # event time) give Sharpe/Sortino a value within seconds.
            "TRADEWATCH_RISK_DAILY_LOSS_LIMIT": "5000",
            "TRADEWATCH_RISK_TAKE_PROFIT": "25%",
            "TRADEWATCH_RISK_STOP_LOSS": "25%",
            "TRADEWATCH_ANALYTICS_RETURN_PERIOD": "1",
        },
        "system": {
            "TRADEWATCH_COMPONENTS_WATCH": json.dumps([{"component": "prometheus", "name": "prometheus"}]),
            "TRADEWATCH_COMPONENTS_RESCAN_INTERVAL": "1",
            "TRADEWATCH_PROCESSES_SCAN_INTERVAL": "1",
            "TRADEWATCH_PROBES": json.dumps(
                [
                    {
                        "name": "test-http",
                        "kind": "http",
                        "target": probe_target,
                        "interval": 1,
                        "timeout": 1,
                    },
                    {
                        "name": "test-tcp",
                        "kind": "tcp",
                        "target": f"127.0.0.1:{port}",
                        "interval": 1,
                        "timeout": 1,
                    },
                ]
            ),
        },
        "model": {
            # Small reference set and window so drift is computed within seconds, not hours.
            "TRADEWATCH_REFERENCE_SIZE": "60",
            "TRADEWATCH_DRIFT_MIN_SAMPLES": "30",
            "TRADEWATCH_DRIFT_INTERVAL": "1",
            "TRADEWATCH_PERFORMANCE_WINDOW": "30",
            "TRADEWATCH_AI_MONTHLY_BUDGET_USD": "50",
        },
    }
    with live_stack(scenarios=("normal",), warmup_seconds=10, exporter_env=env) as s:
        trading = s.post_events("trading", _incidents())
        assert trading.get("accepted", 0) >= 10, trading
        # Bad input is an incident too: the exporters reject it and count the reason.
        s.post_events("trading", [{"type": "order_submitted", "event_id": "grafana-bad", "ts": time.time()}])
        s.post_events(
            "model",
            [
                _event(
                    "ai_call",
                    provider="openai",
                    model="gpt-4o-mini",
                    prompt_tokens=10,
                    completion_tokens=5,
                    latency_seconds=0.2,
                    status="error",
                )
            ],
        )
        yield Live(s, start=time.time() - 60)


def interpolate(query: Query, variables: dict[str, dict[str, Any]]) -> str:
    """The query as Grafana sends it with every variable at All (its allValue) and $__ builtins set."""
    expr = query.expr
    for name, value in BUILTINS.items():
        expr = expr.replace(f"${name}", value)
    board = variables[query.dashboard]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: board[m.group(1)].get("allValue", ".*"), expr)


def _get(live: Live, path: str, params: dict[str, Any]) -> dict[str, Any]:
    url = f"{live.stack.prometheus_url}{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as resp:
        data = json.loads(resp.read())
    assert data["status"] == "success", data
    return data["data"]


def _has_data(live: Live, query: Query, expr: str) -> bool:
    if query.kind == "variable":
        metric, label = label_values(query.expr)
        # Grafana runs label_values(m, l) as a series lookup; the label must have values.
        found = _get(
            live,
            "/api/v1/series",
            {
                "match[]": interpolate(Query(query.dashboard, query.where, metric, "promql"), _VARIABLES),
                "start": live.start,
            },
        )
        return any(label in series for series in found)
    if query.instant:
        return bool(_get(live, "/api/v1/query", {"query": expr})["result"])
    now = time.time()
    result = _get(live, "/api/v1/query_range", {"query": expr, "start": live.start, "end": now, "step": 2})
    return any(series["values"] for series in result["result"])


_VARIABLES = {
    stem: {v["name"]: v for v in doc.get("templating", {}).get("list", [])} for stem, doc in dashboards().items()
}


def test_there_are_queries_to_run():
    assert len(PROMQL) > 150
    assert {q.kind for q in PROMQL} == {"panel", "variable"}


def _params() -> list[Any]:
    out = []
    for i, q in enumerate(PROMQL):
        reasons = [why for needle, why in KNOWN_EMPTY.items() if needle in q.expr]
        marks = [pytest.mark.xfail(reason=reasons[0], strict=True)] if reasons else []
        out.append(pytest.param(q, id=f"{q.dashboard}:{q.where}:{i}", marks=marks))
    return out


@pytest.mark.parametrize("query", _params())
def test_query_returns_data(stack: Live, query: Query):
    expr = interpolate(query, _VARIABLES)
    deadline = time.monotonic() + PATIENCE
    while not _has_data(stack, query, expr):
        if time.monotonic() > deadline:
            pytest.fail(f"{query.dashboard} / {query.where}: no data for\n  {expr}")
        time.sleep(1)


def test_prometheus_stores_the_simulators_correlation_exemplars(stack: Live):
    """query_exemplars returns the simulator's order IDs on fill latency and slippage (exemplar
    storage on, OpenMetrics negotiated), and one of them is an order the trading exporter saw."""
    deadline = time.monotonic() + PATIENCE
    while True:
        found: dict[str, set[str]] = {}
        for metric in (
            "tradewatch_trading_order_fill_latency_seconds_bucket",
            "tradewatch_trading_slippage_bps_bucket",
        ):
            data = _get(
                stack, "/api/v1/query_exemplars", {"query": metric, "start": stack.start, "end": time.time() + 86400}
            )
            for series in data:
                for ex in series["exemplars"]:
                    found.setdefault(metric, set()).add(ex["labels"].get("correlation_id", ""))
        if len(found) == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(found) == 2, found
    ids = set().union(*found.values())
    assert ids and all(cid.startswith("ord-") for cid in ids), ids
