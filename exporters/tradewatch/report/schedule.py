"""Run reports at their configured times: daily at HH:MM, or weekly on a weekday at HH:MM, each in
its own time zone (so a 07:00 Europe/London report stays at 07:00 across daylight saving).

The loop sleeps in short slices so a changed wall clock or a stop request is noticed quickly.
Runs missed while the scheduler was down are not replayed: after a restart the next run is the
next scheduled time (run ``tradewatch report --at`` by hand to fill in).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tradewatch.core import logging as twlog
from tradewatch.report.settings import WEEKDAYS

log = twlog.get_logger("tradewatch.report.schedule")

SLICE_SECONDS = 30.0


def next_run(entry: dict[str, Any], default_tz: str, now: float) -> float:
    """Epoch seconds of the entry's first scheduled time strictly after ``now``."""
    tz = ZoneInfo(entry.get("timezone") or default_tz)
    hour, minute = (int(x) for x in entry["at"].split(":"))
    today = datetime.fromtimestamp(now, tz).date()

    def at(day: date) -> float:
        return datetime.combine(day, dtime(hour, minute), tz).timestamp()

    if entry["period"] == "daily":
        for ahead in range(0, 3):
            ts = at(today + timedelta(days=ahead))
            if ts > now:
                return ts
    else:
        target = WEEKDAYS.index(entry["weekday"])
        ahead = (target - today.weekday()) % 7
        for extra in (0, 7, 14):
            ts = at(today + timedelta(days=ahead + extra))
            if ts > now:
                return ts
    raise AssertionError("unreachable: a scheduled time always exists within two weeks")


class Scheduler:
    """Calls ``run(entry, scheduled_ts)`` for each enabled entry at its scheduled times."""

    def __init__(
        self,
        entries: list[dict[str, Any]],
        default_tz: str,
        run: Callable[[dict[str, Any], float], Any],
        *,
        clock: Callable[[], float] = time.time,
        stop: threading.Event | None = None,
        slice_seconds: float = SLICE_SECONDS,
        heartbeat: Path | None = None,
    ):
        self.entries = [e for e in entries if e.get("enabled", True)]
        self.default_tz = default_tz
        self.run_report = run
        self.clock = clock
        self.stop = stop or threading.Event()
        self.slice = slice_seconds
        self.runs = 0
        self.heartbeat = heartbeat

    def plan(self, now: float) -> list[tuple[float, dict[str, Any]]]:
        return sorted(((next_run(e, self.default_tz, now), e) for e in self.entries), key=lambda x: x[0])

    def run_forever(self) -> None:
        if not self.entries:
            log.warning("no enabled reports configured; the scheduler has nothing to do")
        now = self.clock()
        upcoming = {e["name"]: next_run(e, self.default_tz, now) for e in self.entries}
        for entry in self.entries:
            self._log_next(entry, upcoming[entry["name"]])
        while not self.stop.is_set():
            self._beat()
            now = self.clock()
            for entry in self.entries:
                due = upcoming[entry["name"]]
                if now >= due:
                    self._run(entry, due)
                    upcoming[entry["name"]] = next_run(entry, self.default_tz, max(due, self.clock()))
                    self._log_next(entry, upcoming[entry["name"]])
            if not upcoming:
                self.stop.wait(self.slice)
                continue
            wait = min(upcoming.values()) - self.clock()
            self.stop.wait(max(0.0, min(wait, self.slice)))

    def _beat(self) -> None:
        """Touch the heartbeat file: the container healthcheck reads its age (no HTTP here)."""
        if self.heartbeat is None:
            return
        try:
            self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
            self.heartbeat.touch()
        except OSError as exc:
            log.warning("cannot touch the heartbeat file", path=str(self.heartbeat), error=str(exc))

    def _log_next(self, entry: dict[str, Any], ts: float) -> None:
        tz = ZoneInfo(entry.get("timezone") or self.default_tz)
        log.info(
            "report scheduled",
            report=entry["name"],
            period=entry["period"],
            next_run=datetime.fromtimestamp(ts, tz).isoformat(),
        )

    def _run(self, entry: dict[str, Any], due: float) -> None:
        self.runs += 1
        try:
            self.run_report(entry, due)
        except Exception as exc:  # the scheduler outlives any one report
            log.error(
                "scheduled report failed",
                report=entry["name"],
                error=f"{exc.__class__.__name__}: {exc}",
                exc_info=True,
            )
