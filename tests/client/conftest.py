"""Fixtures for the client tests; the receiver itself is in client_receiver.py."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from client_receiver import Receiver, captured_logs


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def log_stream() -> Iterator[io.BytesIO]:
    """The project's JSON logging, captured."""
    with captured_logs() as stream:
        yield stream
