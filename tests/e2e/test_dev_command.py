"""`tradewatch dev`: the foreground stack starts, shows its ports, and Ctrl-C stops every child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import require_binary

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_render_check_reports_committed_files_current():
    res = subprocess.run(
        [sys.executable, "-m", "tradewatch", "dev", "render", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def _children_of(workdir: Path) -> list[int]:
    """PIDs of the processes the stack started: each has TRADEWATCH_DEVSTACK_DIR=<work dir>."""
    marker = f"TRADEWATCH_DEVSTACK_DIR={workdir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_dev_runs_in_the_foreground_and_ctrl_c_stops_everything(tmp_path):
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    workdir = tmp_path / "dev"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradewatch",
            "dev",
            "--random-ports",
            "--test-mode",
            "--scenario",
            "none",
            "--workdir",
            str(workdir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Work dir" in line:
                break
        out = "".join(lines)
        assert "dev stack is up" in out, out
        for name in (
            "Prometheus",
            "Alertmanager",
            "system-exporter",
            "trading-exporter",
            "model-exporter",
            "Slack stand-in",
            "SMTP catcher",
        ):
            assert name in out
        assert len(_children_of(workdir)) == 5  # Prometheus, Alertmanager, three exporters
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    assert _children_of(workdir) == [], "children left running after Ctrl-C"


def _start_dev(workdir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradewatch", "dev", "--random-ports", "--test-mode", "--workdir", str(workdir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Work dir" in line:
            break
    return proc, "".join(lines)


def _read_until(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    out, deadline = "", time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            line = proc.stdout.readline()
            if not line:
                break
            out += line
    return out


def _url(out: str, name: str) -> str:
    import re

    return re.search(rf"^\s+{re.escape(name)}\s+(http://\S+)", out, re.M).group(1)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)


def test_dead_simulator_is_reported_runbooks_resolve_and_fresh_start_is_said(tmp_path):
    """A simulator that dies at start (here: an invalid TRADEWATCH_SIM_SEED) is reported by `tradewatch dev`
    and by the doctor; the runbook link of every alert resolves on the stack's own page; a second run
    says it continues from the first one's state, and --fresh says what it removed."""
    import json

    import requests

    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    workdir = tmp_path / "dev"
    proc, out = _start_dev(workdir, "--scenario", "normal", env={"TRADEWATCH_SIM_SEED": "not-a-number"})
    try:
        assert "First start in" in out and "dev stack is up" in out, out
        out += _read_until(proc, "simulator exited", 30)
        assert "the simulator exited with status 1" in out, out
        prometheus, slack = _url(out, "Prometheus"), _url(out, "Slack stand-in")
        assert json.loads((workdir / "stack.json").read_text())["prometheus_url"] == prometheus

        rules = requests.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        links = {r["annotations"]["runbook_url"] for g in rules for r in g["rules"] if r["type"] == "alerting"}
        assert len(links) >= 30 and all(link.startswith(f"{slack}/docs/runbooks/") for link in links), links
        for link in sorted(links):
            assert requests.get(link, timeout=5).status_code == 200, link
        assert requests.get(slack, timeout=5).status_code == 200

        argv = [
            sys.executable,
            "-m",
            "tradewatch",
            "doctor",
            "--json",
            "--dev-workdir",
            str(workdir),
            "--prometheus-url",
            prometheus,
            "--alertmanager-url",
            _url(out, "Alertmanager"),
            *[a for e in ("system", "trading", "model") for a in (f"--{e}-exporter-url", _url(out, f"{e}-exporter"))],
        ]
        report = json.loads(subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout)
        sim = {(c["component"], c["name"]): c for c in report["checks"]}[("simulator", "running")]
        assert sim["status"] == "fail" and "not running" in sim["summary"], sim
    finally:
        _stop(proc)
    assert not (workdir / "stack.json").exists()

    proc, out = _start_dev(workdir, "--scenario", "none")
    _stop(proc)
    assert "Continuing from the earlier run's state" in out and "make dev-clean" in out, out
    proc, out = _start_dev(workdir, "--scenario", "none", "--fresh")
    _stop(proc)
    assert "Fresh start: removed" in out and "prometheus" in out, out


def test_readme_client_example_pages_nobody(tmp_path, monkeypatch):
    """The README's client example, unchanged, against a live stack with no simulator: with every
    `for` capped at 5 s it raises no trading, model or data alert (host alerts depend on this
    machine and are not the example's)."""
    import re

    from tradewatch.devstack.testing import live_stack

    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "TradeWatchClient" in b]
    with live_stack(scenarios=(), warmup_seconds=0) as stack:
        monkeypatch.setenv("TRADEWATCH_TRADING_URL", stack.exporter_url("trading"))
        monkeypatch.setenv("TRADEWATCH_MODEL_URL", stack.exporter_url("model"))
        monkeypatch.setenv("HOME", str(tmp_path))
        exec(compile(block, "README.md", "exec"), {})
        stack.wait_for('tradewatch_trading_equity{account="readme-demo"}', timeout=30)
        time.sleep(15)  # 1 s evaluation, `for` capped at 5 s: anything the example causes is firing now
        raised = [
            (a["labels"]["alertname"], a["state"])
            for a in stack.prometheus_alerts()
            if a["labels"].get("team") in ("trading", "ml", "data")
        ]
        assert raised == [], raised
        assert stack.query('tradewatch_trading_equity{account="default"}') == []
