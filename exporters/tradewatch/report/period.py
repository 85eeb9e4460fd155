"""The time span a report covers, in the report's time zone, and how times are written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIOD_DAYS = {"daily": 1, "weekly": 7}


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: str  # daily | weekly
    start: float
    end: float
    tz: ZoneInfo
    chart_step: float
    resolution: float
    zone: str = field(default="UTC")

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def range(self) -> str:
        """PromQL range selector covering the period (evaluate at ``end``)."""
        return f"{round(self.seconds)}s"

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def zone_abbrev(self, ts: float | None = None) -> str:
        return self.local(self.end if ts is None else ts).strftime("%Z") or self.zone

    def when(self, ts: float, *, zone: bool = True) -> str:
        """A time as people read it in the report: 02:10 UTC, or Tue 18 Nov 02:10 UTC across days."""
        dt = self.local(ts)
        # Hours alone are unambiguous only when the whole period is one local calendar day.
        one_day = self.local(self.start).date() == self.local(self.end - 1).date()
        text = dt.strftime("%H:%M") if one_day else dt.strftime("%a %d %b %H:%M")
        return f"{text} {self.zone_abbrev(ts)}" if zone else text

    def span(self, start: float, end: float) -> str:
        return f"{self.when(start, zone=False)} to {self.when(end, zone=False)} {self.zone_abbrev(end)}"

    def label(self) -> str:
        s, e = self.local(self.start), self.local(self.end)
        return f"{s:%a %d %b %Y %H:%M} to {e:%a %d %b %Y %H:%M} {self.zone_abbrev()}"

    def buckets(self) -> list[float]:
        """P&L bucket edges: hours of a daily report, local days of a weekly one."""
        edges = [self.start]
        if self.kind == "daily":
            step = 3600.0
            while edges[-1] + step < self.end - 1e-6:
                edges.append(edges[-1] + step)
        else:
            day = self.local(self.start)
            while True:
                day = _next_midnight(day, self.tz)
                if day.timestamp() >= self.end - 1e-6:
                    break
                edges.append(day.timestamp())
        edges.append(self.end)
        return edges


def _next_midnight(dt: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(dt.date() + timedelta(days=1), time(0), tz)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve(
    kind: str, at: str | None, tz_name: str, *, chart_step: float, resolution: float, now: float | None = None
) -> Period:
    """The period of a report.

    ``at`` is where the period ends: an ISO date (the period ends at the following local midnight,
    so ``--at 2026-11-20`` is that day, or the week ending that day), an ISO date-time (local time
    unless it carries an offset), or None for the latest whole ``resolution`` before now.
    """
    if kind not in PERIOD_DAYS:
        raise PeriodError(f"unknown period {kind!r}; expected daily or weekly")
    tz = ZoneInfo(tz_name)
    if at is None:
        ts = datetime.now(tz).timestamp() if now is None else now
        end = (ts // resolution) * resolution
    elif _DATE.match(at.strip()):
        end = datetime.combine(date.fromisoformat(at.strip()) + timedelta(days=1), time(0), tz).timestamp()
    else:
        try:
            dt = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PeriodError(f"--at: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[+offset], got {at!r}") from None
        end = (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp()
    end_dt = datetime.fromtimestamp(end, tz)
    # Calendar arithmetic in the local zone keeps a daily report 24 h long except across DST.
    start = (end_dt - timedelta(days=PERIOD_DAYS[kind])).timestamp()
    return Period(kind, float(start), float(end), tz, chart_step, resolution, tz_name)
