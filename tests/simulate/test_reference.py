"""The recorded reference `tradewatch dev` hands the model exporter."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson

from tradewatch.devstack.command import DEMO_MODEL_ENV, demo_exporter_env
from tradewatch.model.reference import load_reference
from tradewatch.simulate.engine import MODEL_NAME
from tradewatch.simulate.reference import write_reference


def test_reference_is_the_calm_regime_and_loads_in_the_model_exporter(tmp_path: Path) -> None:
    # Seed 7's market turns volatile after about 55 minutes, within these predictions: left out.
    path = tmp_path / "ref.jsonl"
    assert write_reference(path, predictions=3000, seed=7) == 3000
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert {e["type"] for e in events} == {"prediction"} and {e["model"] for e in events} == {MODEL_NAME}
    regimes = Counter(e["features"]["regime"] for e in events)
    assert set(regimes) == {"calm"}, regimes
    both = tmp_path / "both.jsonl"
    write_reference(both, predictions=3000, seed=7, regimes=("calm", "volatile"))
    mixed = Counter(orjson.loads(line)["features"]["regime"] for line in both.read_bytes().splitlines())
    assert mixed["volatile"] > 0, mixed
    reference = load_reference(path, max_features=50, max_categories=50, model=MODEL_NAME)
    assert reference.rows == 3000 and reference.kinds["regime"] == "categorical"


def test_demo_env_keeps_what_the_user_set(tmp_path: Path) -> None:
    env = demo_exporter_env(tmp_path, environ={"TRADEWATCH_DRIFT_WINDOW": "5000"})["model"]
    assert "TRADEWATCH_DRIFT_WINDOW" not in env
    assert env["TRADEWATCH_DRIFT_INTERVAL"] == DEMO_MODEL_ENV["TRADEWATCH_DRIFT_INTERVAL"]
    files = json.loads(env["TRADEWATCH_REFERENCE_FILES"])
    assert Path(files[MODEL_NAME]).exists()
    mine = demo_exporter_env(tmp_path, environ={"TRADEWATCH_REFERENCE_FILES": "{}"})["model"]
    assert "TRADEWATCH_REFERENCE_FILES" not in mine
