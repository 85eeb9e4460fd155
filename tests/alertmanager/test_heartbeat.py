"""The dead man's switch, live: a real Prometheus 2.42 evaluating the shipped Watchdog rule sends it
to a real Alertmanager 0.25, whose Watchdog route pings the heartbeat URL (a local stand-in) every
repeat interval; the pings stop when Alertmanager stops and when Prometheus stops. Short
intervals (evaluation 1 s, repeat 2 s instead of 1 m). The same processes serve `tradewatch alerts`
first (the heartbeat test stops them)."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary

from tradewatch.cli import main
from tradewatch.devstack import render
from tradewatch.devstack.procs import Managed, free_port
from tradewatch.devstack.quiet import never_now
from tradewatch.devstack.standins import ServiceStandIn

REPEAT = 2.0  # the test's Watchdog repeat interval (shipped: 1m)
RESOLVE = 4.0  # Prometheus' endsAt: 4 x max(evaluation interval, resend delay) = 4 x 1 s


def _watchdog_rules() -> dict:
    stack = yaml.safe_load((render.REPO / "prometheus" / "rules" / "stack.yml").read_text())
    rules = [r for g in stack["groups"] for r in g["rules"] if r.get("alert") == "Watchdog"]
    # And a flapping alert (2 s on, 2 s off) for the history of `tradewatch alerts`.
    flap = {
        "alert": "HeartbeatTestFlap",
        "expr": "vector(time() % 4) < 2",
        "labels": {"severity": "warning", "team": "platform"},
    }
    return {"groups": [{"name": "heartbeat-test", "interval": "1s", "rules": [*rules, flap]}]}


class Pair:
    def __init__(self, tmp: Path, heartbeat_url: str):
        self.tmp = tmp
        self.am_bin = require_binary("prometheus-alertmanager")
        self.prom_bin = require_binary("prometheus")
        (tmp / "heartbeat_url").write_text(heartbeat_url)
        doc = render.render_alertmanager_native(
            render.NativeAlertmanager(
                slack_url_file=None,
                smtp_smarthost="127.0.0.1:9",
                templates_dir=str(render.REPO / "alertmanager" / "templates"),
                fast=True,
                quiet_hours=never_now(),
                channel_secrets={"heartbeat_url": str(tmp / "heartbeat_url")},
            )
        )
        watchdog = next(r for r in doc["route"]["routes"] if r["receiver"] == "deadmans-switch")
        watchdog.update(group_wait="0s", group_interval="1s", repeat_interval=f"{REPEAT:g}s")
        (tmp / "am.yml").write_text(render.dump_yaml(doc))
        (tmp / "rules.yml").write_text(yaml.safe_dump(_watchdog_rules()))
        self.am_port, self.prom_port = free_port(), free_port()
        self.am_url = f"http://127.0.0.1:{self.am_port}"
        self.prom_url = f"http://127.0.0.1:{self.prom_port}"
        prom = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]},
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom))
        self.am = self.start_am()
        self.prom = self.start_prometheus()

    def start_am(self) -> Managed:
        proc = Managed(
            "alertmanager",
            [
                self.am_bin,
                f"--config.file={self.tmp / 'am.yml'}",
                f"--storage.path={self.tmp / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.am_port}",
                "--cluster.listen-address=",
            ],
            self.tmp / "am.log",
            f"{self.am_url}/-/ready",
        ).start()
        proc.wait_ready(30)
        return proc

    def start_prometheus(self) -> Managed:
        proc = Managed(
            "prometheus",
            [
                self.prom_bin,
                f"--config.file={self.tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tmp / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{self.prom_port}",
                "--rules.alert.resend-delay=1s",
            ],
            self.tmp / "prometheus.log",
            f"{self.prom_url}/-/ready",
        ).start()
        proc.wait_ready(30)
        return proc


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    standin = ServiceStandIn().start()
    p = Pair(tmp_path_factory.mktemp("heartbeat"), standin.api_url("heartbeat"))
    yield p, standin
    p.prom.stop()
    p.am.stop()
    standin.stop()


def _pings(standin: ServiceStandIn, since: float = 0.0) -> list[float]:
    return [r.received for r in standin.of("heartbeat") if r.received >= since]


def _wait_pings(standin: ServiceStandIn, n: int, since: float, timeout: float) -> list[float]:
    deadline = time.time() + timeout
    while len(_pings(standin, since)) < n:
        assert time.time() < deadline, f"{len(_pings(standin, since))} pings in {timeout:.0f}s, wanted {n}"
        time.sleep(0.1)
    return _pings(standin, since)


def _quiet_after(standin: ServiceStandIn, stopped: float, quiet: float, timeout: float) -> float:
    """Wait until no ping arrived for ``quiet`` seconds; returns when the last one came (after stop)."""
    deadline = stopped + timeout
    while time.time() < deadline:
        last = max(_pings(standin), default=0.0)
        if time.time() - last >= quiet:
            return last - stopped
        time.sleep(0.2)
    raise AssertionError(f"pings still arriving {timeout:.0f}s after the stop")


def test_alerts_lists_firing_now_and_history(pair, capsys):
    p, _ = pair
    # Wait for Alertmanager to hold the Watchdog and for the flapping alert to have fired at least once.
    deadline = time.time() + 15
    while True:
        code = main(
            ["alerts", "--since", "5m", "--prometheus-url", p.prom_url, "--alertmanager-url", p.am_url, "--json"]
        )
        report = json.loads(capsys.readouterr().out)
        stats = {a["alertname"]: a for a in report["alerts"]}
        if (
            "Watchdog" in stats
            and stats["Watchdog"]["firing_now"]
            and stats.get("HeartbeatTestFlap", {}).get("fired", 0) >= 2
        ):
            break
        assert time.time() < deadline, report
        time.sleep(1)
    assert code == 0 and not report["errors"] and report["step_seconds"] == 1
    watchdog, flap = stats["Watchdog"], stats["HeartbeatTestFlap"]
    assert (watchdog["severity"], watchdog["team"], watchdog["series"]) == ("info", "platform", 1)
    assert watchdog["fired"] >= 1 and watchdog["firing_seconds"] >= watchdog["longest_seconds"] > 0
    # 2 s on, 2 s off: each episode lasts about 2 s (to within a step either way)
    assert 1 <= flap["longest_seconds"] <= 4 and flap["firing_seconds"] <= flap["fired"] * 4
    firing = [a for a in report["firing"] if a["labels"]["alertname"] == "Watchdog"]
    assert firing and firing[0]["state"] == "active" and firing[0]["receivers"] == ["deadmans-switch"]
    main(["alerts", "--since", "5m", "--prometheus-url", p.prom_url, "--alertmanager-url", p.am_url])
    text = capsys.readouterr().out
    assert "Firing now" in text and "Watchdog" in text and "HeartbeatTestFlap" in text


def test_watchdog_pings_every_repeat_interval_and_stops_with_alertmanager_or_prometheus(pair):
    p, standin = pair
    t0 = time.time()
    pings = _wait_pings(standin, 3, t0 - 60, timeout=15)
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert REPEAT - 0.3 <= statistics.median(gaps) <= REPEAT + 1.3, gaps
    ping = standin.of("heartbeat")[-1]
    assert ping.method == "POST" and ping.path == "/heartbeat/ping"
    body = ping.json
    assert body["receiver"] == "deadmans-switch" and body["status"] == "firing"
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["Watchdog"]

    # Alertmanager stops: the pings stop at once.
    p.am.stop()
    stopped = time.time()
    time.sleep(REPEAT + 1.0)
    assert not _pings(standin, stopped)
    # ... and come back with it (Prometheus resends the Watchdog every second).
    p.am = p.start_am()
    _wait_pings(standin, 1, stopped, timeout=REPEAT + 4)

    # Prometheus stops: the Watchdog expires in Alertmanager (endsAt) and the pings stop.
    p.prom.stop()
    stopped = time.time()
    last = _quiet_after(standin, stopped, quiet=REPEAT + 1.0, timeout=RESOLVE + 3 * REPEAT + 2)
    assert last <= RESOLVE + REPEAT + 0.5, f"last ping {last:.1f}s after Prometheus stopped"
