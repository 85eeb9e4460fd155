"""A small client for the Prometheus HTTP API: instant and range queries, and gap detection.

Range results are aligned on the query's grid with NaN where Prometheus returned no sample, so
missing data stays missing all the way to the chart (a NaN breaks a matplotlib line) instead of
turning into zeros.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests


class PrometheusError(Exception):
    """Prometheus could not be reached or rejected a query; the message names the query."""


@dataclass
class Series:
    labels: dict[str, str]
    t: np.ndarray  # epoch seconds, the full query grid
    v: np.ndarray  # NaN where there was no sample

    def label(self, *names: str) -> str:
        return ",".join(self.labels.get(n, "") for n in names)


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    open_start: bool = False  # began before the period
    open_end: bool = False  # still going at the end of the period

    @property
    def seconds(self) -> float:
        return self.end - self.start


def grid(start: float, end: float, step: float) -> np.ndarray:
    """The evaluation times of a range query: start, start+step, ... <= end."""
    n = math.floor((end - start) / step + 1e-9) + 1
    return start + step * np.arange(n, dtype=float)


class Prometheus:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        bearer_token_file: str = "",
        session: requests.Session | None = None,
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if bearer_token_file:
            token = Path(bearer_token_file).read_text(encoding="utf-8").strip()
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.queries = 0

    def _get(self, path: str, params: dict[str, str]) -> dict:
        self.queries += 1
        try:
            resp = self.session.post(self.url + path, data=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {resp.status_code}, not JSON: {resp.text[:200]!r}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"query {params.get('query')!r} failed: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def instant(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        """Vector result of ``expr`` evaluated at ``at`` (scalars come back as one unlabelled sample)."""
        data = self._get("/api/v1/query", {"query": expr, "time": _fmt(at)})
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"query {expr!r}: expected a vector, got {data['resultType']}")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, expr: str, at: float) -> float:
        """The single value of ``expr`` at ``at``; NaN when the result is empty."""
        result = self.instant(expr, at)
        return result[0][1] if result else math.nan

    def by(self, expr: str, at: float, *labels: str) -> dict[str, float]:
        """Instant result keyed by the comma-joined values of ``labels``."""
        return {",".join(m.get(n, "") for n in labels): v for m, v in self.instant(expr, at)}

    def range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)}
        )
        t = grid(start, end, step)
        out = []
        for r in data["result"]:
            v = np.full(t.shape, np.nan)
            for ts, val in r["values"]:
                i = round((float(ts) - start) / step)
                if 0 <= i < len(t):
                    v[i] = float(val)
            out.append(Series(r["metric"], t, v))
        return out

    def range_one(self, expr: str, start: float, end: float, step: float) -> Series:
        """A single-series range query; an empty result is an all-NaN series."""
        result = self.range(expr, start, end, step)
        if result:
            return result[0]
        t = grid(start, end, step)
        return Series({}, t, np.full(t.shape, np.nan))


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges (first, last) of consecutive True values."""
    flag = np.asarray(flag, dtype=bool)
    if not flag.any():
        return []
    edges = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def windows_to_intervals(t: np.ndarray, flag: np.ndarray, window: float, start: float, end: float) -> list[Interval]:
    """Turn per-window flags into the intervals a state held.

    ``flag[i]`` says a sample in the window ``(t[i] - window, t[i]]`` showed the state (the result
    of a ``*_over_time(...[window])`` query stepped at ``window``). A run of flagged windows i..j
    becomes ``t[i]`` (the state was seen by then) to ``t[j]`` (last window that still saw it; the
    next sample, in the following window, no longer does), clipped to the period. The error is at
    most one window at each end.
    """
    n = len(t)
    return [
        Interval(start if i == 0 else float(t[i]), float(min(end, t[j])), open_start=i == 0, open_end=j == n - 1)
        for i, j in _runs(flag)
    ]


def gaps(t: np.ndarray, count: np.ndarray, window: float, start: float, end: float) -> list[Interval]:
    """Intervals with no samples, from per-window sample counts (NaN or 0 = none).

    A gap runs from the start of its first empty window (just after the last sample) to the end of
    the first window that has data again: data resumed by then, so the words never claim data that
    was not there.
    """
    empty = ~(np.nan_to_num(count, nan=0.0) > 0)
    n = len(t)
    return [
        Interval(
            max(start, float(t[i]) - window),
            float(min(end, t[j] + window)) if j < n - 1 else end,
            open_start=i == 0,
            open_end=j == n - 1,
        )
        for i, j in _runs(empty)
    ]


def mask(series: Series, intervals: Iterable[Interval]) -> Series:
    """NaN inside the intervals, plus one NaN point in each so a line always breaks there."""
    t, v = series.t.copy(), series.v.copy()
    extra_t = []
    for g in intervals:
        v[(t > g.start) & (t < g.end)] = np.nan
        extra_t.append((g.start + g.end) / 2)
    if extra_t:
        t = np.concatenate([t, np.array(extra_t)])
        v = np.concatenate([v, np.full(len(extra_t), np.nan)])
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return Series(series.labels, t, v)
