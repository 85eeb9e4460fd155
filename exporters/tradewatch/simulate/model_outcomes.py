"""The simulated model's outcomes and versions.

Outcomes: a prediction is right with a probability that depends on its confidence only,
``P(correct | confidence) = clip(0.62 + 1.2 (confidence - 0.72), 0.05, 0.98)``, the same function
in every scenario. So the model is not perfectly calibrated (ECE about 0.1 on a normal run), but its
confidence tells how likely it is to be right, as with a real classifier; in ``model-drift`` the
softmax temperature rises, confidence falls from about 0.72 to 0.49 and accuracy from about 62 % to
34 %, which a confidence-based estimate calibrated on the reference (tradewatch.model.cbpe) can see
before the outcomes arrive. The draws come from their own random stream, so the market, orders and
every other event of a seed are what they were.

Versions: ``version_change`` (market seconds after the start) switches the model from
``MODEL_VERSION`` to ``NEW_VERSION``, e.g. to see a champion and its successor side by side.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

NEW_VERSION = "1.5.0"


def p_correct(confidence: float) -> float:
    return min(0.98, max(0.05, 0.62 + 1.2 * (confidence - 0.72)))


def outcome_class(rng: random.Random, predicted: str, confidence: float, classes: Sequence[str]) -> str:
    if rng.random() < p_correct(confidence):
        return predicted
    return rng.choice([c for c in classes if c != predicted])


def version_at(version_change: float | None, s: float, old: str) -> str:
    """The model version predicting at market second ``s``."""
    return NEW_VERSION if version_change is not None and s >= version_change else old
