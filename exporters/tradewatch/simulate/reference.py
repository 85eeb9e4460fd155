"""A reference data set for the simulator's model, recorded from a normal run.

Drift is measured against a reference. Captured live from a model's first predictions, it takes
a long time to fill at the simulator's pace, and a scenario that starts early would contaminate
it; a recorded normal run, hours of market time long so that it spans both market regimes, is what a
team would use for a real model (a validation set). The model exporter reads it as a JSONL event log
(``reference.files``).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tradewatch.simulate.engine import MODEL_NAME, Simulator


def write_reference(path: str | Path, *, predictions: int = 6000, seed: int = 4242, speed: float = 1.0) -> int:
    """Write ``predictions`` prediction events of a normal run at ``speed``; return how many."""
    sim = Simulator(seed=seed, scenario="normal", speed=speed, log_events=False)
    written = 0
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        # Prediction features depend on the simulated pace (volatility windows are in ticks), so the
        # reference is recorded at the speed the live simulator runs at.
        for event in sim.events(400 * predictions):
            if event["type"] == "prediction" and event.get("model") == MODEL_NAME:
                out.write(orjson.dumps(event) + b"\n")
                written += 1
                if written >= predictions:
                    break
    return written
