"""`tradewatch doctor` against real processes: the native dev stack (Prometheus, Alertmanager, the
three exporters, the local Slack and SMTP receivers) on free loopback ports.

Grafana, Loki and Alloy do not run here; their endpoints are pointed at closed ports, which is what
`make dev` looks like (ABSENT), and with --mode compose what a broken compose stack looks like (FAIL).
Their answer-parsing is exercised against small stand-ins at the end of the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradewatch.devstack.procs import free_port

pytestmark = pytest.mark.e2e


def _closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def stack():
    from tradewatch.devstack.testing import live_stack

    # The dev stack's trading exporter has a daily loss limit; this model exporter has no AI budget.
    with live_stack(
        scenarios=(), warmup_seconds=0, exporter_env={"model": {"TRADEWATCH_AI_MONTHLY_BUDGET_USD": "0"}}
    ) as running:
        now = datetime.now(UTC).isoformat()
        running.post_events(
            "trading",
            [{"type": "heartbeat", "ts": now, "event_id": "doctor-hb-1", "component": "bot", "status": "healthy"}],
        )
        ai_call = {
            "type": "ai_call",
            "ts": now,
            "event_id": "doctor-ai-1",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "prompt_tokens": 10,
            "completion_tokens": 2,
            "latency_seconds": 0.2,
            "status": "ok",
        }
        running.post_events("model", [ai_call])
        running.post_events(
            "trading",
            [
                {
                    "type": "portfolio_snapshot",
                    "ts": now,
                    "event_id": "doctor-pf-1",
                    "account": "doctor",
                    "equity": 1000.0,
                    "cash": 1000.0,
                }
            ],
        )
        running.wait_for("tradewatch_last_event_timestamp_seconds", timeout=30)
        running.wait_for("prometheus_rule_group_last_evaluation_timestamp_seconds > 0", timeout=30)
        time.sleep(2)  # one more evaluation round, so no rule is left "unknown"
        yield running


def _args(stack, *extra: str) -> list[str]:
    return [
        "doctor",
        "--env-file",
        "/nonexistent/.env",
        "--prometheus-url",
        stack.prometheus_url,
        "--alertmanager-url",
        stack.alertmanager_url,
        "--system-exporter-url",
        stack.exporter_url("system"),
        "--trading-exporter-url",
        stack.exporter_url("trading"),
        "--model-exporter-url",
        stack.exporter_url("model"),
        "--smtp",
        stack.mail.smarthost,
        "--grafana-url",
        _closed_url(),
        "--loki-url",
        _closed_url(),
        "--alloy-url",
        _closed_url(),
        *extra,
    ]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWATCH_", "GRAFANA_")) and k != "NO_COLOR"}


def doctor(stack, *extra: str, separate_process: bool = False) -> tuple[int, str]:
    """Run `tradewatch doctor` against the stack: in this process (fast), or as its own process."""
    argv = _args(stack, *extra)
    if separate_process:
        result = subprocess.run(
            [sys.executable, "-m", "tradewatch", *argv], capture_output=True, text=True, timeout=120, env=_clean_env()
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result.returncode, result.stdout
    from tradewatch.cli import main

    saved, out = dict(os.environ), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(_clean_env())
        with contextlib.redirect_stdout(out):
            code = main(argv)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue()


def doctor_json(stack, *extra: str, separate_process: bool = False) -> tuple[int, dict]:
    code, out = doctor(stack, "--json", *extra, separate_process=separate_process)
    return code, json.loads(out)


def by_key(report: dict) -> dict[tuple[str, str], dict]:
    return {(c["component"], c["name"]): c for c in report["checks"]}


def test_healthy_dev_stack_passes_with_grafana_and_loki_absent(stack) -> None:
    code, report = doctor_json(stack, separate_process=True)
    checks = by_key(report)
    assert code == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert report["mode"] == "dev" and report["mode_detected"] is True and report["ok"] is True
    for component in ("grafana", "loki", "alloy"):
        assert checks[(component, "ready")]["status"] == "absent"
    assert checks[("grafana", "datasources")]["status"] == "absent"
    assert checks[("loki", "logs")]["status"] == "absent"
    for component in ("prometheus", "alertmanager", "system-exporter", "trading-exporter", "model-exporter"):
        assert checks[(component, "ready")]["status"] == "ok", checks[(component, "ready")]
    assert checks[("prometheus", "targets")]["status"] == "ok"
    assert "system-exporter" in checks[("prometheus", "targets")]["summary"]
    assert checks[("prometheus", "rules")]["status"] == "ok", checks[("prometheus", "rules")]
    assert checks[("alertmanager", "config")]["status"] == "ok"
    assert checks[("alertmanager", "slack")]["status"] == "ok"  # the dev stack's local Slack stand-in
    assert checks[("mail", "smtp")]["status"] == "ok"
    assert checks[("events", "trading")]["status"] == "ok"
    assert checks[("events", "model")]["status"] == "ok"
    assert report["counts"]["fail"] == 0


def test_text_report_without_a_terminal_has_no_colour(stack) -> None:
    code, out = doctor(stack)
    assert code == 0
    assert "\033[" not in out
    assert out.startswith("TradeWatch doctor: make dev stack (detected)")
    assert "ABSENT  ready" in out and "healthy" in out.splitlines()[-1]


def test_color_flag_colours_the_report(stack) -> None:
    code, out = doctor(stack, "--color")
    assert code == 0
    assert "\033[32mOK" in out and "\033[36mABSENT" in out


def test_compose_mode_counts_missing_grafana_and_loki_as_failures(stack) -> None:
    code, report = doctor_json(stack, "--mode", "compose")
    checks = by_key(report)
    assert code == 1 and report["mode_detected"] is False
    for component in ("grafana", "loki", "alloy"):
        check = checks[(component, "ready")]
        assert check["status"] == "fail" and f"docker compose logs --tail=50 {component}" in check["advice"]
    assert checks[("grafana", "datasources")]["status"] == "skip"


def test_stale_events_fail_with_what_to_start(stack) -> None:
    time.sleep(1.5)
    code, report = doctor_json(stack, "--max-event-age", "1")
    trading = by_key(report)[("events", "trading")]
    assert code == 1
    assert trading["status"] == "fail" and "last event" in trading["summary"]
    assert "simulator" in trading["advice"]
    assert by_key(report)[("events", "model")]["status"] == "warn", "model events are optional"


def test_unreachable_mail_catcher_fails(stack) -> None:
    code, report = doctor_json(stack, "--smtp", f"127.0.0.1:{free_port()}")
    smtp = by_key(report)[("mail", "smtp")]
    assert code == 1 and smtp["status"] == "fail" and "e-mail alerts cannot be delivered" in smtp["advice"]


def test_stopped_exporter_fails_with_advice_and_a_down_target(stack) -> None:
    stack.stop_exporter("model")
    try:
        deadline = time.monotonic() + 20
        while stack.targets_up().get("model-exporter", True) and time.monotonic() < deadline:
            time.sleep(0.5)
        code, report = doctor_json(stack)
        checks = by_key(report)
        assert code == 1 and report["ok"] is False
        ready = checks[("model-exporter", "ready")]
        assert ready["status"] == "fail" and "not reachable" in ready["summary"]
        assert "make dev" in ready["advice"]
        targets = checks[("prometheus", "targets")]
        assert targets["status"] == "fail"
        assert any(d.startswith("model-exporter ") for d in targets["details"]), targets["details"]
        assert checks[("trading-exporter", "ready")]["status"] == "ok", "one outage is one failure"
        _, text = doctor(stack)
        assert "FAIL    ready          not reachable" in text and "fix:" in text
        assert "problems found" in text.splitlines()[-1]
    finally:
        stack.start_exporter("model")
        stack.wait_targets_up(30)  # the next test shares the stack: every target scraped again


def test_nothing_running_says_so() -> None:
    argv = [
        sys.executable,
        "-m",
        "tradewatch",
        "doctor",
        "--json",
        "--env-file",
        "/nonexistent",
        "--smtp",
        f"127.0.0.1:{free_port()}",
    ]
    for service in (
        "prometheus",
        "alertmanager",
        "system-exporter",
        "trading-exporter",
        "model-exporter",
        "grafana",
        "loki",
        "alloy",
    ):
        argv += [f"--{service}-url", _closed_url()]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["nothing_answers"] is True
    statuses = {c["status"] for c in report["checks"]}
    assert statuses <= {"fail", "absent", "skip"}


# ------------------------------------------------------------------ addresses from .env


def test_ports_come_from_the_env_file(tmp_path: Path) -> None:
    from tradewatch.doctor.command import default_endpoints, read_env_file

    env_file = tmp_path / ".env"
    env_file.write_text(
        "TRADEWATCH_BIND_ADDRESS=0.0.0.0\nPROMETHEUS_PORT=19090\nGRAFANA_PORT='13000'\n"
        "MAILPIT_SMTP_PORT=2525\n# LOKI_PORT=1\n"
    )
    endpoints = default_endpoints(read_env_file(env_file), {"TRADEWATCH_DOCTOR_LOKI_URL": "http://logs:3100"})
    assert endpoints.prometheus == "http://127.0.0.1:19090"  # 0.0.0.0 is reached on loopback
    assert endpoints.grafana == "http://127.0.0.1:13000"
    assert endpoints.loki == "http://logs:3100"
    assert endpoints.smtp == "127.0.0.1:2525"
    assert endpoints.trading_exporter == "http://127.0.0.1:9812"
    assert read_env_file(tmp_path / "missing") == {}


def test_unready_exporter_reports_its_reasons(tmp_path: Path) -> None:
    """A system exporter that cannot read the host's procfs answers 503 on /readyz: the doctor
    shows the exporter's own reason, not just a status code."""
    from tradewatch.devstack.procs import Managed
    from tradewatch.doctor.checks import FAIL, Doctor, Endpoints, Options

    port = free_port()
    exporter = Managed(
        "system-exporter",
        [sys.executable, "-m", "tradewatch", "system-exporter", "--port", str(port), "--listen-address", "127.0.0.1"],
        tmp_path / "system-exporter.log",
        f"http://127.0.0.1:{port}/healthz",
        env={"TRADEWATCH_HOST_PROCFS_PATH": str(tmp_path / "no-proc")},
    ).start()
    try:
        exporter.wait_ready(30)
        doctor = Doctor(Endpoints(system_exporter=f"http://127.0.0.1:{port}"), Options(mode="dev"))
        check = doctor.check_ready("system-exporter")
    finally:
        exporter.stop()
    assert check.status == FAIL and "HTTP 503" in check.summary
    assert len(check.details) == 1 and check.details[0].startswith("procfs: cannot read")
    assert "still be starting" in check.advice


