"""The `tradewatch dashboards` subcommand: regenerate (or check) the Grafana files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradewatch.dashboards import DEFAULT_RUNBOOK_BASE
from tradewatch.dashboards.thresholds import REPO_ROOT, THRESHOLDS_FILE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=REPO_ROOT,
        help="repository root to write grafana/ under (default: this checkout)",
    )
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=THRESHOLDS_FILE,
        help="alert thresholds file used for panel threshold lines",
    )
    parser.add_argument(
        "--runbook-base",
        default=DEFAULT_RUNBOOK_BASE,
        help="URL prefix of docs/runbooks/ used in panel and alert links",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 and list the files that would change"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradewatch.dashboards.build import context, write

    changed = write(args.root, context(args.thresholds, args.runbook_base), check=args.check)
    for rel in changed:
        print(f"{'differs' if args.check else 'wrote'}: {rel}")
    if args.check and changed:
        print("generated Grafana files are stale: run `tradewatch dashboards`", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "dashboards", help="generate the Grafana dashboards and log alert rules", description=__doc__
    )
    add_arguments(parser)
