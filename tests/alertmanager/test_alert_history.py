"""`tradewatch alerts`' arithmetic: firing episodes from ALERTS samples, the query step, durations."""

from __future__ import annotations

from tradewatch.alerting.history import duration_text, episodes, step_for
from tradewatch.alerting.testalert import _seconds


def test_episodes_split_on_a_missing_sample_and_last_one_step():
    # samples every 15 s; a gap of one missing sample starts a new episode
    ts = [0, 15, 30, 60, 75, 300]
    assert episodes(ts, 15) == [(0, 45), (60, 90), (300, 315)]
    assert episodes([], 15) == []


def test_step_keeps_points_under_prometheus_limit():
    assert step_for(300) == 1 and step_for(86400) == 44 and 7 * 86400 / step_for(7 * 86400) <= 2000


def test_durations_read_and_print():
    assert [duration_text(s) for s in (5, 119, 120, 3725, 7200, 90061)] == [
        "5s",
        "119s",
        "2m00s",
        "62m05s",
        "2h00m",
        "25h01m",
    ]
    assert (_seconds("1m30s"), _seconds("5m"), _seconds("nonsense")) == (90, 300, 30.0)
