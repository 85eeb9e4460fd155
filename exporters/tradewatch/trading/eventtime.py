"""State that follows event time when events arrive late or a timestamp is an outlier.

Producers buffer, retry and run in parallel, so events reach the exporter out of order. Two pieces
keep "the latest" state right by event time, deterministically (the fold replays to the same state):

* :class:`Timeline`: the recent history of a switch-like state (the kill switch, a circuit breaker)
  in event-time order. A late event is placed where it belongs; the current state is the newest
  event's, and transitions are changes between neighbours in event time. Placing an event can only
  add transitions, never remove one already counted, so the counters stay monotonic and a late
  safety event (an activation that was released before it arrived) is still counted.
* :func:`advance_feed_clock`: a symbol's exchange-time clock that never moves backwards for a late
  tick and never jumps to a single outlier: a tick more than ``gap_seconds`` ahead is held until
  the next tick confirms it (near or past it: a real gap, counted then) or contradicts it (back near
  the clock: an outlier, counted, and forgotten).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

TIMELINE_EVENTS = 128  # events kept per timeline; a late event older than all of them is not placed


class Timeline:
    """Bounded, event-time-ordered history of one state; see the module docstring."""

    __slots__ = ("entries", "floor", "initial")

    def __init__(self, initial: Any, entries: list[list[Any]] | None = None, floor: list[Any] | None = None):
        self.initial = initial
        self.entries: list[list[Any]] = entries or []  # [ts, value, reason], ascending ts (ties: arrival)
        self.floor = floor  # [ts, value] of the newest forgotten entry, or None

    @property
    def value(self) -> Any:
        if self.entries:
            return self.entries[-1][1]
        return self.floor[1] if self.floor else self.initial

    def is_late(self, ts: float) -> bool:
        newest = self.entries[-1][0] if self.entries else (self.floor[0] if self.floor else None)
        return newest is not None and ts < newest

    def add(self, ts: float, value: Any, reason: Any = None) -> list[tuple[Any, Any]] | None:
        """Place one event; return the transitions it adds as (state, reason), None if too old to place."""
        entries = self.entries
        floor = self.floor
        if floor is not None and ts < floor[0]:
            return None
        i = len(entries)
        if entries and ts < entries[-1][0]:
            i = bisect_right([row[0] for row in entries], ts)  # rare, and at most TIMELINE_EVENTS long
        prev = entries[i - 1][1] if i else (floor[1] if floor else self.initial)
        added: list[tuple[Any, Any]] = []
        if value != prev:
            if i == len(entries):
                added.append((value, reason))
            else:
                nxt = entries[i]
                if nxt[1] == prev:  # prev -> next was no change; now prev -> value -> next: two
                    added += [(value, reason), (nxt[1], nxt[2])]
                elif nxt[1] != value:  # prev -> next stays counted (into next); prev -> value is new
                    added.append((value, reason))
                # else next == value: the same transition, only earlier than known: nothing new
        entries.insert(i, [ts, value, reason])
        if len(entries) > TIMELINE_EVENTS:
            oldest = entries.pop(0)
            self.floor = [oldest[0], oldest[1]]
        return added

    def dump(self) -> list[Any]:
        return [self.entries, self.floor]

    @classmethod
    def load(cls, initial: Any, data: list[Any]) -> Timeline:
        entries, floor = data
        return cls(initial, [list(row) for row in entries], None if floor is None else list(floor))


# Outcomes of advance_feed_clock.
IN_ORDER, LATE, HELD = "in_order", "late", "held"


def advance_feed_clock(clock: list[Any], x: float, gap_seconds: float) -> tuple[str, bool, bool]:
    """Move a symbol's feed clock ``[confirmed ts or None, held jump or None]`` by a tick at ``x``.

    Returns (outcome, gap confirmed, outlier dropped). The confirmed clock never decreases.
    """
    confirmed, held = clock
    gap = outlier = False
    if held is not None:
        if x >= held - gap_seconds:  # the tick agrees with the held one: it was real
            if confirmed is not None:
                gap = True  # a gap only between two confirmed points in time
            confirmed, held = held, None
        elif confirmed is None or x >= confirmed:  # back near the clock: the held tick was an outlier
            outlier, held = True, None
        else:  # older than the clock: a late tick says nothing about the held one
            return LATE, False, False
    if confirmed is None:
        if held is None:
            clock[0], clock[1] = None, x  # the first tick is held too: one outlier must not set the clock
            return HELD, gap, outlier
        confirmed = held
    if x > confirmed + gap_seconds:
        clock[0], clock[1] = confirmed, x
        return HELD, gap, outlier
    clock[0], clock[1] = max(confirmed, x), None
    if x < confirmed:
        return LATE, gap, outlier
    return IN_ORDER, gap, outlier
