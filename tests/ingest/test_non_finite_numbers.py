"""NaN, Infinity and numbers beyond double range, in every place a number can be: a 4xx with its
reason, never a 5xx, and never a non-finite value in what is journaled and folded."""

from __future__ import annotations

import json

import pytest
from ingest_fixtures import make_ingestor, samples

# JSON has no NaN or Infinity; orjson refuses them and the standard library's parser (the fallback
# that names the reason) reads them, and 1e400, as floats.
EVENT = b'{"type":"tick","ts":%s,"event_id":"a","symbol":"X","value":%s}'


@pytest.mark.parametrize(
    ("ts", "value", "reason"),
    [
        (b"1", b"NaN", "non_finite"),
        (b"1", b"-Infinity", "non_finite"),
        (b"1", b"-1e400", "non_finite"),
        (b"1", b"1" + b"0" * 400, "non_finite"),  # an integer beyond double range, compared exactly
        (b"1", b'"-Infinity"', "non_finite"),
        (b"NaN", b"1", "non_finite"),
        (b"Infinity", b"1", "non_finite"),
        (b"1e400", b"1", "non_finite"),
    ],
)
def test_a_non_finite_number_is_refused_with_its_reason(tmp_path, ts, value, reason):
    ing = make_ingestor(tmp_path)
    result = ing.ingest_body(EVENT % (ts, value))
    assert result.status == 422 and result.accepted == 0
    assert [r["reason"] for r in result.rejected] == [reason]
    field = "ts" if ts != b"1" else "value"
    assert result.rejected[0]["message"].startswith(f"{field}: ")  # says which number
    assert ing.fold.count == 0


@pytest.mark.parametrize("body", [b"NaN", b"-Infinity", b"[1e400, Infinity]"])
def test_a_bare_non_finite_number_is_not_an_event(tmp_path, body):
    result = make_ingestor(tmp_path).ingest_body(body)
    assert result.status == 422 and {r["reason"] for r in result.rejected} == {"not_an_object"}


def test_a_good_event_beside_a_non_finite_one_is_still_taken(tmp_path):
    ing = make_ingestor(tmp_path)
    body = b"[" + EVENT % (b"1", b"Infinity") + b"," + EVENT.replace(b'"a"', b'"b"') % (b"2", b"2.5") + b"]"
    result = ing.ingest_body(body)
    assert result.status == 200 and result.accepted == 1 and result.rejected[0]["index"] == 0
    assert ing.fold.total == 2.5


def test_non_finite_in_an_unknown_field_never_reaches_the_journal(tmp_path):
    """Unknown fields are dropped by the validator, so a NaN there is neither refused nor kept."""
    ing = make_ingestor(tmp_path)
    body = b'{"type":"tick","ts":1,"event_id":"a","symbol":"X","value":1,"extra":NaN,"tiny":1e-400}'
    assert ing.ingest_body(body).accepted == 1
    ing.close()
    journaled = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json")
    assert b"NaN" not in journaled and b"extra" not in journaled


def test_an_underflowing_number_is_zero(tmp_path):
    ing = make_ingestor(tmp_path)
    assert ing.ingest_body(EVENT % (b"1", b"1e-400")).accepted == 1
    assert ing.fold.total == 0.0
    assert not [k for k in samples(ing) if k[0] == "tradewatch_events_rejected_total"]
    json.dumps(ing.fold.to_snapshot(), allow_nan=False)  # nothing non-finite in the state
