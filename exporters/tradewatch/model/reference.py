"""Reference (baseline) data sets loaded from files: JSONL or CSV, one row per prediction.

JSONL rows are either prediction-shaped (``{"features": {...}, "predicted": ..., "ts": ...}``) or
flat (``{"feature": value, ...}``, with optional ``predicted`` and ``ts`` keys). A recorded event
log works as is: rows with a ``type`` other than ``prediction``, and predictions of other models
(``model`` present and different), are skipped. CSV has a header
row; the columns ``predicted`` and ``ts`` are special, every other column is a feature. CSV cells
that parse as numbers are numbers, empty cells are missing. ``ts`` (RFC 3339 or Unix seconds)
gives the reference's time range; without it the range is not reported.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import orjson

from tradewatch.core.logging import get_logger
from tradewatch.core.validate import MAX_STRING
from tradewatch.model.state import Reference, event_time

log = get_logger("tradewatch.model.reference")

SPECIAL = ("predicted", "ts")


class ReferenceError(ValueError):
    """The reference file cannot be used; the message names the file and the line."""


def _cell(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else None


def _rows(path: Path, model: str | None) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReferenceError(f"{path}: cannot read reference file ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.decode("utf-8-sig").splitlines())
        return [{k: _cell(v or "") for k, v in row.items() if k is not None} for row in reader]
    rows = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ReferenceError(f"{path}:{number}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise ReferenceError(f"{path}:{number}: expected a JSON object per line")
        if row.get("type", "prediction") != "prediction" or (model and row.get("model", model) != model):
            continue
        if isinstance(row.get("features"), dict):
            row = {**row["features"], **{k: row[k] for k in SPECIAL if k in row}}
        rows.append(row)
    return rows


def load_reference(path: str | Path, *, max_features: int, max_categories: int, model: str | None = None) -> Reference:
    """Read a reference file into a :class:`Reference` (source ``file``) for ``model``."""
    path = Path(path)
    rows = _rows(path, model)
    if not rows:
        raise ReferenceError(f"{path}: no rows")
    times: list[float] = []
    for i, row in enumerate(rows, 1):
        if row.get("ts") is not None:
            try:
                times.append(event_time(row["ts"]))
            except (TypeError, ValueError):
                raise ReferenceError(f"{path}: row {i}: ts {row['ts']!r} is not RFC 3339 or Unix seconds") from None
    features = [{k: v for k, v in row.items() if k not in SPECIAL} for row in rows]
    bad = sorted({k for row in features for k in row if not 0 < len(k) <= MAX_STRING})
    if bad:  # names become labels: the identifier rules of every other label (not tracked, said once)
        log.warning(
            "reference feature names ignored: empty or longer than the label limit",
            path=str(path),
            names=[k[:40] for k in bad[:10]],
            count=len(bad),
            limit=MAX_STRING,
        )
    predicted = [row.get("predicted") for row in rows]
    return Reference.from_rows("file", features, predicted, times, max_features, max_categories)
