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
    res = subprocess.run([sys.executable, "-m", "tradewatch", "dev", "render", "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
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
    proc = subprocess.Popen([sys.executable, "-m", "tradewatch", "dev", "--random-ports", "--test-mode",
                             "--scenario", "none", "--workdir", str(workdir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        for name in ("Prometheus", "Alertmanager", "system-exporter", "trading-exporter", "model-exporter",
                     "Slack stand-in", "SMTP catcher"):
            assert name in out
        assert len(_children_of(workdir)) == 5  # Prometheus, Alertmanager, three exporters
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    assert _children_of(workdir) == [], "children left running after Ctrl-C"
