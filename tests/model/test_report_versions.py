"""The report's model-version section, on answers shaped as Prometheus gives them (real Builder and Prometheus
client code above `instant`)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from tradewatch.report.model_versions import s_model_versions
from tradewatch.report.period import Period
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import Builder, Options, Section

START, END = 1_700_000_000.0, 1_700_086_400.0
M = "momentum-clf"
SERIES = {
    "tradewatch_model_production_info": [({"model": M, "model_version": "1.5.0"}, 1.0)],
    "tradewatch_model_production_since_timestamp_seconds": [({"model": M}, START + 3600)],
    "tradewatch_model_version_changes_total": [({"model": M}, 1.0)],
    "tradewatch_model_version_first_prediction_timestamp_seconds": [
        ({"model": M, "model_version": "1.4.0"}, START - 86400),
        ({"model": M, "model_version": "1.5.0"}, START + 3600),
    ],
    "tradewatch_model_version_accuracy_ratio": [
        ({"model": M, "model_version": "1.4.0"}, 0.62),
        ({"model": M, "model_version": "1.5.0"}, 0.55),
    ],
    "tradewatch_model_version_estimated_accuracy_ratio": [({"model": M, "model_version": "1.5.0"}, 0.5)],
    "tradewatch_model_version_mean_confidence_ratio": [],
    "tradewatch_model_version_calibration_error": [],
    "tradewatch_model_version_predictions_total": [],
    "tradewatch_model_retrain_recommended": [({"model": M}, 1.0)],
    "tradewatch_model_reference_missing": [({"model": M, "model_version": "1.5.0"}, 0.0)],
}


class Answers(Prometheus):
    def __init__(self, series):
        super().__init__("http://127.0.0.1:9")
        self.series = series

    def instant(self, expr, at):
        (name,) = set(re.findall(r"tradewatch_model_[a-z_]+", expr))
        return self.series[name]


def build(series) -> Section:
    period = Period("daily", START, END, ZoneInfo("UTC"), 300.0, 60.0)
    sec = Section("model_versions", "Model versions")
    s_model_versions(Builder(Answers(series), period, Options(exporters=["model"])), sec)
    return sec


def test_says_when_the_version_changed_and_what_changed_with_it():
    sec = build(SERIES)
    (change, retrain) = sec.notes
    assert change.startswith(f"{M}: version 1.5.0 took over from 1.4.0 at Tue 14 Nov 23:13 UTC.")
    assert "Accuracy 62.0% -> 55.0%" in change and "estimated (CBPE) n/a -> 50.0%" in change
    assert retrain == f"Retraining was recommended for {M} in the period."
    assert [r[2] for r in sec.tables[0].rows] == ["previous", "production"]
    assert dict(sec.figures)["Version changes"] == "1"


def test_no_versions_no_section_body():
    sec = build({k: [] for k in SERIES})
    assert sec.notes and not sec.tables
