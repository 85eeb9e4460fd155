"""The exporters image installs only pyproject's base dependencies: every ``tradewatch`` command's
``--help`` (and each exporter's ``--check-config``) must work with those alone.

No Docker needed: the CLI runs in a subprocess whose import system refuses every top-level module
that is neither the standard library, ``tradewatch``, nor a distribution the base dependencies
pull in (walked through their metadata, extras excluded). It caught `tradewatch dashboards`
importing grafana-foundation-sdk, a test-only dependency, while building its parser (issue 18).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tradewatch.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
EXPORTERS = ["system-exporter", "trading-exporter", "model-exporter"]

# Runs in the child: refuse any import whose top-level name is not allowed.
GUARD = r"""
import importlib.abc, json, sys
allowed = set(json.loads(sys.argv[1])) | set(sys.stdlib_module_names) | {"tradewatch", "_distutils_hack"}
class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in allowed and not top.startswith("_"):
            raise ModuleNotFoundError(f"No module named {top!r} (not a base dependency)", name=top)
        return None
sys.meta_path.insert(0, Guard())
sys.argv = ["tradewatch", *sys.argv[2:]]
from tradewatch.cli import main
raise SystemExit(main())
"""


def _requirement_name(req: str) -> tuple[str, bool]:
    """Distribution name of a requirement string and whether it applies without extras."""
    name = re.match(r"[A-Za-z0-9._-]+", req).group(0)
    marker = req.partition(";")[2]
    return name, "extra" not in marker


def base_import_names() -> list[str]:
    """Top-level module names of the base dependencies and everything they require (no extras)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [_requirement_name(d)[0] for d in deps]
    seen: set[str] = set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here
        todo += [n for n, unconditional in map(_requirement_name, requires) if unconditional]
    tops = {
        top
        for top, dists in metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", d).lower() in seen for d in dists)
    }
    return sorted(tops)


def run_guarded(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GUARD, json.dumps(base_import_names()), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_guard_refuses_test_only_dependencies() -> None:
    """The guard itself can fail: grafana-foundation-sdk (test extra) is refused."""
    names = base_import_names()
    assert "grafana_foundation_sdk" not in names and "pytest" not in names
    assert {"numpy", "yaml", "prometheus_client", "urllib3"} <= set(names)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            GUARD.replace("from tradewatch.cli import main", "import grafana_foundation_sdk"),
            json.dumps(names),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "not a base dependency" in proc.stderr


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_needs_only_base_dependencies(command: str | None) -> None:
    args = ["--help"] if command is None else [command, "--help"]
    proc = run_guarded(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: tradewatch" in proc.stdout
    if command is None:
        for name in COMMANDS:
            assert name in proc.stdout, f"{name} missing from tradewatch --help"


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_check_config_needs_only_base_dependencies(exporter: str) -> None:
    proc = run_guarded(exporter, "--check-config")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)


def test_dockerfile_smoke_tests_every_command() -> None:
    """The image's build runs every command's --help and each exporter's --check-config."""
    dockerfile = (ROOT / "exporters" / "Dockerfile").read_text()
    smoke = dockerfile[dockerfile.index("USER 10001") :]  # as the runtime user, in the final stage
    assert "from tradewatch.cli import COMMANDS" in smoke and '"$c" --help' in smoke
    assert "--check-config" in smoke
    for exporter in EXPORTERS:
        assert exporter in smoke
