"""The JSON Schema (documentation) and the hand-written validator (hot path) agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import tradewatch
from tradewatch.core.validate import Invalid, TimeWindow, schema_defs, timestamp
from tradewatch.trading.events import TRADING_TYPES, trading_validator, validate_trading_event

SCHEMAS = Path(tradewatch.__file__).parent / "schemas"
SCHEMA = json.loads((SCHEMAS / "trading-events-v1.schema.json").read_text())
EXAMPLES = {p.stem: json.loads(p.read_text()) for p in sorted((SCHEMAS / "examples").glob("*.json"))}
checker = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_and_has_one_example_per_type():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(EXAMPLES) == set(TRADING_TYPES)
    assert [b["properties"]["type"]["const"] for b in SCHEMA["oneOf"]] == list(TRADING_TYPES)


@pytest.mark.parametrize("name", sorted(TRADING_TYPES))
def test_examples_pass_both(name):
    example = EXAMPLES[name]
    checker.validate(example)
    normalized = validate_trading_event(copy.deepcopy(example))
    assert normalized["type"] == name and isinstance(normalized["ts"], float)


def _mutations():
    """(label, document, expected reason) from the examples: each must fail both checks."""
    sub = EXAMPLES["order_submitted"]
    fill = EXAMPLES["order_filled"]
    yield "unknown type", {**sub, "type": "order_teleported"}, "unknown_type"
    yield "type not a string", {**sub, "type": 7}, "unknown_type"
    yield "missing event_id", {k: v for k, v in sub.items() if k != "event_id"}, "missing_field"
    yield "missing ts", {k: v for k, v in sub.items() if k != "ts"}, "missing_field"
    yield "missing symbol", {k: v for k, v in sub.items() if k != "symbol"}, "missing_field"
    yield "null required field", {**sub, "symbol": None}, "missing_field"
    yield "negative quantity", {**sub, "quantity": -1}, "negative_quantity"
    yield "zero quantity", {**sub, "quantity": 0}, "negative_quantity"
    yield "negative quantity as string", {**sub, "quantity": "-3"}, "negative_quantity"
    yield "negative fill", {**fill, "fill_quantity": -0.1}, "negative_quantity"
    yield "negative fee", {**fill, "fee": -1}, "out_of_range"
    yield "zero price", {**fill, "fill_price": 0}, "out_of_range"
    yield "quantity as word", {**sub, "quantity": "ten"}, "wrong_type"
    yield "NaN string", {**sub, "quantity": "NaN"}, "non_finite"
    yield "Infinity string", {**fill, "fill_price": "Infinity"}, "non_finite"
    yield "quantity as bool", {**sub, "quantity": True}, "wrong_type"
    yield "quantity as list", {**sub, "quantity": [1]}, "wrong_type"
    yield "side not in enum", {**sub, "side": "hold"}, "invalid_value"
    yield "order_type not in enum", {**sub, "order_type": "iceberg"}, "invalid_value"
    yield "symbol empty", {**sub, "symbol": ""}, "invalid_value"
    yield "symbol a number", {**sub, "symbol": 42}, "wrong_type"
    yield "symbol too long", {**sub, "symbol": "S" * 300}, "out_of_range"
    yield "event_id number", {**sub, "event_id": 5}, "wrong_type"
    yield "strategy object", {**sub, "strategy": {"a": 1}}, "wrong_type"
    yield "ts garbage", {**sub, "ts": "yesterday"}, "invalid_timestamp"
    yield "ts in milliseconds", {**sub, "ts": 1772461800250}, "invalid_timestamp"
    yield "ts negative", {**sub, "ts": -5}, "invalid_timestamp"
    yield "ts without offset", {**sub, "ts": "2026-03-02T14:30:00"}, "invalid_timestamp"
    yield "schema_version 2", {**sub, "schema_version": 2}, "unsupported_version"
    yield "confidence above 1", {**EXAMPLES["signal"], "confidence": 1.5}, "out_of_range"
    yield "kill switch active string", {**EXAMPLES["kill_switch"], "active": "yes"}, "wrong_type"
    yield "reject reason a number", {**EXAMPLES["order_rejected"], "reason": 7}, "wrong_type"
    yield "heartbeat status a list", {**EXAMPLES["heartbeat"], "status": ["up"]}, "wrong_type"
    yield "ts year 9999", {**sub, "ts": "9999-12-31T23:59:59Z"}, "invalid_timestamp"
    yield "ts year 1", {**sub, "ts": "0001-01-01T00:00:00Z"}, "invalid_timestamp"
    yield "ts before 1970 by offset", {**sub, "ts": "1970-01-01T00:30:00+01:00"}, "invalid_timestamp"
    yield "ts offset without colon", {**sub, "ts": "2026-03-02T14:30:00+0200"}, "invalid_timestamp"
    yield "ts without seconds", {**sub, "ts": "2026-03-02T14:30Z"}, "invalid_timestamp"
    yield "ts basic format", {**sub, "ts": "20260302T143000Z"}, "invalid_timestamp"
    yield "ts 30 February", {**sub, "ts": "2026-02-30T00:00:00Z"}, "invalid_timestamp"
    yield "ts 29 February 2100", {**sub, "ts": "2100-02-29T00:00:00Z"}, "invalid_timestamp"
    yield "ts leap second", {**sub, "ts": "2016-12-31T23:59:60Z"}, "invalid_timestamp"
    yield "ts non-ASCII digits", {**sub, "ts": "\u0662026-03-02T14:30:00Z"}, "invalid_timestamp"
    yield "ts seconds with exponent", {**sub, "ts": "1.7e9"}, "invalid_timestamp"
    yield "ts beyond 5000 as a number", {**sub, "ts": 95617584001}, "invalid_timestamp"
    yield "quantity with Arabic-Indic digits", {**sub, "quantity": "5\u0660\u0660"}, "wrong_type"
    yield "quantity with a 3-digit exponent", {**sub, "quantity": "1e400"}, "wrong_type"
    yield "quantity beyond double range", {**sub, "quantity": 10**400}, "non_finite"
    yield "ratio with an exponent", {**EXAMPLES["signal"], "confidence": "5e-1"}, "out_of_range"
    yield "fee minus zero as text", {**fill, "fee": "-0"}, "out_of_range"
    yield "symbol with a lone surrogate", {**sub, "symbol": "BTC\ud800"}, "invalid_value"
    yield "event_id a lone surrogate", {**sub, "event_id": "\udfff"}, "invalid_value"
    yield "negative holding", {**EXAMPLES["trade_closed"], "holding_seconds": -1}, "out_of_range"
    yield "bad exchange_ts", {**EXAMPLES["market_data"], "exchange_ts": "soon"}, "invalid_timestamp"
    yield "negative usage", {**EXAMPLES["position_limit"], "usage_ratio": -0.1}, "out_of_range"
    yield "not an object", [sub], "not_an_object"
    yield "a string", "order_submitted", "not_an_object"


@pytest.mark.parametrize(("label", "doc", "reason"), list(_mutations()), ids=[m[0] for m in _mutations()])
def test_bad_documents_fail_both_with_the_expected_reason(label, doc, reason):
    assert not checker.is_valid(doc), f"schema accepted: {label}"
    with pytest.raises(Invalid) as err:
        validate_trading_event(copy.deepcopy(doc))
    assert err.value.reason == reason


def test_accepted_variants_pass_both():
    sub = EXAMPLES["order_submitted"]
    for doc in (
        {**sub, "quantity": "0.5", "reference_price": "64000"},  # decimal strings
        {**sub, "ts": 1772461800},
        {**sub, "ts": "2026-03-02T09:30:00.5-05:00"},
        {**sub, "limit_price": None, "strategy": None},  # null = absent
        {**sub, "schema_version": 1, "extra_field": "ignored"},
        {**sub, "ts": "1772461800.25"},  # Unix seconds as a string
        {**sub, "ts": "2024-02-29T23:59:59.123456789+14:00"},
        {**sub, "ts": "1970-01-01T00:00:00Z"},
        {**sub, "ts": "4999-12-31T23:59:59Z", "quantity": "1.5E+3"},
        {**sub, "ts": 95617584000},
        {**EXAMPLES["order_cancelled"], "reason": "user \ud83d\ude00 \ud800"},  # free text: surrogate replaced
    ):
        assert checker.is_valid(doc), doc
        validate_trading_event(copy.deepcopy(doc))


def test_schema_defs_are_the_validators():
    """The shipped $defs are exactly what the code generates: one truth, no hand-kept copy."""
    model = json.loads((SCHEMAS / "model-events-v1.json").read_text())
    for name, value in schema_defs().items():
        assert SCHEMA["$defs"][name] == value, name
        assert model["$defs"][name] == value, name


def test_text_and_numeric_timestamps_have_the_same_bounds():
    for text, seconds in (
        ("1970-01-01T00:00:00Z", 0),
        ("4999-12-31T23:59:59Z", 95617583999),
        ("2026-03-02T09:30:00-05:00", 1772461800),
    ):
        assert timestamp(text) == timestamp(seconds) == timestamp(str(seconds)) == seconds
    for text, seconds in (
        ("1969-12-31T23:59:59Z", -1),
        ("9999-12-31T23:59:59Z", 253402300799),
        ("0001-01-01T00:00:00Z", -62135596800),
        ("5000-01-01T00:00:01Z", 95617584001),
    ):
        for value in (text, seconds, str(seconds)):
            with pytest.raises(Invalid) as err:
                timestamp(value)
            assert err.value.reason == "invalid_timestamp", value


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati", "UTC"])
@pytest.mark.parametrize(
    "ts",
    [
        "1970-01-01T00:00:00Z",
        "1970-01-02T00:00:00+23:59",
        "4999-12-31T23:59:59Z",
        "4999-12-30T23:59:59.999999999-23:59",
        0,
        95617584000,
    ],
)
def test_every_accepted_time_folds(zone, ts, tmp_path):
    """The fold applies every timestamp the validator accepts (no OverflowError on replay)."""
    from tradewatch.core.ingest import EventIngestor
    from tradewatch.core.journal import Journal
    from tradewatch.trading.settings import TradingConfig
    from tradewatch.trading.state import TradingState

    errors = []

    class Errors:
        def labels(self, kind):
            errors.append(kind)
            return self

        def inc(self):
            pass

    config = TradingConfig(session_timezone=zone)
    ingestor = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState(config), errors=Errors())
    ingestor.start()
    events = [
        {**EXAMPLES[name], "ts": ts}
        for name in ("portfolio_snapshot", "trade_closed", "order_submitted", "order_filled", "kill_switch")
    ]
    events.append({**EXAMPLES["market_data"], "ts": ts, "exchange_ts": ts})
    result = ingestor.ingest(events)
    assert result.accepted == len(events) and errors == []
    ingestor.close(snapshot=False)
    replayed = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState(config), errors=Errors())
    replayed.start()
    assert errors == [] and replayed.fold.to_snapshot() == ingestor.fold.to_snapshot()


@pytest.mark.parametrize(
    ("field", "raw", "counted_as"),
    [
        ("kill_switch", "cost", "other"),
        ("kill_switch", "data_quality", "other"),
        ("kill_switch", "", "other"),
        ("kill_switch", "Daily-Loss", "daily_loss"),
        ("kill_switch", "x" * 5000, "other"),
        ("circuit_breaker", "tripped", "open"),
        ("circuit_breaker", "HALF-OPEN", "half_open"),
        ("circuit_breaker", "", "open"),
        ("heartbeat", "ok", "degraded"),
        ("heartbeat", "DOWN", "down"),
        ("order_rejected", "no money", "other"),
        ("trade_closed", "trailing_stop", "other"),
    ],
)
def test_safety_codes_are_never_lost_to_a_vocabulary(field, raw, counted_as):
    """An unknown code is accepted by both checks and counted as its bounded fallback."""
    key = {
        "kill_switch": "reason",
        "circuit_breaker": "state",
        "heartbeat": "status",
        "order_rejected": "reason",
        "trade_closed": "exit_reason",
    }[field]
    doc = {**EXAMPLES[field], key: raw}
    assert checker.is_valid(doc)
    assert validate_trading_event(copy.deepcopy(doc))[key] == counted_as


def test_unknown_kill_reason_keeps_the_halt_and_a_bounded_label():
    import threading

    from tradewatch.trading.collector import TradingStateCollector
    from tradewatch.trading.events import KILL_REASONS
    from tradewatch.trading.state import TradingState

    state = TradingState()
    state.apply(validate_trading_event({**EXAMPLES["kill_switch"], "active": True, "reason": "cost"}))
    state.apply(validate_trading_event({**EXAMPLES["circuit_breaker"], "state": "tripped"}))
    families = {m.name: m for m in TradingStateCollector(state, threading.Lock()).collect()}
    assert [s.value for s in families["tradewatch_trading_kill_switch_active"].samples] == [1.0]
    counts = {
        s.labels["reason"]: s.value
        for s in families["tradewatch_trading_kill_switch_activations"].samples
        if s.name.endswith("_total")
    }
    assert set(counts) <= set(KILL_REASONS) and counts["other"] == 1
    open_ = [s for s in families["tradewatch_trading_circuit_breaker_state"].samples if s.labels["state"] == "open"]
    assert [s.value for s in open_] == [1.0]


def test_time_window_refuses_the_future_and_optionally_the_past():
    now = 1_800_000_000.0
    window = TimeWindow(max_future=300, max_age=0, clock=lambda: now)
    strict = trading_validator(window)
    md = {**EXAMPLES["market_data"], "ts": now, "exchange_ts": now + 299}
    assert strict(dict(md))["exchange_ts"] == now + 299
    for doc, name in (
        ({**md, "exchange_ts": 4_102_444_800}, "exchange_ts"),  # 2100
        ({**md, "ts": now + 301}, "ts"),
        ({**md, "ts": "2100-01-01T00:00:00Z"}, "ts"),
    ):
        with pytest.raises(Invalid) as err:
            strict(dict(doc))
        assert err.value.reason == "timestamp_in_future" and name in err.value.message
    # The past is open by default: backfill and replay of historic data are a documented use.
    assert strict({**md, "ts": 86400, "exchange_ts": 86400})["ts"] == 86400
    aged = trading_validator(TimeWindow(max_future=0, max_age=3600, clock=lambda: now))
    with pytest.raises(Invalid) as err:
        aged({**md, "exchange_ts": now - 3601})
    assert err.value.reason == "timestamp_too_old"
    assert aged({**md, "exchange_ts": now + 10**6})  # max_future 0: off


def test_time_window_settings_are_validated_at_start_up():
    from tradewatch.core import config as cfg
    from tradewatch.model.settings import settings as model_settings
    from tradewatch.trading.settings import settings as trading_settings

    for settings in (trading_settings(), model_settings()):
        config = cfg.load(settings, environ={"TRADEWATCH_INGEST_MAX_FUTURE_SKEW": "2m"})
        window = TimeWindow.from_config(config)
        assert (window.max_future, window.max_age) == (120.0, 0.0)
        with pytest.raises(cfg.ConfigError) as err:
            cfg.load(
                settings, environ={"TRADEWATCH_INGEST_MAX_FUTURE_SKEW": "soon", "TRADEWATCH_INGEST_MAX_EVENT_AGE": "-1"}
            )
        assert "ingest.max_future_skew" in str(err.value) and "ingest.max_event_age" in str(err.value)


def test_unknown_code_goes_to_the_log_with_its_raw_text():
    from structlog.testing import capture_logs

    from tradewatch.core import validate

    validate._unknown_codes.windows.clear()  # the log is rate-limited per field; start a fresh window
    with capture_logs() as logs:
        validate_trading_event({**EXAMPLES["kill_switch"], "reason": "api_failure \ud800"})
    assert [(e["field"], e["value"], e["counted_as"]) for e in logs] == [
        ("kill_switch.reason", "api_failure \ufffd", "other")
    ]
