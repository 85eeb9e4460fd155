"""How the doctor reads Grafana's and Loki's answers.

Neither program runs on our machines, so these tests serve their documented answers from a real
HTTP server on loopback (the shapes of /api/health, /api/datasources, /api/datasources/uid/<uid>/health,
Loki's /ready and /loki/api/v1/query); everything else the doctor checks runs for real in test_doctor.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator

import pytest

from tradewatch.doctor.checks import ABSENT, FAIL, OK, SKIP, WARN, Check, Doctor, Endpoints, Options

Route = Callable[[http.server.BaseHTTPRequestHandler], tuple[int, object]]
PASSWORD = "s3cret-for-tests"


@contextlib.contextmanager
def json_server(routes: dict[str, Route]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?")[0])
            status, payload = route(self) if route else (404, {"message": "not found"})
            body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def fixed(status: int, payload: object) -> Route:
    return lambda _request: (status, payload)


def authenticated(status: int, payload: object) -> Route:
    expected = "Basic " + base64.b64encode(f"tradewatch:{PASSWORD}".encode()).decode()

    def route(request: http.server.BaseHTTPRequestHandler) -> tuple[int, object]:
        if request.headers.get("Authorization") != expected:
            return 401, {"message": "Invalid username or password"}
        return status, payload

    return route


GRAFANA_OK = {
    "/api/health": fixed(200, {"commit": "abc", "database": "ok", "version": "13.2.0"}),
    "/api/datasources": authenticated(
        200,
        [
            {"uid": "prometheus", "name": "Prometheus", "type": "prometheus"},
            {"uid": "loki", "name": "Loki", "type": "loki"},
        ],
    ),
    "/api/datasources/uid/prometheus/health": authenticated(200, {"status": "OK", "message": "Queried."}),
    "/api/datasources/uid/loki/health": authenticated(
        400, {"status": "ERROR", "message": "Unable to connect with Loki."}
    ),
}


def doctor_for(mode: str = "compose", password: str = PASSWORD, **urls: str) -> Doctor:
    return Doctor(Endpoints(**urls), Options(mode=mode, timeout=2.0, grafana_password=password))


def datasources_check(routes: dict[str, Route], password: str = PASSWORD) -> Check:
    """Grafana's readiness (must be OK), then the datasource check, against ``routes``."""
    with json_server(routes) as url:
        doctor = doctor_for(grafana=url, password=password)
        assert doctor.check_ready("grafana").status == OK
        return doctor.check_grafana_datasources()


def test_grafana_datasource_health_is_reported_per_datasource() -> None:
    check = datasources_check(GRAFANA_OK)
    assert check.status == FAIL and check.summary == "1/2 datasources broken"
    assert check.details == ["Loki: Unable to connect with Loki."]


def test_all_datasources_working_is_ok() -> None:
    routes = dict(GRAFANA_OK, **{"/api/datasources/uid/loki/health": authenticated(200, {"message": "ok"})})
    check = datasources_check(routes)
    assert check.status == OK and check.summary == "2 datasources working"


def test_wrong_grafana_password_explains_the_volume() -> None:
    check = datasources_check(GRAFANA_OK, password="changed-in-env-later")
    assert check.status == FAIL and "401" in check.summary
    assert "grafana-data volume" in check.advice and "reset-admin-password" in check.advice


def test_no_grafana_password_is_a_warning_not_a_failure() -> None:
    check = datasources_check(GRAFANA_OK, password="")
    assert check.status == WARN and "GRAFANA_ADMIN_PASSWORD" in check.advice


def test_grafana_with_a_broken_database_is_not_ready() -> None:
    with json_server({"/api/health": fixed(503, {"database": "failing"})}) as url:
        check = doctor_for(grafana=url).check_ready("grafana")
    assert check.status == FAIL and "HTTP 503" in check.summary


def test_datasources_skipped_when_grafana_is_down_in_compose_and_absent_in_dev() -> None:
    compose = doctor_for("compose", grafana="http://127.0.0.1:9")
    assert compose.check_ready("grafana").status == FAIL
    assert compose.check_grafana_datasources().status == SKIP
    dev = doctor_for("dev", grafana="http://127.0.0.1:9")
    assert dev.check_ready("grafana").status == ABSENT
    assert dev.check_grafana_datasources().status == ABSENT


def _loki(result: list) -> dict[str, Route]:
    return {
        "/ready": fixed(200, "ready"),
        "/loki/api/v1/query": fixed(200, {"status": "success", "data": {"resultType": "vector", "result": result}}),
    }


def test_loki_without_logs_points_at_alloy() -> None:
    with json_server(_loki([])) as url:
        doctor = doctor_for(loki=url)
        assert doctor.check_ready("loki").status == OK
        check = doctor.check_loki_logs()
    assert check.status == FAIL and "Alloy" in check.advice and "docker.sock" in check.advice


def test_loki_receiving_logs_lists_the_services() -> None:
    result = [
        {"metric": {"service": "trading-exporter"}, "value": [1.0, "42"]},
        {"metric": {"service": "simulator"}, "value": [1.0, "7"]},
    ]
    with json_server(_loki(result)) as url:
        doctor = doctor_for(loki=url)
        doctor.check_ready("loki")
        check = doctor.check_loki_logs()
    assert check.status == OK and check.summary == "receiving logs from 2 services"
    assert check.details == ["simulator: 7 lines", "trading-exporter: 42 lines"]


def test_loki_query_error_is_a_failure() -> None:
    routes = dict(_loki([]), **{"/loki/api/v1/query": fixed(400, "parse error at line 1")})
    with json_server(routes) as url:
        doctor = doctor_for(loki=url)
        doctor.check_ready("loki")
        check = doctor.check_loki_logs()
    assert check.status == FAIL and "HTTP 400" in check.summary


@pytest.mark.parametrize(("component", "expected"), [("grafana", "compose"), ("loki", "compose"), (None, "dev")])
def test_auto_mode_detects_compose_by_its_extra_services(component: str | None, expected: str) -> None:
    routes = {"/api/health": fixed(200, {"database": "ok"}), "/ready": fixed(200, "ready")}
    with json_server(routes) as url:
        closed = "http://127.0.0.1:9"
        urls = {"grafana": closed, "loki": closed, "alloy": closed}
        if component:
            urls[component] = url
        doctor = Doctor(Endpoints(**urls), Options(mode="auto", timeout=1.0))
        assert doctor._detect_mode() == expected
