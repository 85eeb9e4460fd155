"""`python -m tradewatch.dashboards`: same as `tradewatch dashboards`."""

from __future__ import annotations

import argparse
import sys

from tradewatch.dashboards.command import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tradewatch.dashboards")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
