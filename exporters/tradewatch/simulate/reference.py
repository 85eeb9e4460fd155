"""A reference data set for the simulator's model, recorded from a normal run.

Drift is measured against a reference. Captured live from a model's first predictions, it takes
a long time to fill at the simulator's pace, and a scenario that starts early would contaminate
it; a recorded normal run is what a team would use for a real model (a validation set). The model
exporter reads it as a JSONL event log (``reference.files``).

Which regime: the drift window (600 predictions in the demo, 20 market minutes) holds one market
regime at a time, since calm spells last about two market hours. Against a reference that mixes
both regimes, a window of either one differs from it (measured: 3 of 7 features flagged, regime
PSI 3.3, in a normal run that stayed calm), so the quiet baseline paged as drift. The demo's
reference is therefore the calm regime, the market's normal state: a normal run is quiet while the
market is calm, and a volatile spell is a real shift of the inputs (shorter than FeatureDrift's
15 minutes at ``--speed`` above 2; at ``--speed 1`` a spell lasts about 20 minutes and flags it).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tradewatch.simulate.engine import MODEL_NAME, Simulator


def write_reference(
    path: str | Path,
    *,
    predictions: int = 6000,
    seed: int = 4242,
    speed: float = 1.0,
    regimes: tuple[str, ...] = ("calm",),
) -> int:
    """Write ``predictions`` prediction events of a normal run at ``speed``, of the market ``regimes``
    only (default the calm one, see above); return how many."""
    sim = Simulator(seed=seed, scenario="normal", speed=speed, log_events=False)
    written = 0
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        # Prediction features depend on the simulated pace (volatility windows are in ticks), so the
        # reference is recorded at the speed the live simulator runs at.
        for event in sim.events(400 * predictions):
            if (
                event["type"] == "prediction"
                and event.get("model") == MODEL_NAME
                and event["features"].get("regime") in regimes
            ):
                out.write(orjson.dumps(event) + b"\n")
                written += 1
                if written >= predictions:
                    break
    return written
