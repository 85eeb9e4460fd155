"""One correlation ID's story: its events from the journals and its log lines, in event-time order.

Sources: exporter journal directories (``journal-*.jsonl``, normalized events with Unix-second
``ts``) and any JSONL file of raw events (a client ``JournalWriter`` file, RFC 3339 ``ts``); log
files of JSON lines (``tradewatch.core.logging``); Loki, with the same LogQL the Grafana exemplar
link runs. Events a journal snapshot has compacted away are no longer in the files: the story says
so instead of pretending the trail is complete.

Each event becomes an entry with a one-line ``summary`` (a decision's stages name their
``decision_id``, an outcome its prediction); order events are joined on ``order_id``
so acks and fills show their latency since the submission and fills their slippage in basis points
(side x (fill - reference) / reference x 1e4, positive = worse, as ``tradewatch_trading_slippage_bps``).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tradewatch.core.correlation import FIELD, ORDER_EVENTS
from tradewatch.core.validate import Invalid, timestamp

MAX_ENTRIES = 10_000  # one ID's story; a runaway ID cannot exhaust memory
# Events of one instant (a simulator step, a fill that closes a trade) in the order they happen.
_STORY_ORDER = ("prediction", "ai_call", "signal", "decision", *ORDER_EVENTS, "trade_closed", "outcome")
_RANK = {t: i for i, t in enumerate(_STORY_ORDER)}


def logql(correlation_id: str) -> str:
    """The LogQL selecting one ID's log lines (structured metadata set by loki/config.alloy)."""
    return '{service=~".+"} | ' + f'{FIELD}="{correlation_id}"'


@dataclass
class Entry:
    ts: float
    kind: str  # "event" or "log"
    type: str  # event type, or the log level
    source: str  # journal file, log file or "loki"
    summary: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "time": _rfc3339(self.ts),
            "ts": self.ts,
            "kind": self.kind,
            "type": self.type,
            "source": self.source,
            "summary": self.summary,
            "fields": self.fields,
        }


@dataclass
class Story:
    correlation_id: str
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            FIELD: self.correlation_id,
            "entries": [e.as_json() for e in self.entries],
            "summary": summarize(self.entries),
            "notes": self.notes,
        }


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _ts(value: Any) -> float | None:
    try:
        return timestamp(value)
    except (Invalid, TypeError, ValueError, AttributeError):
        return None


def _jsonl_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("journal-*.jsonl")) or sorted(path.glob("*.jsonl"))
    return [path] if path.exists() else []


def _lines_with(path: Path, needle: bytes) -> Iterator[dict[str, Any]]:
    """Decoded JSON lines of ``path`` that contain ``needle`` (a cheap filter before decoding)."""
    with path.open("rb") as f:
        for line in f:
            if needle in line:
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    yield value


def events_from(paths: Iterable[Path], cid: str, story: Story) -> list[dict[str, Any]]:
    needle = orjson.dumps(cid)
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for root in paths:
        files = _jsonl_files(root)
        if not files:
            story.notes.append(f"no journal at {root}")
            continue
        if root.is_dir() and (root / "snapshot.json").exists():
            story.notes.append(f"{root}: events before its last snapshot are compacted away")
        for path in files:
            for event in _lines_with(path, needle):
                if event.get(FIELD) != cid or "type" not in event:
                    continue
                key = str(event.get("event_id"))
                if key in seen:  # the same event journaled by two exporters or a client file
                    continue
                seen.add(key)
                event["_source"] = str(path)
                found.append(event)
    return found


def logs_from_files(paths: Iterable[Path], cid: str, story: Story) -> list[dict[str, Any]]:
    needle = orjson.dumps(cid)
    out = []
    for path in paths:
        if not path.exists():
            story.notes.append(f"no log file at {path}")
            continue
        for line in _lines_with(path, needle):
            if line.get(FIELD) == cid:
                line["_source"] = str(path)
                out.append(line)
    return out


