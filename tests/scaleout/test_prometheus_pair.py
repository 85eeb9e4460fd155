"""The Prometheus replica pair of docker-compose.ha.yml, for real on loopback: two Prometheus 2.42
replicas (their configs rendered by tradewatch.devstack.ha, the generator of the shipped
prometheus.ha-{a,b}.yml) scrape the same two targets and remote_write into a third Prometheus 2.42
with --web.enable-remote-write-receiver standing in for vminsert.

What differs from the shipped files: loopback targets, 1 s intervals, a queue that retries within
1 s (batch_send_deadline and max_backoff 1 s instead of 5 s) to keep the test short, and one
Alertmanager 0.25 instead of three (the cluster is tests/alertmanager/test_ha_cluster.py)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary

from tradewatch.devstack import ha, render
from tradewatch.devstack.procs import Managed, free_port

pytestmark = pytest.mark.timeout(90)
METRIC = "tw_pair_test_value"
FAST_QUEUE = {"batch_send_deadline": "1s", "max_backoff": "1s"}


class _Target:
    """A scrape target: one counter that grows by one per scrape."""

    def __init__(self) -> None:
        count = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                count[0] += 1
                body = f"# TYPE {METRIC} counter\n{METRIC} {count[0]}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"


def _query(port: int, promql: str, at: float | None = None) -> list[dict]:
    params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())["data"]["result"]


def _prometheus(name: str, work: Path, port: int, config: dict | None, *extra: str) -> Managed:
    (work / name).mkdir(parents=True, exist_ok=True)
    config_path = work / name / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config or {"global": {"scrape_interval": "1s"}}))
    return Managed(
        name,
        [
            require_binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={work / name / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        work / "logs" / f"{name}.log",
        f"http://127.0.0.1:{port}/-/ready",
    )


def replica_config(replica: str, targets: list[str], receiver_port: int, rules_dir: Path, am_port: int = 1) -> dict:
    doc = ha.render_prometheus_ha(
        replica,
        "native",
        render.NativeOptions(test_mode=True, rules_dir=str(rules_dir)),
        alertmanagers=[f"127.0.0.1:{am_port}"],
        remote_write_url=f"http://127.0.0.1:{receiver_port}/api/v1/write",
        queue=FAST_QUEUE,
    )
    doc["scrape_configs"] = [
        {
            "job_name": "pair-test",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": targets}],
        }
    ]
    return doc


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("pair")
    (work / "rules").mkdir()
    (work / "rules" / "pair.yml").write_text(yaml.safe_dump({"groups": [{"name": "pair", "rules": [ALWAYS]}]}))
    targets = [_Target(), _Target()]
    ports = {name: free_port() for name in ("receiver", "alertmanager", "a", "b")}
    procs = {
        "receiver": _prometheus("receiver", work, ports["receiver"], None, "--web.enable-remote-write-receiver"),
        "alertmanager": _alertmanager(work, ports["alertmanager"]),
    }
    for replica in ha.REPLICAS:
        config = replica_config(
            replica, [t.address for t in targets], ports["receiver"], work / "rules", ports["alertmanager"]
        )
        # Re-send firing alerts every second (default 1 m), so the first one reaches Alertmanager at once.
        procs[replica] = _prometheus(
            f"replica-{replica}", work, ports[replica], config, "--rules.alert.resend-delay=1s"
        )
    try:
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_ready(20)
        yield {"ports": ports, "procs": procs, "targets": targets, "work": work}
    finally:
        # Replicas first: stopping, a replica flushes its queue to the receiver.
        for proc in reversed(procs.values()):
            proc.stop()
        for target in targets:
            target.server.shutdown()


ALWAYS = {"alert": "PairTestAlways", "expr": "vector(1)", "labels": {"severity": "info", "team": "platform"}}


def _alertmanager(work: Path, port: int) -> Managed:
    config = work / "alertmanager.yml"
    config.write_text(yaml.safe_dump({"route": {"receiver": "none"}, "receivers": [{"name": "none"}]}))
    return Managed(
        "alertmanager",
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={work / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        work / "logs" / "alertmanager.log",
        f"http://127.0.0.1:{port}/-/ready",
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:.0f}s")
        time.sleep(0.25)


def test_shipped_configs_are_this_generator_with_compose_targets() -> None:
    for replica in ha.REPLICAS:
        shipped = yaml.safe_load((render.REPO / "prometheus" / f"prometheus.ha-{replica}.yml").read_text())
        native = replica_config(replica, ["t:1"], 1, Path("/r"))
        assert shipped["remote_write"][0]["queue_config"] == {
            **native["remote_write"][0]["queue_config"],
            **{k: ha.QUEUE_CONFIG[k] for k in FAST_QUEUE},
        }
        assert shipped["alerting"]["alert_relabel_configs"] == native["alerting"]["alert_relabel_configs"]
        labels = {k: v for k, v in shipped["global"]["external_labels"].items() if k != "environment"}
        assert labels == {k: v for k, v in native["global"]["external_labels"].items() if k != "environment"}


def test_receiver_has_both_replicas_series_with_their_labels(pair: dict) -> None:
    port = pair["ports"]["receiver"]
    result = _wait(lambda: len(r := _query(port, METRIC)) == 4 and r, 20, "not 4 series (2 targets x 2 replicas)")
    seen = {(s["metric"]["instance"], s["metric"]["replica"]) for s in result}
    assert seen == {(t.address, r) for t in pair["targets"] for r in ha.REPLICAS}
    for series in result:
        assert series["metric"]["cluster"] == ha.CLUSTER_NAME
        assert series["metric"]["stack"] == "tradewatch"
        assert series["metric"]["job"] == "pair-test"


def test_nothing_lost_across_a_receiver_restart(pair: dict) -> None:
    port, receiver = pair["ports"]["receiver"], pair["procs"]["receiver"]
    _wait(lambda: len(_query(port, METRIC)) == 4, 20, "replicas not writing")
    stopped = time.time()
    receiver.stop()
    time.sleep(4)  # the replicas scrape 4 more times each, with nowhere to write
    receiver.start().wait_ready(20)
    # A window from before the stop to after the restart, counted on each replica's own TSDB and
    # on the receiver: equal once the replicas' retries have delivered the outage's samples.
    at, window = time.time() + 1, 10
    time.sleep(1.5)
    for replica in ha.REPLICAS:
        rport = pair["ports"][replica]
        local = {
            s["metric"]["instance"]: float(s["value"][1])
            for s in _query(rport, f"count_over_time({METRIC}[{window}s])", at)
        }
        assert len(local) == 2 and min(local.values()) >= window / 2, f"replica {replica}: {local}"

        def remote(replica: str = replica) -> dict:
            result = _query(port, f'count_over_time({METRIC}{{replica="{replica}"}}[{window}s])', at)
            return {s["metric"]["instance"]: float(s["value"][1]) for s in result}

        try:
            _wait(lambda local=local: remote() == local, 15, "")
        except AssertionError:
            pytest.fail(f"replica {replica}: receiver has {remote()} samples, the replica {local}")
    assert at - window < stopped, "the window must cover the outage"


def test_dedup_query_returns_one_series_per_target(pair: dict) -> None:
    port = pair["ports"]["receiver"]
    _wait(lambda: len(_query(port, METRIC)) == 4, 20, "replicas not writing")
    raw = _query(port, f"count by (instance) ({METRIC})")
    assert {s["metric"]["instance"]: s["value"][1] for s in raw} == {t.address: "2" for t in pair["targets"]}
    deduped = _query(port, f"max without ({ha.REPLICA_LABEL}) ({METRIC})")
    assert sorted(s["metric"]["instance"] for s in deduped) == sorted(t.address for t in pair["targets"])
    assert all(ha.REPLICA_LABEL not in s["metric"] for s in deduped)


def test_the_pairs_copies_of_an_alert_are_one_alert(pair: dict) -> None:
    """Both replicas fire the same rule and send it; without their replica label it is one alert."""
    url = f"http://127.0.0.1:{pair['ports']['alertmanager']}/api/v2/alerts"

    def sent(replica: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{pair['ports'][replica]}/metrics", timeout=5) as resp:
            lines = resp.read().decode().splitlines()
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith("prometheus_notifications_sent_total"))

    _wait(lambda: all(sent(r) > 0 for r in ha.REPLICAS), 20, "a replica sent no alert")
    with urllib.request.urlopen(url, timeout=5) as resp:
        alerts = [a for a in json.loads(resp.read()) if a["labels"]["alertname"] == ALWAYS["alert"]]
    assert len(alerts) == 1, [a["labels"] for a in alerts]
    labels = alerts[0]["labels"]
    assert ha.REPLICA_LABEL not in labels and labels["cluster"] == ha.CLUSTER_NAME
