"""The JSON Schema (documentation) and the hand-written validator (hot path) agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import tradewatch
from tradewatch.core.validate import Invalid
from tradewatch.trading.events import TRADING_TYPES, validate_trading_event

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
    yield "reject reason free text", {**EXAMPLES["order_rejected"], "reason": "no money"}, "invalid_value"
    yield "heartbeat status", {**EXAMPLES["heartbeat"], "status": "sleepy"}, "invalid_value"
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
    ):
        assert checker.is_valid(doc), doc
        validate_trading_event(copy.deepcopy(doc))
