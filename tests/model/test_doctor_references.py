"""`tradewatch doctor` names a production model version that has no drift reference."""

from __future__ import annotations

from tradewatch.doctor.checks import OK, WARN
from tradewatch.doctor.models import QUERY_MISSING, QUERY_VERSIONS, check_model_references


def answers(missing, versions):
    table = {QUERY_MISSING: missing, QUERY_VERSIONS: versions}
    return lambda promql: table[promql]


PROD = [{"metric": {"model": "momentum-clf", "model_version": "1.5.0"}, "value": [0, "1"]}]


def test_a_version_without_reference_is_a_warning():
    (check,) = check_model_references(answers(PROD, PROD), True)
    assert check.status == WARN and check.details == ["momentum-clf 1.5.0"]
    assert "reference.version_files" in check.advice


def test_versions_with_references_are_ok_and_no_models_say_nothing():
    (check,) = check_model_references(answers([], PROD), True)
    assert check.status == OK
    assert check_model_references(answers([], []), True) == []
    assert check_model_references(answers(PROD, PROD), False) == []
