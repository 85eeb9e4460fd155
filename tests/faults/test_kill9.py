"""kill -9 of the real exporter process at random points during ingest (and during snapshots): every
acknowledged event is in the state after the restart. FAULT_ROUNDS sets the number of rounds (one
in four stops gracefully instead, so replays start from snapshots too)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable

import pytest
import requests
from tests.faults.conftest import fault_rounds
from tests.faults.exporter_proc import ExporterProc, model_events, trading_events


def send_until_killed(
    make: Callable[[int, int, str], list[dict]],
    proc: ExporterProc,
    rng: random.Random,
    ids: itertools.count,
    acked: list[dict],
    inflight: list[list[dict]],
    stop: threading.Event,
) -> None:
    """POST batches of 1..400 new events; an answered batch moves from ``inflight`` to ``acked``."""
    while not stop.is_set():
        batch = make(next(ids) * 1000, rng.randint(1, 400), run="k")
        inflight.append(batch)
        try:
            response = proc.post(batch, timeout=10)
        except requests.RequestException:
            return  # killed mid-request: the batch stays in flight (the client would retry it)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["accepted"] + body["duplicates"] == len(batch)
        acked.extend(inflight.pop())


@pytest.mark.parametrize(
    ("command", "make", "share"),
    [("trading-exporter", trading_events, 1.0), ("model-exporter", model_events, 0.5)],
    ids=["trading", "model"],
)
def test_kill9_at_random_points_loses_no_acknowledged_event(tmp_path, command, make, share):
    rounds = max(2, round(fault_rounds(8) * share))
    rng = random.Random(rounds)
    journal = tmp_path / "journal"
    env = {"TRADEWATCH_JOURNAL_SNAPSHOT_EVERY": "3000"}
    acked: list[dict] = []
    inflight: list[list[dict]] = []  # batches sent when the process died: outcome unknown
    ids = itertools.count()
    for rnd in range(rounds):
        proc = ExporterProc(journal, command, **env)
        while inflight:  # what the client retries after the restart
            batch = inflight.pop()
            assert proc.post(batch).status_code == 200
            acked.extend(batch)
        stop = threading.Event()
        sender = threading.Thread(target=send_until_killed, args=(make, proc, rng, ids, acked, inflight, stop))
        sender.start()
        time.sleep(rng.uniform(0.05, 0.8))
        if rnd % 4 == 3:
            proc.stop()  # now and then a graceful stop: a snapshot, then the journal continues after it
        else:
            proc.kill9()
        stop.set()
        sender.join(20)
    proc = ExporterProc(journal, command, **env)
    try:
        while inflight:
            batch = inflight.pop()
            assert proc.post(batch).status_code == 200
            acked.extend(batch)
        event_ids = [e["event_id"] for e in acked]
        assert len(event_ids) == len(set(event_ids)) and len(event_ids) > rounds * 50
        assert proc.counter("tradewatch_events_accepted") == len(event_ids)
        # Each acknowledged event is journaled: sent again, every one is a known duplicate.
        for start in range(0, len(acked), 5000):
            part = acked[start : start + 5000]
            body = proc.post(part).json()
            assert body["accepted"] == 0 and body["duplicates"] == len(part)
        assert proc.counter("tradewatch_events_accepted") == len(event_ids)
        print(f"{command}: {rounds} rounds, {len(event_ids)} acknowledged events, 0 lost")
    finally:
        proc.stop()
