"""FanOutClient against two real trading exporters (in-process, real HTTP on loopback, each with its
own journal): redundancy sends every event to both, a dead one holds back nothing, a resend is a
duplicate at each; routing by account gives each account one exporter."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import require_binary

from tradewatch.client import FanOutClient, build_event, by_account
from tradewatch.core import config as cfg

TOKEN = "fanout-test-token"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_GAUGES = {
    "tradewatch_trading_equity",
    "tradewatch_trading_daily_pnl",
    "tradewatch_trading_portfolio_snapshot_timestamp_seconds",
}


def _exporter(journal: Path):
    from tradewatch.trading.command import build
    from tradewatch.trading.settings import settings

    overrides = {"http.port": 0, "journal.path": str(journal), "ingest.token": TOKEN}
    return build(cfg.load(settings(), None, environ={}, overrides=overrides))


@pytest.fixture
def exporters(tmp_path: Path) -> Iterator[list]:
    started = [_exporter(tmp_path / f"journal-{i}") for i in range(2)]
    urls = [f"http://127.0.0.1:{exp.start()}" for exp in started]
    yield list(zip(started, urls, strict=True))
    for exp in started:
        exp.stop()


def equity(url: str) -> dict[str, float]:
    text = requests.get(url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("tradewatch_trading_equity{"):
            out[line.split('account="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return out


def test_redundancy_every_event_to_each_and_a_dead_exporter_holds_back_nothing(exporters, tmp_path: Path) -> None:
    (_, url_a), (exp_b, url_b) = exporters
    with FanOutClient.to_urls(
        [url_a, url_b], token=TOKEN, spool_dir=tmp_path / "spool", flush_interval=0.05, account="main"
    ) as tw:
        tw.portfolio_snapshot(1000.0, 1000.0)
        resend = build_event("heartbeat", {"component": "bot", "status": "healthy"})
        tw.emit(resend)
        assert tw.flush(10)
        assert equity(url_a) == equity(url_b) == {"main": 1000.0}
        tw.emit(resend)  # the same event_id again: a duplicate at each exporter, counted once
        assert tw.flush(10)
        per = tw.destination_stats()
        assert [(per[u].accepted, per[u].duplicates) for u in (url_a, url_b)] == [(2, 1), (2, 1)]

        exp_b.stop()
        tw.portfolio_snapshot(990.0, 990.0)
        assert tw.clients[url_a].flush(5)  # a is not held back by b
        assert equity(url_a) == {"main": 990.0}
        assert not tw.clients[url_b].flush(0.5)
        tw.close(0.2)  # b's event stays in its spool for the next start
    assert (tmp_path / "spool" / "1").is_dir() and tw.destination_stats()[url_b].spool_pending == 1


def test_routing_by_account_gives_each_account_one_exporter(exporters, tmp_path: Path) -> None:
    (_, url_a), (_, url_b) = exporters
    route = by_account({"alpha": url_a}, default=url_b)
    with FanOutClient.to_urls([url_a, url_b], token=TOKEN, route=route, flush_interval=0.05) as tw:
        tw.portfolio_snapshot(500.0, 500.0, account="alpha")
        tw.portfolio_snapshot(300.0, 300.0, account="beta")
        tw.heartbeat("bot", "healthy")  # no account: the default destination
        assert tw.flush(10)
        per = tw.destination_stats()
    assert equity(url_a) == {"alpha": 500.0} and equity(url_b) == {"beta": 300.0}
    assert (per[url_a].accepted, per[url_b].accepted) == (1, 2)


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="each exporter once"):
        FanOutClient.to_urls(["http://127.0.0.1:1", "http://127.0.0.1:1"])
    with pytest.raises(ValueError, match="at least one"):
        FanOutClient({})


def _input_series(url: str) -> list[dict]:
    """The account gauges of one real exporter as promtool input series, labelled like a scrape."""
    out = []
    instance = urlsplit(url).netloc
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name in ACCOUNT_GAUGES:
                labels = {**sample.labels, "job": "trading-exporter", "instance": instance}
                body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                out.append({"series": f"{sample.name}{{{body}}}", "values": f"{sample.value!r}x3"})
    return out


def test_accounts_rules_over_two_real_exporters_count_a_shared_account_once(exporters, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    (_, url_a), (_, url_b) = exporters
    with FanOutClient.to_urls([url_a, url_b], token=TOKEN, flush_interval=0.05, account="main") as both:
        both.portfolio_snapshot(1000.0, 1000.0)
        assert both.flush(10)
    route = by_account({"alpha": url_a}, default=url_b)
    with FanOutClient.to_urls([url_a, url_b], token=TOKEN, route=route, flush_interval=0.05) as routed:
        routed.portfolio_snapshot(500.0, 500.0, account="alpha")
        routed.portfolio_snapshot(300.0, 300.0, account="beta")
        assert routed.flush(10)
    series = _input_series(url_a) + _input_series(url_b)
    assert len([s for s in series if s["series"].startswith("tradewatch_trading_equity{")]) == 4
    test = {
        "rule_files": [str(ROOT / "prometheus" / "rules" / "accounts.yml")],
        "evaluation_interval": "5s",
        "tests": [
            {
                "interval": "5s",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": "desk:tradewatch_trading_equity:sum",
                        "eval_time": "5s",
                        "exp_samples": [{"labels": "desk:tradewatch_trading_equity:sum", "value": 1800}],
                    },
                    {
                        "expr": 'account:tradewatch_trading_equity:latest{account="main"}',
                        "eval_time": "5s",
                        "exp_samples": [
                            {"labels": 'account:tradewatch_trading_equity:latest{account="main"}', "value": 1000}
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "accounts_live_test.yml").write_text(yaml.safe_dump(test))
    res = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "accounts_live_test.yml")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
