"""``tradewatch alerts``: what is firing now (Alertmanager's API) and what fired in a period
(Prometheus' ``ALERTS{alertstate="firing"}`` series), with counts and durations per alert.

A firing episode is a run of consecutive samples of one ``ALERTS`` series; with the query step
``step`` its duration is known to within one step (the step is printed). Episodes cut by the start
of the period count from the period's start.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tradewatch.alerting import amapi

#: At most this many points per series: Prometheus refuses more than 11,000.
MAX_POINTS = 2000
#: Never finer than the stack's evaluation interval in the compose stack would resolve.
MIN_STEP = 1.0
_IGNORED = {"alertstate", "__name__"}


@dataclass
class AlertStats:
    alertname: str
    severity: str = ""
    team: str = ""
    fired: int = 0  # firing episodes that started in the period
    series: int = 0  # distinct label sets
    firing_seconds: float = 0.0  # total over all series
    longest_seconds: float = 0.0
    last_started: str = ""  # ISO 8601 UTC
    firing_now: int = 0  # active in Alertmanager now (silenced/inhibited not counted)
    suppressed_now: int = 0


@dataclass
class Report:
    since_seconds: float
    step_seconds: float
    firing: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[AlertStats] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "alerts": [asdict(a) for a in self.alerts]}


def step_for(since: float) -> float:
    return max(MIN_STEP, math.ceil(since / MAX_POINTS))


def episodes(timestamps: list[float], step: float) -> list[tuple[float, float]]:
    """(start, end) of each run of samples at most 1.5 steps apart; end is the last sample + step."""
    runs: list[tuple[float, float]] = []
    for ts in timestamps:
        if runs and ts - runs[-1][1] <= step * 1.5 - step:
            runs[-1] = (runs[-1][0], ts + step)
        else:
            runs.append((ts, ts + step))
    return runs


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(am_url: str | None, prom_url: str | None, since: float, now: float | None = None) -> Report:
    now = now or time.time()
    step = step_for(since)
    report = Report(since, step)
    stats: dict[str, AlertStats] = {}

    def entry(labels: dict[str, str]) -> AlertStats:
        name = labels.get("alertname", "")
        if name not in stats:
            stats[name] = AlertStats(name, labels.get("severity", ""), labels.get("team", ""))
        return stats[name]

    if prom_url:
        try:
            series = amapi.prom_query_range(prom_url, 'ALERTS{alertstate="firing"}', now - since, now, step)
        except amapi.ApiError as exc:
            report.errors.append(f"prometheus: {exc}")
            series = []
        for s in series:
            labels = {k: v for k, v in s["metric"].items() if k not in _IGNORED}
            runs = episodes([float(t) for t, _ in s["values"]], step)
            st = entry(labels)
            st.series += 1
            for start, end in runs:
                st.fired += 1
                st.firing_seconds += end - start
                st.longest_seconds = max(st.longest_seconds, end - start)
                st.last_started = max(st.last_started, _iso(start))
    if am_url:
        try:
            active = amapi.am_alerts(am_url)
        except amapi.ApiError as exc:
            report.errors.append(f"alertmanager: {exc}")
            active = []
        for alert in active:
            labels = alert.get("labels") or {}
            state = (alert.get("status") or {}).get("state", "")
            st = entry(labels)
            if state == "active":
                st.firing_now += 1
            else:
                st.suppressed_now += 1
            report.firing.append(
                {
                    "labels": labels,
                    "state": state,
                    "startsAt": alert.get("startsAt", ""),
                    "for_seconds": round(max(0.0, now - _parse(alert.get("startsAt", ""), now)), 1),
                    "receivers": [r.get("name") for r in alert.get("receivers") or []],
                    "summary": (alert.get("annotations") or {}).get("summary", ""),
                }
            )
    for st in stats.values():
        st.firing_seconds = round(st.firing_seconds, 1)
        st.longest_seconds = round(st.longest_seconds, 1)
    report.alerts = sorted(stats.values(), key=lambda a: (-a.fired, -a.firing_now, a.alertname))
    report.firing.sort(key=lambda a: a["startsAt"])
    return report


def _parse(text: str, default: float) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def duration_text(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def render_text(report: Report) -> str:
    lines = [f"Firing now ({len(report.firing)}):"]
    for a in report.firing:
        where = " ".join(f"{k}={v}" for k, v in sorted(a["labels"].items()) if k not in ("alertname",))
        state = "" if a["state"] == "active" else f" [{a['state']}]"
        lines.append(
            f"  {a['labels'].get('alertname', '?'):<30} for {duration_text(a['for_seconds']):>8}{state}  {where}"
        )
    if not report.firing:
        lines.append("  nothing")
    lines.append("")
    lines.append(
        f"Fired in the last {duration_text(report.since_seconds)} (from Prometheus ALERTS, "
        f"durations to within {report.step_seconds:g}s):"
    )
    header = f"  {'alert':<30} {'severity':<9} {'team':<9} {'fired':>5} {'total':>9} {'longest':>9}  last started"
    lines.append(header)
    for a in report.alerts:
        if not a.fired and not a.firing_now:
            continue
        lines.append(
            f"  {a.alertname:<30} {a.severity:<9} {a.team:<9} {a.fired:>5} {duration_text(a.firing_seconds):>9} "
            f"{duration_text(a.longest_seconds):>9}  {a.last_started or '-'}"
        )
    for err in report.errors:
        lines.append(f"error: {err}")
    return "\n".join(lines)
