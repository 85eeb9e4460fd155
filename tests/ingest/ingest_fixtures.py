"""A tiny domain for the generic ingest machinery: ``tick`` events summed by a fold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tradewatch.core.ingest import EventIngestor
from tradewatch.core.journal import Journal
from tradewatch.core.validate import EventValidator, number, opt, req, text

validator = EventValidator({"tick": [req("symbol", text()), req("value", number()), opt("n", number())]})


class SumFold:
    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.ids: list[str] = []

    def apply(self, event: dict[str, Any]) -> None:
        self.count += 1
        self.total += event["value"]
        self.ids.append(event["event_id"])

    def to_snapshot(self) -> Any:
        return {"count": self.count, "total": self.total, "ids": self.ids}

    def from_snapshot(self, data: Any) -> None:
        self.count, self.total, self.ids = data["count"], data["total"], data["ids"]


def tick(i: int, value: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "tick",
        "ts": 1_700_000_000 + i,
        "event_id": f"e{i}",
        "symbol": "X",
        "value": value,
        **extra,
    }


def ndjson(events: list[Any]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def make_ingestor(path: Path, **kwargs: Any) -> EventIngestor:
    fsync = kwargs.pop("fsync", "batch")
    ingestor = EventIngestor(Journal(path, fsync=fsync), validator, SumFold(), **kwargs)
    ingestor.start()
    return ingestor


def samples(collector: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in collector.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out
