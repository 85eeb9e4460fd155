"""Errors, API calls, the decision lifecycle, limits per account in percent: folded, exported, bounded."""

from __future__ import annotations

import orjson
import pytest
from trading_fixtures import T0, Events, fold, metric_values, value

from tradewatch.core import config as cfg
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.settings import TradingConfig, settings
from tradewatch.trading.state import OVERFLOW, TradingState

P = "tradewatch_trading_"


def _values(events, config=None):
    return metric_values(fold(events, config))


def test_errors_are_counted_by_component_severity_and_kind_from_zero():
    ev = Events()
    v = _values(
        [
            ev("error", T0, component="database", severity="critical", kind="connection_lost", message="secret text"),
            ev("error", T0 + 1, component="database", severity="bogus", kind="connection_lost"),
        ]
    )
    assert value(v, P + "errors_total", component="database", severity="critical", kind="connection_lost") == 1
    assert value(v, P + "errors_total", component="database", severity="error", kind="connection_lost") == 1
    assert value(v, P + "errors_total", component="database", severity="warning", kind="connection_lost") == 0
    assert not any("secret" in str(k) for k in v)  # the message is never a label


def test_error_kinds_are_capped():
    ev = Events()
    state = fold(
        [ev("error", T0, component="c", severity="error", kind=f"k{i}") for i in range(5)],
        TradingConfig(max_label_values=2),
    )
    kinds = {k[2] for k in state.health.errors}
    assert kinds == {"k0", "k1", OVERFLOW}


def test_api_calls_rate_latency_and_cache():
    ev = Events()
    calls = [
        ev("api_call", T0, provider="broker", endpoint="orders", status_class="2xx", latency_seconds=0.2, cache="miss"),
        ev("api_call", T0, provider="broker", endpoint="orders", status_class="5xx", latency_seconds=3.0),
        ev(
            "api_call", T0, provider="broker", endpoint="orders", status_class="418?", latency_seconds=0.01, cache="hit"
        ),
    ]
    v = _values(calls)
    calls_of = {
        c: value(v, P + "api_calls_total", provider="broker", endpoint="orders", status_class=c)
        for c in ("2xx", "5xx", "error", "4xx")
    }
    assert calls_of == {"2xx": 1, "5xx": 1, "error": 1, "4xx": 0}
    hist = P + "api_call_latency_seconds"
    assert value(v, hist + "_count", provider="broker", endpoint="orders") == 3
    assert value(v, hist + "_bucket", provider="broker", endpoint="orders", le="0.25") == 2
    assert value(v, hist + "_sum", provider="broker", endpoint="orders") == pytest.approx(3.21)
    assert value(v, P + "api_cache_lookups_total", provider="broker", endpoint="orders", result="hit") == 1
    assert value(v, P + "api_cache_lookups_total", provider="broker", endpoint="orders", result="miss") == 1


def test_decision_lifecycle_open_decisions_and_time_to_execution():
    ev = Events()
    events = [
        ev("decision", T0, provider="llm", latency_seconds=1.0, confidence=0.7),  # v1: a decision made
        ev("decision", T0, provider="llm", latency_seconds=1.0, confidence=0.9, decision_id="d1"),
        ev("decision", T0 + 1, provider="llm", stage="approved", decision_id="d1"),
        ev("decision", T0 + 3, provider="llm", stage="executed", decision_id="d1", correlation_id="d1"),
        ev("decision", T0 + 4, provider="llm", stage="made", decision_id="d2"),
        ev("decision", T0 + 5, provider="llm", stage="made", decision_id="d3"),
        ev("decision", T0 + 6, provider="llm", stage="rejected", decision_id="d3"),
    ]
    v = _values(events)
    stage = {
        s: value(v, P + "decisions_total", provider="llm", stage=s)
        for s in ("made", "approved", "executed", "rejected", "failed")
    }
    assert stage == {"made": 4, "approved": 1, "executed": 1, "rejected": 1, "failed": 0}
    assert value(v, P + "open_decisions", provider="llm") == 1  # d2
    assert value(v, P + "decision_confidence_count", provider="llm") == 2
    assert value(v, P + "decision_confidence_sum", provider="llm") == pytest.approx(1.6)
    assert value(v, P + "decision_to_execution_seconds_sum", provider="llm") == 3.0
    assert value(v, P + "decision_latency_seconds_count", provider="llm") == 2
    # The executed stage's correlation ID (its trail: docs/events.md) is that bucket's exemplar.
    held = fold(events).decisions.to_execution["llm"].exemplars
    assert [x[0] for x in held.slots if x] == ["d1"]


def test_open_decisions_are_bounded():
    ev = Events()
    state = fold(
        [ev("decision", T0 + i, provider="p", decision_id=f"d{i}") for i in range(5)],
        TradingConfig(max_open_decisions=3),
    )
    v = metric_values(state)
    assert value(v, P + "open_decisions", provider="p") == 3
    assert value(v, P + "open_decisions_evicted_total") == 2


