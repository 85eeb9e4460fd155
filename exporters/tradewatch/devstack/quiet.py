"""Quiet-hours helpers: which time zone it is "night" in right now, and an interval that is never now.

Alertmanager evaluates time intervals against the real clock; tests inject time by choosing the
interval's ``location`` (a zone whose local time is inside the shipped quiet hours) instead of
waiting for the night.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


def _zone(offset_hours: int) -> str:
    # POSIX sign convention: Etc/GMT-3 is UTC+3.
    return f"Etc/GMT{-offset_hours:+d}"


def zone_where(predicate, now: datetime | None = None) -> str | None:
    """The first fixed-offset zone whose local time satisfies ``predicate(local_datetime)``."""
    now = now or datetime.now(UTC)
    for offset in range(-12, 15):
        zone = _zone(offset)
        if predicate(now.astimezone(ZoneInfo(zone))):
            return zone
    return None


def in_shipped_quiet_hours(local: datetime, margin_minutes: int = 30) -> bool:
    """Inside alertmanager.yml's quiet hours (weekdays 20:00-07:00, weekends), with a margin so the
    test does not straddle a boundary."""
    minutes = local.hour * 60 + local.minute
    if local.weekday() >= 5:
        return margin_minutes <= minutes <= 24 * 60 - margin_minutes
    return margin_minutes <= minutes <= 7 * 60 - margin_minutes


def night_zone(now: datetime | None = None) -> str:
    zone = zone_where(in_shipped_quiet_hours, now)
    if zone is None:  # cannot happen: the offsets span 26 h and the night window is 6 h
        raise RuntimeError("no time zone is in quiet hours now")
    return zone


def never_now(now: datetime | None = None) -> list[dict[str, Any]]:
    """A quiet-hours definition that does not match now (a month six months away)."""
    now = now or datetime.now(UTC)
    names = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
    return [{"months": [names[(now.month + 5) % 12]]}]
