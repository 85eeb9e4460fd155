"""One truth, in process and fast: schema-valid <=> accepted by the validator, both ways.

Documents come from the shipped schemas (hypothesis-jsonschema), then are broken field by field; the
validators run with their static rules (the clock window is the one rule a schema cannot state).
The HTTP fuzz checks the same property through the real APIs.
"""

from __future__ import annotations

from typing import Any

import pytest
from fuzz_oracle import SchemaOracle
from fuzz_strategies import SCHEMA, batch, examples
from hypothesis import given, settings

from tradewatch.core.validate import Invalid, timestamp
from tradewatch.model.events import validator as model_validator
from tradewatch.trading.events import validate_trading_event

VALIDATORS = {"trading": validate_trading_event, "model": model_validator()}


@pytest.mark.parametrize("name", ["trading", "model"])
def test_schema_valid_iff_accepted(name: str) -> None:
    checker = SchemaOracle(SCHEMA[name])
    validate = VALIDATORS[name]
    tried = 0

    @settings(max_examples=examples(150))
    @given(batch(name, 20, 40))
    def fuzz(items: list[Any]) -> None:
        nonlocal tried
        for item in items:
            tried += 1
            valid = checker.is_valid(item)
            try:
                event = validate(item)
            except Invalid as exc:
                assert not valid, f"schema accepts, validator refuses ({exc.reason}: {exc.message}): {item!r:.400}"
                continue
            assert valid, f"validator accepts, schema refuses: {item!r:.400}"
            # Normalized: every timestamp is Unix seconds inside the documented bounds.
            assert timestamp(event["ts"]) == event["ts"]

    fuzz()
    print(f"\nschema truth {name}: {tried} documents")
