"""``tradewatch doctor``: check a running TradeWatch stack and say what to fix.

Where to look comes from flags, then ``TRADEWATCH_DOCTOR_<SERVICE>_URL`` variables, then the port
variables of ``.env`` (so a stack moved to other ports is found), then the documented loopback
ports. Exit status: 0 healthy (warnings allowed), 1 something failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tradewatch.doctor.checks import ABSENT, FAIL, OK, SKIP, WARN, Check, Doctor, Endpoints, Options, Report

# component -> (.env port variable, default port)
PORT_VARIABLES = {
    "prometheus": ("PROMETHEUS_PORT", 9090),
    "alertmanager": ("ALERTMANAGER_PORT", 9093),
    "grafana": ("GRAFANA_PORT", 3000),
    "loki": ("LOKI_PORT", 3100),
    "alloy": ("ALLOY_PORT", 12345),
    "system-exporter": ("SYSTEM_EXPORTER_PORT", 9811),
    "trading-exporter": ("TRADING_EXPORTER_PORT", 9812),
    "model-exporter": ("MODEL_EXPORTER_PORT", 9813),
}
COLOURS = {OK: "32", WARN: "33", FAIL: "1;31", ABSENT: "36", SKIP: "2"}
LABELS = {OK: "OK", WARN: "WARN", FAIL: "FAIL", ABSENT: "ABSENT", SKIP: "SKIP"}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a Compose .env file; a missing file is empty."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def default_endpoints(dotenv: dict[str, str], environ: dict[str, str]) -> Endpoints:
    host = dotenv.get("TRADEWATCH_BIND_ADDRESS") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    urls = {}
    for component, (variable, port) in PORT_VARIABLES.items():
        env_name = f"TRADEWATCH_DOCTOR_{component.replace('-', '_').upper()}_URL"
        port = dotenv.get(variable) or port
        urls[component.replace("-", "_")] = environ.get(env_name) or f"http://{host}:{port}"
    smtp = environ.get("TRADEWATCH_DOCTOR_SMTP") or f"{host}:{dotenv.get('MAILPIT_SMTP_PORT') or 1025}"
    return Endpoints(**urls, smtp=smtp)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check a running stack (compose or make dev) and say what to fix",
        description="Check that every service of a running TradeWatch stack answers and is ready, that "
        "Prometheus scrapes its targets and evaluates its rules, that Alertmanager has receivers and the "
        "mail catcher answers, that Grafana's datasources work, that Loki receives logs and that events "
        "arrive. Grafana, Loki and Alloy are reported ABSENT (not failed) for `make dev`, which does not "
        "run them.\n\nAddresses: flags, then TRADEWATCH_DOCTOR_<SERVICE>_URL (e.g. "
        "TRADEWATCH_DOCTOR_PROMETHEUS_URL), then the ports in .env, then the documented loopback ports.\n"
        "Exit status: 0 healthy (warnings allowed), 1 something failed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "compose", "dev"],
        default=os.environ.get("TRADEWATCH_DOCTOR_MODE", "auto"),
        help="which stack to expect (default auto: compose when Grafana, Loki or Alloy answers, else dev)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        help="compose .env with ports and the Grafana password (default ./.env, optional)",
    )
    for component in PORT_VARIABLES:
        parser.add_argument(f"--{component}-url", metavar="URL", help=f"base URL of {component}")
    parser.add_argument("--smtp", metavar="HOST:PORT", help="mail catcher's SMTP (default 127.0.0.1:1025)")
    parser.add_argument(
        "--grafana-user",
        help="Grafana user for the datasource checks (default: "
        "GRAFANA_ADMIN_USER, environment or .env, else tradewatch)",
    )
    parser.add_argument(
        "--dev-workdir",
        type=Path,
        default=Path(os.environ.get("TRADEWATCH_DEV_WORKDIR") or ".dev"),
        metavar="DIR",
        help="work dir of `make dev` (default ./.dev): whether its simulator still runs",
    )
    parser.add_argument(
        "--grafana-password", help="Grafana password (default: GRAFANA_ADMIN_PASSWORD, environment or .env)"
    )
    parser.add_argument(
        "--max-event-age",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="the last trading event may be this old (default 300)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS", help="per request (default 3)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    colour = parser.add_mutually_exclusive_group()
    colour.add_argument(
        "--color",
        "--colour",
        dest="color",
        action="store_true",
        default=None,
        help="colour the report even when stdout is not a terminal",
    )
    colour.add_argument("--no-color", "--no-colour", dest="color", action="store_false", help="never colour the report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    dotenv = read_env_file(args.env_file)
    endpoints = default_endpoints(dotenv, environ)
    for component in PORT_VARIABLES:
        value = getattr(args, f"{component.replace('-', '_')}_url")
        if value:
            setattr(endpoints, component.replace("-", "_"), value)
    if args.smtp:
        endpoints.smtp = args.smtp

    def setting(flag: str | None, name: str, default: str) -> str:
        return flag or environ.get(name) or dotenv.get(name) or default

    options = Options(
        mode=args.mode,
        timeout=args.timeout,
        max_event_age=args.max_event_age,
        grafana_user=setting(args.grafana_user, "GRAFANA_ADMIN_USER", "tradewatch"),
        grafana_password=setting(args.grafana_password, "GRAFANA_ADMIN_PASSWORD", ""),
        dev_workdir=args.dev_workdir,
    )
    report = Doctor(endpoints, options).run()
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        colour = args.color if args.color is not None else (sys.stdout.isatty() and "NO_COLOR" not in environ)
        render(report, sys.stdout, colour=colour)
    return 1 if report.failed else 0


def render(report: Report, out: IO[str], *, colour: bool) -> None:
    def paint(text: str, status: str) -> str:
        return f"\033[{COLOURS[status]}m{text}\033[0m" if colour else text

    how = "detected" if report.mode_detected else "as asked"
    stack = "compose stack" if report.mode == "compose" else "make dev stack"
    out.write(f"TradeWatch doctor: {stack} ({how})\n")
    if report.nothing_answers:
        out.write(
            paint(
                "Nothing answers on the expected ports: start the stack (make up, or make dev) or "
                "give the addresses (--prometheus-url ..., see --help).",
                FAIL,
            )
            + "\n"
        )
    components = list(dict.fromkeys(check.component for check in report.checks))
    for component in components:
        out.write(f"\n{component}\n")
        for check in (c for c in report.checks if c.component == component):
            _render_check(check, out, paint)
    counts = report.counts()
    verdict = paint("problems found: fix the FAIL lines above", FAIL) if report.failed else paint("healthy", OK)
    out.write(
        f"\n{counts[OK]} ok, {counts[WARN]} warnings, {counts[FAIL]} failed, {counts[ABSENT]} absent, "
        f"{counts[SKIP]} skipped: {verdict}\n"
    )


def _render_check(check: Check, out: IO[str], paint: Callable[[str, str], str]) -> None:
    out.write(f"  {paint(f'{LABELS[check.status]:<6}', check.status)}  {check.name:<14} {check.summary}\n")
    for detail in check.details:
        out.write(f"          {'':<14} - {detail}\n")
    if check.advice and check.status in (FAIL, WARN):
        out.write(f"          {'':<14} {paint('fix:', check.status)} {check.advice}\n")
