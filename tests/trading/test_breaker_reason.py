"""The circuit breaker's free-text reason: a bounded label (kind of reason, capped per breaker), the
full text in the log."""

from __future__ import annotations

import itertools

import orjson
from trading_fixtures import T0, Events, fold, metric_values

from tradewatch.trading.breaker_reason import REASONS_PER_BREAKER, normalise
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.state import OVERFLOW, TradingState

INFO = "tradewatch_trading_circuit_breaker_info"


def _reasons(state: TradingState) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, labels in metric_values(state):
        if name == INFO:
            d = dict(labels)
            out.setdefault(d["service"], set()).add(d["reason"])
    return out


def test_numbers_and_ids_become_a_placeholder():
    assert normalise("5 timeouts in 30 s") == "# timeouts in # s"
    assert normalise("upstream 503 for req 7f3a9c21") == "upstream # for req #"
    assert normalise("order 123e4567-e89b-12d3-a456-426614174000 stuck") == "order # stuck"
    assert normalise("latency 2.5 s  over\tlimit") == "latency # s over limit"
    assert normalise("dead cafe") == "dead cafe"  # hex letters without a digit are words
    assert normalise(None) == normalise("") == ""
    assert len(normalise("x" * 500)) == 80


def test_many_distinct_reasons_make_a_bounded_set_of_series():
    ev = Events()
    state = TradingState()
    words = ("".join(p) for p in itertools.product("abcdefghij", repeat=3))  # no digit: not merged
    exported: set[str] = set()  # every reason label Prometheus would ever have seen
    for i, word in enumerate(itertools.islice(words, 300)):
        for reason in (f"{word} failing", f"timeout after {i} ms on order {i:08x}"):
            state.apply(
                validate_trading_event(ev("circuit_breaker", T0 + i, service="broker-api", state="open", reason=reason))
            )
            exported |= _reasons(state)["broker-api"]
    assert "timeout after # ms on order #" in exported  # 300 ID-carrying reasons: one value
    assert OVERFLOW in exported
    assert len(exported) == REASONS_PER_BREAKER + 1
    assert len(state.health.breaker_reasons.known["broker-api"]) == REASONS_PER_BREAKER


def test_the_cap_survives_a_snapshot_and_old_snapshots_are_normalised():
    ev = Events()
    events = [
        ev("circuit_breaker", T0 + i, service="s", state="open", reason=f"r{'abcdefghijklm'[i]}") for i in range(12)
    ]
    state = fold(events)
    restored = TradingState()
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert _reasons(restored) == _reasons(state) == {"s": {OVERFLOW}}
    restored.apply(validate_trading_event(ev("circuit_breaker", T0 + 20, service="s", state="closed", reason="ra")))
    assert _reasons(restored) == {"s": {"ra"}}  # a known kind keeps its name after the restore

    old = state.to_snapshot()  # as written before the bound: raw text, no known sets
    del old["health"]["breaker_reasons"]
    old["health"]["breaker_reason"] = {"s": [T0, "timeout on order 12345"]}
    older = TradingState()
    older.from_snapshot(orjson.loads(orjson.dumps(old)))
    assert _reasons(older) == {"s": {"timeout on order #"}}


def test_the_full_reason_is_logged_when_live():
    from structlog.testing import capture_logs

    from tradewatch.trading.safetylog import SafetyEventLog

    live = [False]
    wrapped = SafetyEventLog(TradingState(), live=lambda: live[0])
    ev = Events()
    with capture_logs() as logs:
        wrapped.apply(validate_trading_event(ev("circuit_breaker", T0, service="b", state="open", reason="replayed")))
        live[0] = True
        wrapped.apply(
            validate_trading_event(ev("circuit_breaker", T0 + 1, service="b", state="open", reason="req 7f3a9c21"))
        )
    assert [(e["event"], e["log_level"], e["service"], e["reason"]) for e in logs] == [
        ("circuit_breaker_changed", "warning", "b", "req 7f3a9c21")
    ]
