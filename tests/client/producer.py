"""A trading process for kill -9 tests and the bench: emits events at a steady rate for ever and
writes each event_id to stdout (unbuffered) once ``emit`` has returned.

    python producer.py URL SPOOL_DIR|- durable|memory RATE_PER_SECOND
"""

from __future__ import annotations

import os
import sys
import time

from tradewatch.client import TradeWatchClient, logging_setup


def main(argv: list[str]) -> None:
    url, spool, mode, rate = argv[1], argv[2], argv[3], float(argv[4])
    logging_setup("producer", "warning", stream=sys.stderr)  # stdout carries the event_ids
    client = TradeWatchClient(url, spool_dir=None if spool == "-" else spool, durable=mode == "durable")
    os.write(1, b"ready\n")
    period = 1.0 / rate
    next_at = time.monotonic()
    i = 0
    while True:
        event_id = client.order_submitted(f"o-{i}", "BTC-USD", "buy", 1.0, reference_price=100.0)
        os.write(1, event_id.encode() + b"\n")
        i += 1
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main(sys.argv)