def logs_from_loki(url: str, cid: str, since: float, now: float, story: Story) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode(
        {"query": logql(cid), "start": int((now - since) * 1e9), "end": int(now * 1e9), "limit": 5000}
    )
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/loki/api/v1/query_range?{query}", timeout=10) as r:
            body = json.load(r)
    except (OSError, ValueError) as exc:
        story.notes.append(f"Loki at {url} not reachable: {exc}")
        return []
    out = []
    for stream in body.get("data", {}).get("result", []):
        for _, text in stream.get("values", []):
            try:
                line = json.loads(text)
            except ValueError:
                line = {"event": text, "level": stream.get("stream", {}).get("level", "info")}
            if isinstance(line, dict):
                line["_source"] = "loki"
                out.append(line)
    return out


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _event_entries(events: list[dict[str, Any]]) -> list[Entry]:
    """Events as entries, in event-time order, with latency and slippage from their order."""
    timed = [(t, e) for e in events if (t := _ts(e.get("ts"))) is not None]
    timed.sort(key=lambda te: (te[0], _RANK.get(te[1]["type"], len(_RANK))))
    orders: dict[str, tuple[float, dict[str, Any]]] = {}
    out = []
    for ts, e in timed:
        etype = e["type"]
        fields = {k: v for k, v in e.items() if not k.startswith("_") and k not in ("ts", "type", "received_at")}
        fields = {k: v for k, v in fields.items() if k not in ("dedupe_key", FIELD)}
        oid = e.get("order_id")
        submitted = orders.get(oid) if oid is not None else None
        summary = _summary(etype, e)
        if etype == "order_submitted" and oid is not None:
            orders[oid] = (ts, e)
        elif submitted is not None and etype.startswith("order_"):
            latency = ts - submitted[0]
            fields["latency_seconds"] = round(latency, 6)
            summary += f", {latency:.3f} s after submission"
            ref, price = _num(submitted[1].get("reference_price")), _num(e.get("fill_price"))
            if ref and price is not None:
                sign = 1.0 if submitted[1].get("side") == "buy" else -1.0
                bps = sign * (price - ref) / ref * 1e4
                fields["slippage_bps"] = round(bps, 3)
                summary += f", slippage {bps:+.2f} bps"
        out.append(Entry(ts, "event", etype, e.get("_source", ""), summary, fields))
    return out


def _summary(etype: str, e: dict[str, Any]) -> str:
    g = e.get
    if etype == "decision":
        did = f" {g('decision_id')}" if g("decision_id") is not None else ""
        if g("stage", "made") != "made":  # a later stage of the lifecycle, joined on decision_id
            return f"decision{did} {g('stage')} ({g('provider')})"
        took = f" in {g('latency_seconds')} s" if g("latency_seconds") is not None else ""
        conf = f", confidence {g('confidence')}" if g("confidence") is not None else ""
        return f"decision{did} by {g('provider')}{took}{conf}"
    if etype == "outcome":
        pnl = f", P&L {g('pnl')}" if g("pnl") is not None else ""
        return f"outcome {g('actual')} of prediction {g('prediction_id')} ({g('model')}){pnl}"
    if etype == "signal":
        return f"signal {g('action')} {g('symbol')} (confidence {g('confidence')})"
    if etype == "prediction":
        return f"prediction {g('predicted')} by {g('model')} {g('model_version')} in {g('latency_seconds')} s"
    if etype == "ai_call":
        return f"AI call {g('provider')}/{g('model')}: {g('status')} in {g('latency_seconds')} s"
    if etype == "order_submitted":
        return (
            f"order {g('order_id')} submitted: {g('side')} {g('quantity')} {g('symbol')} "
            f"{g('order_type')}, reference {g('reference_price')}"
        )
    if etype == "order_acknowledged":
        return f"order {g('order_id')} acknowledged"
    if etype in ("order_filled", "order_partially_filled"):
        word = "filled" if etype == "order_filled" else "partially filled"
        return f"order {g('order_id')} {word}: {g('fill_quantity')} @ {g('fill_price')}"
    if etype == "order_rejected":
        return f"order {g('order_id')} REJECTED: {g('reason')}" + (f" ({g('message')})" if g("message") else "")
    if etype == "order_cancelled":
        return f"order {g('order_id')} cancelled" + (f": {g('reason')}" if g("reason") else "")
    if etype == "trade_closed":
        return (
            f"trade {g('trade_id')} closed ({g('exit_reason')}): realized P&L {g('realized_pnl')}, "
            f"fees {g('fees')}, held {g('holding_seconds')} s"
        )
    if etype == "error":
        return f"ERROR in {g('component')}: {g('message') or g('kind') or ''}".rstrip(": ")
    return etype


def _log_entries(lines: list[dict[str, Any]]) -> list[Entry]:
    out = []
    for line in lines:
        ts = _ts(line.get("timestamp"))
        if ts is None:
            continue
        extra = {
            k: v
            for k, v in line.items()
            if not k.startswith("_") and k not in ("timestamp", "level", "event", FIELD, "service")
        }
        summary = f"[{line.get('service', '?')}] {line.get('event', '')}"
        out.append(Entry(ts, "log", str(line.get("level", "info")), line.get("_source", ""), summary, extra))
    return out


def summarize(entries: list[Entry]) -> dict[str, Any]:
    """Figures of the story: orders, fills, latencies, slippage, P&L, rejections and errors."""
    events = [e for e in entries if e.kind == "event"]
    fills = [e for e in events if e.type in ("order_filled", "order_partially_filled")]
    slips = [e.fields["slippage_bps"] for e in fills if "slippage_bps" in e.fields]
    timed = [e for e in events if "latency_seconds" in e.fields]
    acks = [e.fields["latency_seconds"] for e in timed if e.type == "order_acknowledged"]
    done = [e.fields["latency_seconds"] for e in timed if e.type == "order_filled"]
    sizes = [(_num(e.fields.get("fill_quantity")) or 0.0, _num(e.fields.get("fill_price")) or 0.0) for e in fills]
    qty = sum(q for q, _ in sizes)
    notional = sum(q * p for q, p in sizes)
    trades = [e for e in events if e.type == "trade_closed"]
    stages = [str(e.fields.get("stage", "made")) for e in events if e.type == "decision"]
    return {
        "decision_stages": " > ".join(stages) if stages else None,
        "orders": sum(e.type == "order_submitted" for e in events),
        "fills": len(fills),
        "filled_quantity": qty,
        "average_fill_price": notional / qty if qty else None,
        "ack_latency_seconds": acks[0] if acks else None,
        "fill_latency_seconds": done[-1] if done else None,
        "slippage_bps_max": max(slips) if slips else None,
        "realized_pnl": sum(_num(e.fields.get("realized_pnl")) or 0.0 for e in trades) if trades else None,
        "rejections": sum(e.type == "order_rejected" for e in events),
        "errors": sum(e.type == "error" for e in events) + sum(e.kind == "log" and e.type == "error" for e in entries),
    }


def build(
    cid: str,
    journals: Iterable[Path],
    log_files: Iterable[Path] = (),
    loki_url: str | None = None,
    since: float = 86400.0,
    now: float | None = None,
) -> Story:
    story = Story(cid)
    entries = _event_entries(events_from(journals, cid, story))
    logs = logs_from_files(log_files, cid, story)
    if loki_url:
        now = now if now is not None else datetime.now(UTC).timestamp()
        logs += logs_from_loki(loki_url, cid, since, now, story)
    entries += _log_entries(logs)
    entries.sort(key=lambda e: (e.ts, e.kind != "event"))  # stable: an event before its log line
    if len(entries) > MAX_ENTRIES:
        story.notes.append(f"{len(entries)} entries; the first {MAX_ENTRIES} are shown")
        entries = entries[:MAX_ENTRIES]
    story.entries = entries
    return story


def render(story: Story) -> str:
    """The story as text: one line per entry, time since the first entry, then the figures."""
    if not story.entries:
        lines = [f"nothing found for correlation ID {story.correlation_id}"]
        return "\n".join(lines + [f"note: {n}" for n in story.notes]) + "\n"
    t0 = story.entries[0].ts
    lines = [f"correlation ID {story.correlation_id}: {len(story.entries)} entries"]
    for e in story.entries:
        tag = e.type if e.kind == "event" else f"log:{e.type}"
        lines.append(f"{_rfc3339(e.ts)}  +{e.ts - t0:9.3f}s  {tag:<24} {e.summary}")
    figures = {k: v for k, v in summarize(story.entries).items() if v not in (None, 0, 0.0)}
    if figures:
        lines.append("summary: " + ", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()))
    lines += [f"note: {n}" for n in story.notes]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)
