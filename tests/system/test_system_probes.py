"""Probes against local TCP and HTTP servers; their results, readiness and the scrape path."""

from __future__ import annotations

import threading
import time

import localservers
from hostfixture import values

from tradewatch.core import config as cfg
from tradewatch.system import settings
from tradewatch.system.probes import Probe, ProbeRunner, ProbesCollector, split_host_port

http_target = localservers.http_target
listener = localservers.listener
closed_port = localservers.closed_port


def run(probe: Probe):
    runner = ProbeRunner(probe)
    return runner, runner.run_once()


def test_tcp_probe_success_and_refused(listener):
    _, result = run(Probe("db", "tcp", listener.target, 1, 1))
    assert result.success and result.error == "" and 0 < result.duration < 1
    _, result = run(Probe("db", "tcp", f"127.0.0.1:{closed_port()}", 1, 1))
    assert not result.success and "ConnectionRefusedError" in result.error


def test_http_probe_statuses(http_target):
    assert run(Probe("api", "http", f"{http_target}/ok", 1, 1))[1].status_code == 200
    _, down = run(Probe("api", "http", f"{http_target}/down", 1, 1))
    assert (down.success, down.status_code, down.error) == (False, 503, "unexpected HTTP status 503")
    _, expected = run(Probe("api", "http", f"{http_target}/down", 1, 1, expect_status=(503,)))
    assert expected.success
    _, redirect = run(Probe("api", "http", f"{http_target}/redirect", 1, 1))
    assert not redirect.success and redirect.status_code == 302, "redirects are not followed"


def test_http_probe_times_out_within_its_budget(http_target):
    _, result = run(Probe("slow", "http", f"{http_target}/slow", 1, 0.3))
    assert not result.success and result.status_code == 0
    assert "Timeout" in result.error
    assert 0.25 < result.duration < 1.5


def test_http_probe_connection_refused():
    _, result = run(Probe("api", "http", f"http://127.0.0.1:{closed_port()}/", 1, 1))
    assert not result.success and result.status_code == 0 and "ConnectionError" in result.error


def test_collector_reports_last_results_and_keeps_last_success(listener, http_target):
    tcp = ProbeRunner(Probe("db", "tcp", listener.target, 1, 1))
    http = ProbeRunner(Probe("api", "http", f"{http_target}/ok", 1, 1))
    never = ProbeRunner(Probe("ws", "tcp", "127.0.0.1:1", 1, 1))
    collector = ProbesCollector([tcp, http, never])
    tcp.run_once()
    ok_at = tcp.snapshot()[1]
    http.run_once()
    assert values(collector, "tradewatch_probe_success", "probe") == {"db": 1, "api": 1}  # ws has not run
    assert values(collector, "tradewatch_probe_http_status_code", "probe") == {"api": 200}
    listener.close()
    tcp.run_once()
    assert values(collector, "tradewatch_probe_success", "probe")["db"] == 0
    assert values(collector, "tradewatch_probe_last_success_timestamp_seconds", "probe")["db"] == ok_at


def test_collect_never_waits_for_a_probe_in_flight(http_target):
    runner = ProbeRunner(Probe("slow", "http", f"{http_target}/slow", 5, 3))
    collector = ProbesCollector([runner])
    thread = threading.Thread(target=runner.run_once)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert values(collector, "tradewatch_probe_success", "probe") == {}
    assert time.monotonic() - started < 1.0, "a scrape must not block on a running probe"
    thread.join()
    assert values(collector, "tradewatch_probe_success", "probe") == {"slow": 1}


def test_required_probe_drives_readiness(listener):
    config = cfg.load(
        settings.settings(),
        None,
        environ={},
        overrides={
            "probes": [
                {
                    "name": "db",
                    "kind": "tcp",
                    "target": listener.target,
                    "interval": "1s",
                    "timeout": "500ms",
                    "required": True,
                },
                {"name": "optional", "kind": "tcp", "target": "127.0.0.1:1", "interval": "1s", "timeout": "500ms"},
            ]
        },
    )
    exporter = settings.build(config)
    ready, reasons = exporter.readiness.status()
    assert not ready and reasons == {"probe:db": "not run yet"}
    runners = exporter.collectors._collectors["probes"].runners
    for runner in runners:
        runner.run_once()
    assert exporter.readiness.status() == (True, {})  # the optional probe fails without effect
    listener.close()
    runners[0].run_once()
    ready, reasons = exporter.readiness.status()
    assert not ready and "ConnectionRefusedError" in reasons["probe:db"]


def test_split_host_port():
    assert split_host_port("db.internal:5432") == ("db.internal", 5432)
    assert split_host_port("[::1]:443") == ("::1", 443)
    for bad in ("db.internal", ":80", "host:0", "host:http", "host:70000"):
        try:
            split_host_port(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
