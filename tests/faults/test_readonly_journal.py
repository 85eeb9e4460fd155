"""A journal directory the exporter cannot write: one clear line naming the path and the fix, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def unwritable_dir(tmp_path):
    """A read-only tmpfs when root (root ignores permission bits), else a directory without write bits."""
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)], capture_output=True, text=True
        )
        if done.returncode:
            pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
        return target, lambda: subprocess.run(["umount", "-l", str(target)], check=False)
    target.chmod(0o500)
    return target, lambda: target.chmod(0o700)


@pytest.mark.parametrize("command", ["trading-exporter", "model-exporter"])
def test_read_only_journal_directory_is_one_clear_line(tmp_path, command):
    target, cleanup = unwritable_dir(tmp_path)
    try:
        env = {**os.environ, "TRADEWATCH_JOURNAL_PATH": str(target / "journal"), "TRADEWATCH_HTTP_PORT": "0"}
        done = subprocess.run(
            [sys.executable, "-m", "tradewatch.cli", command], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        cleanup()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    problem = [line for line in done.stderr.splitlines() if line.startswith(f"tradewatch {command}:")]
    assert len(problem) == 1, done.stderr
    line = problem[0]
    assert str(target / "journal") in line
    assert "Read-only file system" in line or "Permission denied" in line
    assert "TRADEWATCH_JOURNAL_PATH" in line and "writable" in line
