"""Fixtures for the client tests; the receiver itself is in client_receiver.py."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from client_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def log_stream() -> Iterator[io.BytesIO]:
    """The project's JSON logging, captured."""
    from tradewatch.core import logging as core_logging

    stream = io.BytesIO()
    core_logging.setup("test", "debug", stream=stream)
    yield stream
    core_logging.setup("test", "info", stream=io.BytesIO())