def test_breaker_reason_margin_and_volatility_are_exported():
    ev = Events()
    v = _values(
        [
            ev("circuit_breaker", T0 + 5, service="broker-api", state="open", reason="5 timeouts in 30 s"),
            ev("circuit_breaker", T0, service="broker-api", state="closed", reason="late"),
            ev("portfolio_snapshot", T0, equity=100_000, cash=50_000, margin_used=20_000, account="a"),
            ev("volatility_breach", T0, symbol="BTC", volatility=1.2, limit=0.9),
        ]
    )
    assert value(v, P + "circuit_breaker_info", service="broker-api", reason="# timeouts in # s") == 1
    assert value(v, P + "margin_used", account="a") == 20_000
    assert value(v, P + "margin_usage_ratio", account="a") == 0.2
    assert value(v, P + "volatility", symbol="BTC") == 1.2
    assert value(v, P + "volatility_limit", symbol="BTC") == 0.9


def _equity_path(ev, account="a", initial=None):
    day = 86_400 * (int(T0) // 86_400 + 1)  # a session boundary (UTC midnight)
    extra = {"initial_balance": initial} if initial is not None else {}
    return [
        ev("portfolio_snapshot", day - 10, equity=100_000, cash=0, account=account, **extra),
        ev("portfolio_snapshot", day + 10, equity=110_000, cash=0, account=account, **extra),
        ev("portfolio_snapshot", day + 20, equity=104_500, cash=0, account=account, **extra),
    ]


def test_percent_limits_resolve_against_session_start_hwm_and_initial_balance():
    ev = Events()
    config = TradingConfig(
        daily_loss_limit=0.0,
        daily_loss_limit_percent=10.0,
        max_drawdown=0.1,
        take_profit="20%",
        stop_loss="3000",
    )
    v = _values(_equity_path(ev, initial=90_000), config)
    # Session started at 100,000 (the last equity before the boundary): 10% = 10,000; lost 0 today.
    assert value(v, P + "limit", account="a", limit="daily_loss") == 10_000
    assert value(v, P + "limit_usage_ratio", account="a", limit="daily_loss") == 0
    assert value(v, P + "daily_loss_limit", account="a") == 10_000
    assert value(v, P + "limit", account="a", limit="drawdown") == 11_000  # 10% of the HWM
    assert value(v, P + "limit_usage_ratio", account="a", limit="drawdown") == pytest.approx(0.5)
    # P&L 104,500 - 90,000 = 14,500 of a 18,000 take-profit level; no loss against the stop.
    assert value(v, P + "portfolio_pnl", account="a") == 14_500
    assert value(v, P + "limit_usage_ratio", account="a", limit="take_profit") == pytest.approx(14_500 / 18_000)
    assert value(v, P + "limit_usage_ratio", account="a", limit="stop_loss") == 0
    assert value(v, P + "initial_balance", account="a") == 90_000


def test_per_account_limits_override_and_the_tighter_global_daily_limit_applies():
    ev = Events()
    config = TradingConfig(
        daily_loss_limit=3_000.0,
        daily_loss_limit_percent=5.0,
        account_limits={"b": {"daily_loss": "1%", "drawdown": "2000", "take_profit": "", "stop_loss": "10%"}},
    )
    v = _values([*_equity_path(ev, "a"), *_equity_path(ev, "b")], config)
    assert value(v, P + "limit", account="a", limit="daily_loss") == 3_000  # min(3000, 5% of 100k)
    assert value(v, P + "limit", account="b", limit="daily_loss") == 1_000
    assert value(v, P + "limit_usage_ratio", account="b", limit="drawdown") == pytest.approx(5_500 / 2_000)
    assert value(v, P + "drawdown_limit_ratio", account="b") == pytest.approx(2_000 / 110_000)
    # No initial_balance in the snapshots: the first equity seen is the base.
    assert value(v, P + "limit", account="b", limit="stop_loss") == 10_000
    assert (P + "limit", (("account", "a"), ("limit", "stop_loss"))) not in v


def test_absolute_settings_keep_working_before_any_account():
    v = metric_values(TradingState(TradingConfig(daily_loss_limit=5000.0, max_drawdown=0.1)))
    assert value(v, P + "daily_loss_limit", account="default") == 5000
    assert value(v, P + "drawdown_limit_ratio", account="default") == 0.1


def test_limit_settings_env_vars_and_all_problems_in_one_message():
    env = {
        "TRADEWATCH_RISK_TAKE_PROFIT": "25%",
        "TRADEWATCH_RISK_ACCOUNTS": '{"sim-001": {"daily_loss": "5%", "stop_loss": 15000}}',
        "TRADEWATCH_RISK_DAILY_LOSS_LIMIT_PERCENT": "4",
    }
    c = TradingConfig.from_config(cfg.load(settings(), environ=env))
    assert (c.take_profit, c.daily_loss_limit_percent) == ("25%", 4.0)
    assert c.account_limits["sim-001"]["daily_loss"] == "5%" and c.account_limits["sim-001"]["stop_loss"] == "15000"
    bad = {
        "TRADEWATCH_RISK_STOP_LOSS": "lots",
        "TRADEWATCH_RISK_ACCOUNTS": '{"x": {"daily_loss": "150%"}, "y": {"limit": 1}}',
        "TRADEWATCH_RISK_DAILY_LOSS_LIMIT_PERCENT": "-1",
    }
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(settings(), environ=bad)
    text = str(err.value)
    assert "risk.stop_loss" in text and "risk.accounts" in text and "risk.daily_loss_limit_percent" in text


def test_new_folds_round_trip_through_the_snapshot():
    ev = Events()
    events = [
        ev("error", T0, component="db", severity="critical", kind="lost"),
        ev("api_call", T0, provider="b", endpoint="orders", status_class="2xx", latency_seconds=0.1, cache="hit"),
        ev("decision", T0, provider="p", decision_id="d1", confidence=0.5),
        ev("circuit_breaker", T0, service="s", state="open", reason="r"),
        ev("volatility_breach", T0, symbol="X", volatility=1.0, limit=0.5),
        *_equity_path(ev, initial=90_000),
    ]
    config = TradingConfig(stop_loss="5%")
    state = fold(events, config)
    restored = TradingState(config)
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert metric_values(restored) == metric_values(state)
    more = ev("decision", T0 + 9, provider="p", stage="executed", decision_id="d1")
    for s in (state, restored):
        s.apply(validate_trading_event(dict(more)))
    assert metric_values(restored) == metric_values(state)


def test_error_message_goes_to_the_log_when_live_only():
    from structlog.testing import capture_logs

    from tradewatch.trading.safetylog import SafetyEventLog

    live = [False]
    wrapped = SafetyEventLog(TradingState(), live=lambda: live[0])
    event = {
        "type": "error",
        "ts": T0,
        "event_id": "e",
        "component": "db",
        "severity": "critical",
        "kind": "lost",
        "message": "database connection lost",
    }
    with capture_logs() as logs:
        wrapped.apply(dict(event))  # replay: not announced again
        live[0] = True
        wrapped.apply(dict(event, event_id="e2"))
    assert [(e["event"], e["log_level"], e["message"]) for e in logs] == [
        ("trading_system_error", "critical", "database connection lost")
    ]


def _schema_checker():
    import json
    from pathlib import Path

    import jsonschema

    import tradewatch

    schemas = Path(tradewatch.__file__).parent / "schemas"
    examples = {
        n: json.loads((schemas / "examples" / f"{n}.json").read_text()) for n in ("error", "api_call", "decision")
    }
    schema = json.loads((schemas / "trading-events-v1.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema), examples


@pytest.mark.parametrize(
    ("name", "change", "reason"),
    [
        ("error", {"kind": None}, "missing_field"),
        ("error", {"component": ""}, "invalid_value"),
        ("error", {"severity": 3}, "wrong_type"),
        ("api_call", {"latency_seconds": -0.1}, "out_of_range"),
        ("api_call", {"cache": "maybe"}, "invalid_value"),
        ("api_call", {"endpoint": None}, "missing_field"),
        ("decision", {"stage": "pondered"}, "invalid_value"),
        ("decision", {"decision_id": ""}, "invalid_value"),
    ],
)
def test_new_types_are_refused_alike_by_schema_and_validator(name, change, reason):
    from tradewatch.core.validate import Invalid

    checker, examples = _schema_checker()
    doc = {k: v for k, v in {**examples[name], **change}.items() if v is not None}
    assert not checker.is_valid(doc)
    with pytest.raises(Invalid) as err:
        validate_trading_event(dict(doc))
    assert err.value.reason == reason


def test_compatible_variants_are_accepted_alike():
    checker, examples = _schema_checker()
    v1_decision = {k: v for k, v in examples["decision"].items() if k not in ("stage", "decision_id")}
    for doc, field, expected in (
        (v1_decision, "latency_seconds", 1.84),  # a schema v1 decision as before
        (
            {**examples["decision"], "latency_seconds": None, "stage": "executed", "decision_id": "d"},
            "stage",
            "executed",
        ),
        ({**examples["error"], "severity": "FATAL"}, "severity", "error"),  # unknown severity: error
        ({**examples["api_call"], "status_class": "418"}, "status_class", "error"),
    ):
        assert checker.is_valid(doc), doc
        assert validate_trading_event(dict(doc))[field] == expected
