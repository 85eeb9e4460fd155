"""Validation of the model exporter's events (schema v1), with the shared core validator.

The rules are documented as JSON Schema in ``tradewatch/schemas/model-events-v1.json``;
``tests/model/test_model_schema.py`` and ``tests/fuzz`` check that this validator and the schema
agree (documents generated from the schema, both ways). Feature values are a number, a
string (categorical) or null; a non-finite number (NaN/Infinity, which only lenient JSON encoders
send) is normalized to null, because measuring missing and non-finite inputs is the point of the
``missing_ratio`` metric, not a reason to lose the prediction.
"""

from __future__ import annotations

import math
from typing import Any

from tradewatch.core import validate as v

MAX_FEATURES_PER_EVENT = 1000
MAX_CLASSES_PER_EVENT = 1000
AI_STATUSES = ("ok", "error", "timeout", "rate_limited")

_label = v.text()


def feature_value(value: Any) -> float | str | None:
    if value is None:
        return None
    if value.__class__ is float:
        return value if math.isfinite(value) else None
    if value.__class__ is int:
        try:
            return float(value)
        except OverflowError:
            return None
    if value.__class__ is str:
        return _label(value)
    raise v.Invalid("wrong_type", f"expected a number, a string or null, got {type(value).__name__}")


def class_or_value(value: Any) -> str | float:
    """A class label (string) or a regression value (finite number)."""
    if value.__class__ is str:
        return _label(value)
    if value.__class__ in (int, float):
        return v.number()(value)
    raise v.Invalid("wrong_type", f"expected a class (string) or a value (number), got {type(value).__name__}")


_ratio = v.number(0.0, 1.0)

MODEL_EVENT_TYPES: dict[str, list[v.FieldSpec]] = {
    "prediction": [
        v.req("model", v.text()),
        v.req("model_version", v.text()),
        v.req("prediction_id", v.text()),
        v.req("features", v.mapping(feature_value, MAX_FEATURES_PER_EVENT)),
        v.req("predicted", class_or_value),
        v.opt("confidence", _ratio),
        v.opt("probabilities", v.mapping(_ratio, MAX_CLASSES_PER_EVENT)),
        v.req("latency_seconds", v.number(0.0)),
    ],
    "outcome": [
        v.req("prediction_id", v.text()),
        v.req("model", v.text()),
        v.req("actual", class_or_value),
        v.opt("pnl", v.number()),
    ],
    "ai_call": [
        v.req("provider", v.text()),
        v.req("model", v.text()),
        v.req("prompt_tokens", v.integer()),
        v.req("completion_tokens", v.integer()),
        v.opt("cost_usd", v.number(0.0)),
        v.req("latency_seconds", v.number(0.0)),
        v.req("status", v.enum(*AI_STATUSES)),
    ],
}


def validator(window: v.TimeWindow | None = None) -> v.EventValidator:
    """The model exporter's validator; ``window`` (``TimeWindow.from_config``) bounds event times."""
    return v.EventValidator(MODEL_EVENT_TYPES, window)
