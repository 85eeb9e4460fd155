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

# Subcommand -> module whose ``register(sub)`` adds it. A run imports only the module of the
# command it runs, so an exporter does not carry the others' dependencies (numpy, scipy, requests,
# matplotlib) in its memory; ``tradewatch --help`` imports them all to list them.
COMMANDS: dict[str, str] = {
    "system-exporter": "tradewatch.system.command",
    "trading-exporter": "tradewatch.trading.command",
    "model-exporter": "tradewatch.model.command",
    "simulate": "tradewatch.simulate.command",
    "doctor": "tradewatch.doctor.command",
    "report": "tradewatch.report.command",
    "dev": "tradewatch.devstack.command",
    "dashboards": "tradewatch.dashboards.command",
    "alert": "tradewatch.alerting.command",
    "alerts": "tradewatch.alerting.command",
    "trail": "tradewatch.trail.command",
}
COMMAND_MODULES: list[str] = list(dict.fromkeys(COMMANDS.values()))


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
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("TRADEWATCH_CONFIG"),
        help="YAML config file (env TRADEWATCH_CONFIG). Optional: defaults work.",
    )
    parser.add_argument("--listen-address", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="PORT", help="port to bind")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    parser.add_argument(
        "--check-config", action="store_true", help="validate the configuration, print it (secrets masked) and exit"
    )
    parser.add_argument(
        "--print-settings",
        action="store_true",
        help="print every setting with its environment variable and default, as Markdown",
    )

    def run(args: argparse.Namespace) -> int:
        from tradewatch.core.app import bootstrap

        if args.print_settings:
            print(cfg.SettingsDoc.of(settings()).markdown())
            return 0
        overrides = {"http.listen_address": args.listen_address, "http.port": args.port, "log.level": args.log_level}
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
        try:
            exporter = build(config)
        except cfg.ConfigError as exc:  # found while building (the journal directory, a token file)
            print(f"tradewatch {name}: {exc}", file=sys.stderr)
            return 2
        return exporter.run()

    parser.set_defaults(func=run)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser; with ``command``, only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="tradewatch",
        description="TradeWatch: metrics, alerts and dashboards for algorithmic and AI-driven trading.",
        epilog="Run 'tradewatch COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"tradewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("tradewatch"):
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a reader gone away shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `tradewatch ... | head`: the reader closed the pipe, which is not an error of ours. Point
        # stdout at /dev/null so the interpreter's last flush cannot raise again, and exit like a
        # program killed by SIGPIPE would (128 + 13), without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
