"""Rolling performance of one model from its outcome window (see :class:`tradewatch.model.state.ModelFold`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradewatch.model import stats

CLASSIFIER = "classifier"


@dataclass
class Performance:
    """Rolling-window performance of one model (NaN where not applicable or no data)."""

    outcomes: int
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]
    mae: float
    rmse: float
    win_rate: float
    pnl: float
    calibration_error: float
    brier: float
    vs_reference: float


def performance(kind: str | None, rows: list[tuple[Any, ...]], ref_n: int, ref_sum: float, window: int) -> Performance:
    """Rolling performance from the outcome rows of one model (see :class:`ModelFold.window`)."""
    nan = math.nan
    if not rows:
        return Performance(0, nan, {}, {}, nan, nan, nan, nan, nan, nan, nan)
    cols = list(zip(*rows, strict=True))
    correct, conf, brier, abs_err, sq_err, pnl = (np.array(c, dtype=float) for c in cols[2:])
    accuracy = precision = recall = None
    mae = rmse = ece = brier_score = nan
    vs_ref = nan
    ref_complete = ref_n >= window and ref_n > 0
    if kind == CLASSIFIER:
        result = stats.classification(cols[0], cols[1])
        accuracy, precision, recall = result.accuracy, result.precision, result.recall
        has_conf = ~np.isnan(conf)
        if has_conf.any():
            ece = stats.expected_calibration_error(conf[has_conf], correct[has_conf])
        has_brier = ~np.isnan(brier)
        if has_brier.any():
            brier_score = float(np.mean(brier[has_brier]))
        if ref_complete and ref_sum > 0:
            vs_ref = accuracy / (ref_sum / ref_n)
    else:
        valid = ~np.isnan(abs_err)
        if valid.any():
            mae = float(np.mean(abs_err[valid]))
            rmse = float(np.sqrt(np.mean(sq_err[valid])))
            if ref_complete and mae > 0:
                vs_ref = (ref_sum / ref_n) / mae
    has_pnl = ~np.isnan(pnl)
    win_rate = float(np.mean(pnl[has_pnl] > 0)) if has_pnl.any() else nan
    total_pnl = float(np.sum(pnl[has_pnl])) if has_pnl.any() else nan
    return Performance(
        len(rows),
        nan if accuracy is None else accuracy,
        precision or {},
        recall or {},
        mae,
        rmse,
        win_rate,
        total_pnl,
        ece,
        brier_score,
        vs_ref,
    )
