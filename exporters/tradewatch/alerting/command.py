"""``tradewatch alert test`` and ``tradewatch alerts``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tradewatch.alerting import amapi

SEVERITIES = ("critical", "warning", "info")
TEAMS = ("trading", "ml", "data", "platform")


def _url(value: str | None, env: str, default: str) -> str:
    return (value or os.environ.get(env) or default).rstrip("/")


def _duration(text: str) -> float:
    from tradewatch.devstack.render import duration_seconds

    try:
        seconds = float(duration_seconds(text))
    except (ValueError, KeyError) as exc:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30m, 24h, 7d)") from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the period must be positive")
    return seconds


def _am_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--alertmanager-url",
        metavar="URL",
        help="Alertmanager (env TRADEWATCH_ALERTMANAGER_URL; default http://127.0.0.1:9093)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    alert = sub.add_parser("alert", help="send a test alert through Alertmanager and report each receiver")
    alert_sub = alert.add_subparsers(dest="alert_command", metavar="ACTION")
    test = alert_sub.add_parser(
        "test",
        help="send a synthetic alert labelled as a test to every receiver it routes to",
        description='Send a synthetic alert (alertname TradeWatchTestAlert, label tradewatch_test="true": every '
        "message starts with [TEST]) to Alertmanager's API, work out from its loaded routing tree which "
        "receivers and integrations it goes to, wait until Alertmanager's notification counters show each "
        "delivered or failed, then resolve it. Exit status 0 when every integration delivered, 1 otherwise. "
        "Grafana's contact points are not exercised (use their Test button in Grafana).",
    )
    test.add_argument("--severity", choices=SEVERITIES, default="critical", help="default critical (pages)")
    test.add_argument("--team", choices=TEAMS, default="platform", help="default platform")
    test.add_argument(
        "--timeout", type=float, help="seconds to wait for deliveries (default: the route's group_wait + 30)"
    )
    test.add_argument(
        "--wait-resolved",
        action="store_true",
        help="also wait for the resolved notices (up to the route's group_interval + 30 s)",
    )
    test.add_argument("--json", action="store_true", help="print the result as JSON")
    _am_arg(test)
    test.set_defaults(func=_run_test)
    alert.set_defaults(func=lambda args: alert.print_help() or 2)

    alerts = sub.add_parser(
        "alerts",
        help="what is firing now and what fired in a period, with counts and durations",
        description="Firing now: Alertmanager's API (active, silenced or inhibited). Fired in the period: "
        'Prometheus\' ALERTS{alertstate="firing"} series, one firing episode per run of samples, counted '
        "and timed per alert name.",
    )
    alerts.add_argument("--since", type=_duration, default=_duration("24h"), help="period (default 24h)")
    alerts.add_argument(
        "--prometheus-url", metavar="URL", help="env TRADEWATCH_PROMETHEUS_URL; default http://127.0.0.1:9090"
    )
    _am_arg(alerts)
    alerts.add_argument("--json", action="store_true", help="print the report as JSON")
    alerts.set_defaults(func=_run_alerts)


def _run_test(args: argparse.Namespace) -> int:
    from tradewatch.alerting import testalert

    am = _url(args.alertmanager_url, "TRADEWATCH_ALERTMANAGER_URL", "http://127.0.0.1:9093")
    try:
        result = testalert.run(am, args.severity, args.team, timeout=args.timeout, wait_resolved=args.wait_resolved)
    except amapi.ApiError as exc:
        print(f"tradewatch alert test: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_json(), indent=2) if args.json else testalert.render_text(result))
    return 0 if result.ok else 1


def _run_alerts(args: argparse.Namespace) -> int:
    from tradewatch.alerting import history

    am = _url(args.alertmanager_url, "TRADEWATCH_ALERTMANAGER_URL", "http://127.0.0.1:9093")
    prom = _url(args.prometheus_url, "TRADEWATCH_PROMETHEUS_URL", "http://127.0.0.1:9090")
    report = history.build(am, prom, args.since)
    print(json.dumps(report.as_json(), indent=2) if args.json else history.render_text(report))
    return 1 if len(report.errors) == 2 else 0
