"""The decision lifecycle: decisions made, approved or rejected, executed, failed or expired.

A ``decision`` event without ``stage`` is a decision made (schema v1 before stages), so older
producers count as before. Stages are counted by provider; with a ``decision_id`` the stages of one
decision are joined: a decision is open from "made" until a terminal stage (rejected, executed,
failed, expired), and made-to-executed time is measured in event time. Open decisions are an
insertion-ordered map bounded by ``limits.max_open_decisions`` (the oldest forgotten, counted).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tradewatch.trading.events import DECISION_STAGES

TERMINAL = frozenset({"rejected", "executed", "failed", "expired"})


class DecisionFold:
    def __init__(self, max_open: int):
        self.max_open = max_open
        self.stages: dict[tuple[str, str], int] = {}  # (provider, stage)
        self.open: OrderedDict[str, list[Any]] = OrderedDict()  # decision_id -> [provider, made ts]
        self.evicted = 0
        self.confidence: dict[str, Any] = {}
        self.to_execution: dict[str, Any] = {}

    def apply(self, e: dict[str, Any], provider: str, hist: Any, confidence: tuple, latency: tuple) -> None:
        stage = e.get("stage", "made")
        key = (provider, stage)
        self.stages[key] = self.stages.get(key, 0) + 1
        if stage == "made" and "confidence" in e:
            hist(self.confidence, provider, confidence, e["confidence"])
        did = e.get("decision_id")
        if did is None:
            return
        if stage == "made":
            self.open.pop(did, None)
            self.open[did] = [provider, e["ts"]]
            if len(self.open) > self.max_open:
                self.open.popitem(last=False)
                self.evicted += 1
        elif stage in TERMINAL:
            made = self.open.pop(did, None)
            if made is not None and stage == "executed" and e["ts"] >= made[1]:
                hist(self.to_execution, made[0], latency, e["ts"] - made[1], e)  # a correlated one: an exemplar

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "stages": [[*k, v] for k, v in self.stages.items()],
            "open": list(self.open.items()),
            "evicted": self.evicted,
            "confidence": {k: [h.counts, h.sum] for k, h in self.confidence.items()},
            "to_execution": {k: [h.counts, h.sum] for k, h in self.to_execution.items()},
        }

    def load(self, data: dict[str, Any] | None, hist_type: Any, confidence: tuple, latency: tuple) -> None:
        if not data:
            return
        self.stages = {(p, st): v for p, st, v in data["stages"]}
        self.open = OrderedDict((k, v) for k, v in data["open"])
        self.evicted = data["evicted"]
        self.confidence = {k: hist_type(confidence, c, s) for k, (c, s) in data["confidence"].items()}
        self.to_execution = {k: hist_type(latency, c, s) for k, (c, s) in data["to_execution"].items()}


def families(s: Any) -> list[Any]:
    from tradewatch.trading.collector import P, _counter, _cross, _gauge, _histogram

    d: DecisionFold = s.decisions
    providers = sorted({p for p, _ in d.stages})
    open_by: dict[str, int] = dict.fromkeys(providers, 0)
    for provider, _ in d.open.values():
        open_by[provider] = open_by.get(provider, 0) + 1
    return [
        _counter(
            P + "decisions",
            "Decisions by lifecycle stage (made, approved, rejected, executed, failed, expired).",
            ["provider", "stage"],
            d.stages,
            _cross(providers, DECISION_STAGES),
        ),
        _gauge(
            P + "open_decisions",
            "Decisions made (with a decision_id) and not yet rejected, executed, failed or expired.",
            ["provider"],
            sorted(open_by.items()),
        ),
        _counter(
            P + "open_decisions_evicted",
            "Open decisions forgotten past limits.max_open_decisions (the oldest first).",
            [],
            {(): d.evicted},
        ),
        _histogram(P + "decision_confidence", "Confidence of decisions made.", ["provider"], d.confidence),
        _histogram(
            P + "decision_to_execution_seconds",
            "Decision made to executed (event time; decisions with a decision_id).",
            ["provider"],
            d.to_execution,
        ),
    ]
