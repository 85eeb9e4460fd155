"""Shared fixtures. Component-specific fixtures live next to their tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.scheduling import spread_over_workers

ROOT = Path(__file__).resolve().parents[1]


def require_binary(name: str) -> str:
    """Path of a Debian tool the test needs; skip with the reason when it is absent."""
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (make test installs it when run as root)")
    return path


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.hookimpl(tryfirst=True)  # the order xdist hands files out in
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    spread_over_workers(items)
