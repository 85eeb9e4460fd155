"""exporters/Dockerfile: pinned base, non-root, entrypoint, and a HEALTHCHECK that really works.

No Docker engine runs here, so the image is checked statically, and the healthcheck command is
run against a live exporter; the build itself runs only where `docker info` answers.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import localservers
import pytest

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "exporters" / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_base_image_is_a_pinned_slim_python():
    steps = instructions()
    (arg,) = [rest for word, rest in steps if word == "ARG" and rest.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", arg)
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and all(f.startswith("${PYTHON_IMAGE}") for f in froms), "multi-stage, same base"


def test_runtime_stage_runs_the_cli_as_a_fixed_non_root_user():
    stage = final_stage()
    assert ("USER", "10001:10001") in stage
    assert ("ENTRYPOINT", '["tradewatch"]') in stage and ("CMD", '["--help"]') in stage
    env = " ".join(rest for word, rest in stage if word == "ENV")
    assert "TRADEWATCH_HTTP_LISTEN_ADDRESS=0.0.0.0" in env
    assert not any(word == "RUN" and "pip install" in rest for word, rest in stage), "no pip in runtime"


def healthcheck_command() -> list[str]:
    (rest,) = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    return json.loads(rest[rest.index("CMD") + 3 :].strip())


def test_healthcheck_passes_against_a_live_exporter_and_fails_without_one():
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    exporter = Exporter("probe-target", cfg.load(common_settings(0), None, environ={}))
    port = exporter.start()
    try:
        env = {**os.environ, "TRADEWATCH_HTTP_PORT": str(port)}
        ok = subprocess.run([sys.executable, "-c", command[2]], env=env, timeout=30, capture_output=True)
        assert ok.returncode == 0, ok.stderr
    finally:
        exporter.stop()
    env = {**os.environ, "TRADEWATCH_HTTP_PORT": str(localservers.closed_port())}
    down = subprocess.run([sys.executable, "-c", command[2]], env=env, timeout=30, capture_output=True)
    assert down.returncode == 1


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(path, pat) or (path.startswith(pat + "/") and pat != "*"):
            ignored = not negate
    return ignored


def test_dockerignore_sends_only_what_the_build_copies():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [rest.split()[:-1] for word, rest in instructions() if word == "COPY" and "--from" not in rest]
    sources = [src for srcs in copied for src in srcs]
    assert sources == ["pyproject.toml", "README.md", "exporters"]
    for src in sources:
        assert (ROOT / src).exists() and not _ignored(src, patterns), src
    kept_out = (
        ".env",
        "secrets/slack_webhook_url",
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "exporters/tradewatch/__pycache__",
    )
    for secret in kept_out:
        assert _ignored(secret, patterns), secret


def test_image_builds_where_an_engine_runs():
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode != 0:
        pytest.skip("no Docker engine answers here; the Dockerfile is checked statically above")
    result = subprocess.run(
        [docker, "build", "-q", "-f", "exporters/Dockerfile", "-t", "tradewatch/exporters:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
