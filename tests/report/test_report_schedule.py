"""Schedules (daily at HH:MM, weekly on a weekday, time zones, daylight saving), the scheduler loop,
periods and the report settings."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tradewatch.core import config as cfg
from tradewatch.report.period import PeriodError, resolve
from tradewatch.report.schedule import Scheduler, next_run
from tradewatch.report.settings import settings

LONDON = ZoneInfo("Europe/London")


def ts(text: str, tz=UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(x: float, tz=LONDON) -> str:
    return datetime.fromtimestamp(x, tz).strftime("%a %Y-%m-%d %H:%M %Z")


DAILY = {"name": "d", "period": "daily", "at": "07:00", "timezone": "Europe/London"}
WEEKLY = {"name": "w", "period": "weekly", "at": "07:30", "weekday": "monday", "timezone": "Europe/London"}


@pytest.mark.parametrize(
    ("now", "entry", "expected"),
    [
        ("2026-11-20 06:59", DAILY, "Fri 2026-11-20 07:00 GMT"),
        ("2026-11-20 07:00", DAILY, "Sat 2026-11-21 07:00 GMT"),  # strictly after now: no double run
        ("2026-11-20 23:30", DAILY, "Sat 2026-11-21 07:00 GMT"),
        ("2026-03-28 08:00", DAILY, "Sun 2026-03-29 07:00 BST"),  # clocks go forward that night
        ("2026-11-20 08:00", WEEKLY, "Mon 2026-11-23 07:30 GMT"),
        ("2026-11-23 07:29", WEEKLY, "Mon 2026-11-23 07:30 GMT"),
        ("2026-11-23 07:31", WEEKLY, "Mon 2026-11-30 07:30 GMT"),
        ("2026-10-20 12:00", WEEKLY, "Mon 2026-10-26 07:30 GMT"),  # first Monday after summer time
    ],
)
def test_next_run(now, entry, expected):
    assert local(next_run(entry, "UTC", ts(now, LONDON))) == expected


def test_next_run_in_the_default_time_zone():
    entry = {"name": "d", "period": "daily", "at": "07:00", "timezone": None}
    assert next_run(entry, "America/New_York", ts("2026-11-20 11:00")) == ts("2026-11-20 12:00")  # 07:00 EST


class FakeClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_scheduler_runs_each_report_at_its_time():
    clock = FakeClock(ts("2026-11-22 06:00", LONDON))  # Sunday
    ran: list[tuple[str, str]] = []
    stop = threading.Event()

    class Stepper(threading.Event):
        """Stands in for the stop event: each wait advances the fake clock instead of sleeping."""

        def wait(self, timeout=None):
            clock.now += max(timeout or 0, 1.0)
            return stop.is_set()

        def is_set(self):
            return stop.is_set()

    def run(entry, due):
        ran.append((entry["name"], local(due)))
        if len(ran) >= 4:
            stop.set()
        if entry["name"] == "d":
            raise RuntimeError("Prometheus exploded")  # a failing report never stops the schedule

    sched = Scheduler(
        [DAILY, WEEKLY, {**DAILY, "name": "off", "enabled": False}],
        "UTC",
        run,
        clock=clock,
        stop=Stepper(),
        slice_seconds=600,
    )
    sched.run_forever()
    assert ran == [
        ("d", "Sun 2026-11-22 07:00 GMT"),
        ("d", "Mon 2026-11-23 07:00 GMT"),
        ("w", "Mon 2026-11-23 07:30 GMT"),
        ("d", "Tue 2026-11-24 07:00 GMT"),
    ]


def test_periods():
    p = resolve("daily", "2026-03-29", "Europe/London", chart_step=300, resolution=60)
    assert p.seconds == 23 * 3600  # the spring-forward day is 23 h long
    assert len(p.buckets()) == 24  # 23 hourly buckets
    p = resolve("weekly", "2026-11-20T07:30", "Europe/London", chart_step=1800, resolution=60)
    assert (local(p.start), local(p.end)) == ("Fri 2026-11-13 07:30 GMT", "Fri 2026-11-20 07:30 GMT")
    assert len(p.buckets()) == 9  # 7 local days plus the partial days at both ends
    p = resolve("daily", None, "UTC", chart_step=300, resolution=60, now=ts("2026-11-20 10:17:42"))
    assert (p.start, p.end) == (ts("2026-11-19 10:17"), ts("2026-11-20 10:17"))
    p = resolve("daily", "2026-11-20T09:00+01:00", "UTC", chart_step=300, resolution=60)
    assert p.end == ts("2026-11-20 08:00")
    with pytest.raises(PeriodError):
        resolve("monthly", None, "UTC", chart_step=300, resolution=60)


def test_settings_from_yaml(tmp_path):
    path = tmp_path / "report.yml"
    path.write_text(
        "smtp:\n  host: mailpit\n  port: 1025\n  starttls: none\n  from: tw@desk.example\n"
        "reports:\n"
        "  - {name: morning, period: daily, at: 7:45, timezone: Asia/Tokyo,\n"
        "     recipients: 'a@x.example,b@x.example'}\n"
        "  - {name: week, period: weekly, weekday: friday, at: '18:00'}\n"
    )
    config = cfg.load(settings(), path, environ={})
    morning, week = config["reports"]
    assert morning["at"] == "07:45"  # unquoted, YAML 1.1 reads 7:45 as the sexagesimal 465
    assert morning["recipients"] == ["a@x.example", "b@x.example"] and morning["timezone"] == "Asia/Tokyo"
    assert week["weekday"] == "friday" and week["recipients"] == []
    assert config["smtp.starttls"] == "none" and config["smtp.port"] == 1025


def test_settings_errors_are_listed_together(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        "smtp:\n  starttls: maybe\nreports:\n  - {name: x, period: daily, at: '25:00'}\n"
        "report:\n  timezone: Nowhere/Special\n"
    )
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(settings(), path, environ={})
    text = str(err.value)
    assert "smtp.starttls" in text and "HH:MM" in text and "report.timezone" in text
