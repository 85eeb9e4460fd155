"""The ``tradewatch`` command line.

Each exporter registers a subcommand through :func:`exporter_command`, which gives all of them
the same flags (--config, --listen-address, --port, --log-level, --check-config,
--print-settings). Other tools (simulate, doctor, report) add their own parsers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tradewatch import __version__
from tradewatch.core import config as cfg

# (module, function) pairs that add subcommands; imported lazily so a missing optional
# dependency of one command never breaks the others.
COMMAND_MODULES: list[str] = [
    "tradewatch.system.command",
    "tradewatch.trading.command",
    "tradewatch.model.command",
    "tradewatch.simulate.command",
    "tradewatch.doctor.command",
    "tradewatch.report.command",
    "tradewatch.devstack.command",
    "tradewatch.dashboards.command",
]


def exporter_command(
    sub: argparse._SubParsersAction,
    name: str,
    help_text: str,
    description: str,
    settings: Callable[[], list[cfg.Setting]],
    build: Callable[[cfg.Config], Any],
) -> None:
    """Add an exporter subcommand that loads settings, builds the exporter and runs it."""
    parser = sub.add_parser(
        name,
        help=help_text,
        description=description + "\n\nEvery setting can come from the YAML file given with --config "
        "or from its environment variable (see --print-settings); flags win over both.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", default=os.environ.get("TRADEWATCH_CONFIG"),
                        help="YAML config file (env TRADEWATCH_CONFIG). Optional: defaults work.")
    parser.add_argument("--listen-address", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="PORT", help="port to bind")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the configuration, print it (secrets masked) and exit")
    parser.add_argument("--print-settings", action="store_true",
                        help="print every setting with its environment variable and default, as Markdown")

    def run(args: argparse.Namespace) -> int:
        from tradewatch.core.app import bootstrap

        if args.print_settings:
            print(cfg.SettingsDoc.of(settings()).markdown())
            return 0
        overrides = {"http.listen_address": args.listen_address, "http.port": args.port,
                     "log.level": args.log_level}
        if args.check_config:
            try:
                loaded = cfg.load(settings(), args.config, overrides=overrides)
            except cfg.ConfigError as exc:
                print(f"tradewatch {name}: {exc}", file=sys.stderr)
                return 2
            import json

            print(json.dumps(loaded.public(), indent=2, default=str))
            return 0
        config = bootstrap(name, settings(), args.config, overrides)
        exporter = build(config)
        return exporter.run()

    parser.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradewatch",
        description="TradeWatch: metrics, alerts and dashboards for algorithmic and AI-driven trading.",
        epilog="Run 'tradewatch COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"tradewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("tradewatch"):
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