def test_a_limit_that_a_rule_needs_is_reported_when_unset(stack) -> None:
    code, report = doctor_json(stack)
    checks = by_key(report)
    assert checks[("limits", "daily loss")]["status"] == "ok"
    budget = checks[("limits", "AI budget")]
    assert budget["status"] == "warn" and "AICostOverBudget can never fire" in budget["summary"]
    assert "TRADEWATCH_AI_MONTHLY_BUDGET_USD" in budget["advice"]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert code == 0, f"an unset limit is a warning, not a failure: {failed}"


def _dev_state(tmp_path: Path, stack, pid: int | None, scenario: str | None = "normal") -> Path:
    log = tmp_path / "logs" / "simulator.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("simulate: error: argument --scenario: invalid choice: 'flashcrash'\n")
    state = {
        "prometheus_url": stack.prometheus_url,
        "pids": {} if pid is None else {"simulator": pid},
        "simulator": None if scenario is None else {"scenario": scenario, "log": str(log)},
    }
    (tmp_path / "stack.json").write_text(json.dumps(state))
    return tmp_path


def test_a_dead_simulator_under_make_dev_fails(stack, tmp_path: Path) -> None:
    """The simulator exited and was never reaped (a zombie): no events will come, the doctor says so."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child.pid}/stat").read_text().split()[2] != "Z":
        time.sleep(0.05)
    try:
        code, report = doctor_json(stack, "--dev-workdir", str(_dev_state(tmp_path, stack, child.pid)))
    finally:
        child.wait()
    sim = by_key(report)[("simulator", "running")]
    assert code == 1 and sim["status"] == "fail", sim
    assert "not running" in sim["summary"] and "invalid choice" in " ".join(sim["details"])
    assert "make dev" in sim["advice"]


def test_a_running_simulator_and_no_simulator_are_fine(stack, tmp_path: Path) -> None:
    _, report = doctor_json(stack, "--dev-workdir", str(_dev_state(tmp_path, stack, os.getpid())))
    assert by_key(report)[("simulator", "running")]["status"] == "ok"
    _, report = doctor_json(stack, "--dev-workdir", str(_dev_state(tmp_path, stack, None, scenario=None)))
    assert by_key(report)[("simulator", "running")]["status"] == "ok"
    _, report = doctor_json(stack, "--dev-workdir", str(tmp_path / "nothing-here"))
    assert ("simulator", "running") not in by_key(report), "no `make dev` recorded: nothing to say"


def test_doctor_help_names_the_real_grafana_default_user() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tradewatch", "doctor", "--help"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(out.split())
    assert "default admin" not in text and "else tradewatch)" in text
