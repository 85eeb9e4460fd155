"""``tradewatch trail CORRELATION_ID``: an order's story from the journals and the logs.

Prints the decision and its stages, submission, acknowledgement, fills (latency since submission
and slippage), the closing trade, the prediction's outcome, and any rejection or error for one
correlation ID, in event-time order; log lines carrying the ID come from ``--log-file`` and, with
``--loki-url``, from Loki. ``--json`` gives the same as one JSON object. Exit status: 0 found,
1 nothing found, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tradewatch.core.correlation import is_valid
from tradewatch.core.ingest import default_journal_path


def _default_journals() -> list[str]:
    env = os.environ.get("TRADEWATCH_TRAIL_JOURNALS")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [default_journal_path("trading-journal"), default_journal_path("model-journal")]


def _duration(text: str) -> float:
    from tradewatch.core import config as cfg

    try:
        return float(cfg.duration(0.0)(text))
    except Exception as exc:
        raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 2h, 1d): {text!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "trail",
        help="print one correlation ID's story: decision, order, ack, fills, trade, errors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("correlation_id", metavar="CORRELATION_ID", help="the ID (1-64 of A-Z a-z 0-9 . _ : -)")
    parser.add_argument(
        "--journal",
        action="append",
        metavar="PATH",
        help="journal directory or JSONL file; repeatable (default: the trading and model exporters' "
        "journals, or TRADEWATCH_TRAIL_JOURNALS, paths separated by ':')",
    )
    parser.add_argument("--log-file", action="append", metavar="FILE", default=[], help="JSON log file; repeatable")
    parser.add_argument(
        "--loki-url",
        metavar="URL",
        default=os.environ.get("TRADEWATCH_LOKI_URL"),
        help="Loki to search for the ID's log lines (env TRADEWATCH_LOKI_URL; e.g. http://127.0.0.1:3100)",
    )
    parser.add_argument("--since", type=_duration, default=86400.0, metavar="DURATION", help="Loki look-back (1d)")
    parser.add_argument("--json", action="store_true", help="print the story as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradewatch.trail import story as st

    if not is_valid(args.correlation_id):
        print(f"tradewatch trail: {args.correlation_id!r} is not a correlation ID", file=sys.stderr)
        return 2
    journals = [Path(p) for p in (args.journal or _default_journals())]
    story = st.build(args.correlation_id, journals, [Path(p) for p in args.log_file], args.loki_url, args.since)
    if args.json:
        print(json.dumps(story.as_json(), indent=2, default=str))
    else:
        sys.stdout.write(st.render(story))
    return 0 if story.entries else 1
