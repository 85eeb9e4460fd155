"""The first hour of a new user: what the CLI prints, what git ignores, what `tradewatch dev` refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tradewatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradewatch", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["trading-exporter", "--check-config"],
        ["model-exporter", "--print-settings"],
        ["simulate", "--help"],
    ],
)
def test_output_into_a_closed_pipe_is_no_traceback(argv: list[str]) -> None:
    """`tradewatch ... | head`: the reader goes away before the output is written; no BrokenPipeError traceback."""
    cmd = subprocess.list2cmdline([sys.executable, "-m", "tradewatch", *argv])
    res = subprocess.run(f"{cmd} | true", shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr
