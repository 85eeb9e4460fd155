"""The documented JSON Schema and the exporter's validator agree on the examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tradewatch.core.validate import Invalid
from tradewatch.model.events import validator

SCHEMAS = Path(__file__).resolve().parents[2] / "exporters" / "tradewatch" / "schemas"
SCHEMA = json.loads((SCHEMAS / "model-events-v1.json").read_text())
EXAMPLES = sorted((SCHEMAS / "examples" / "model").glob("*.json"))
INVALID = json.loads((SCHEMAS / "examples" / "model" / "invalid" / "cases.json").read_text())

check = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_pass_both(path):
    event = json.loads(path.read_text())
    check.validate(event)
    normalized = validator()(event)
    assert normalized["type"] == event["type"] and isinstance(normalized["ts"], float)


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c["event"]["event_id"])
def test_invalid_cases_fail_both_with_the_documented_reason(case):
    assert not check.is_valid(case["event"])
    with pytest.raises(Invalid) as info:
        validator()(case["event"])
    assert info.value.reason == case["reason"]
