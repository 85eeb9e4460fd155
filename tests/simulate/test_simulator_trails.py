"""The simulator's correlation IDs (tradewatch.simulate.trails): every order's story shares its ID,
from the decision chain that created it to the trade its fill closes."""

from __future__ import annotations

from tests.simulate.test_simulator import simulate

ORDER = {"order_submitted", "order_acknowledged", "order_partially_filled", "order_filled", "order_cancelled"}


def test_an_order_story_shares_one_id():
    events = simulate("normal", 900, seed=3)
    orders = {e["order_id"] for e in events if e["type"] == "order_submitted"}
    assert orders
    for e in events:
        if e["type"] in ORDER | {"order_rejected"}:
            assert e["correlation_id"] == e["order_id"]
        elif e["type"] == "trade_closed":
            assert e["correlation_id"] in orders
        elif e["type"] in ("prediction", "signal", "decision", "ai_call", "outcome"):
            assert e["correlation_id"]
        else:
            assert "correlation_id" not in e, e["type"]
    # A decision chain (or a risk exit's close signal) carries the ID of the order it leads to.
    by_cid: dict[str, list[str]] = {}
    for e in events:
        if "correlation_id" in e:
            by_cid.setdefault(e["correlation_id"], []).append(e["type"])
    stories = [types for cid, types in by_cid.items() if cid in orders and "trade_closed" in types]
    heads = {tuple(t[: t.index("order_submitted") + 1]) for t in stories}
    assert ("prediction", "signal", "decision", "order_submitted") in heads
    assert heads <= {("prediction", "signal", "decision", "order_submitted"), ("signal", "order_submitted")}
    # A decision's later stages keep its ID (joined on decision_id), a prediction's outcome too.
    made = {e["decision_id"]: e["correlation_id"] for e in events if e.get("stage") == "made"}
    stages = [e for e in events if e["type"] == "decision" and e.get("stage", "made") != "made"]
    assert {e["stage"] for e in stages} >= {"approved", "executed"}
    assert all(e["correlation_id"] == made[e["decision_id"]] in orders for e in stages)
    predicted = {e["prediction_id"]: e["correlation_id"] for e in events if e["type"] == "prediction"}
    outcomes = [e for e in events if e["type"] == "outcome"]
    assert outcomes and all(e["correlation_id"] == predicted[e["prediction_id"]] for e in outcomes)
