"""``tradewatch report``: render a daily or weekly report now, or run the report schedule.

matplotlib is imported only when a report is rendered, so the rest of the CLI works in an image
installed without the ``report`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tradewatch.core import config as cfg
from tradewatch.core import logging as twlog
from tradewatch.report.settings import settings

log = twlog.get_logger("tradewatch.report")

HEARTBEAT_FILE = ".scheduler-heartbeat"  # touched every 30 s by --schedule; the healthcheck reads its age
EXIT_OK, EXIT_REPORT_FAILED, EXIT_CONFIG, EXIT_DELIVERY_FAILED = 0, 1, 2, 3


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="render a daily/weekly desk report from Prometheus (HTML + PNG + JSON), optionally e-mail it",
        description="Query Prometheus over a period and render a report: equity and drawdown, P&L, win "
        "rate, profit factor, Sharpe/Sortino, execution quality, risk events, alerts, model accuracy and "
        "drift, AI spend, data freshness, system health. With --schedule, run the configured reports at "
        "their times (what the report-scheduler service runs).\n\nEvery setting can come from the YAML "
        "file given with --config or from its environment variable (see --print-settings).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--period", choices=["daily", "weekly"], help="report period (default daily)")
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="end of the period: YYYY-MM-DD (that whole local day, or the week ending it) "
        "or YYYY-MM-DDTHH:MM[+HH:MM]; default now",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write report.html, report.json and the PNGs here (default: <report.out_dir>/<name>-<end time>)",
    )
    parser.add_argument("--email", action="store_true", help="also e-mail the report (smtp.* settings)")
    parser.add_argument(
        "--to", metavar="ADDR[,ADDR]", help="recipients (default: the configured report's, else smtp.to)"
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="configured report to take recipients, subject and "
        "time zone from (default: the first one with this period)",
    )
    parser.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL (prometheus.url)")
    parser.add_argument("--timezone", metavar="TZ", help="time zone of the report (report.timezone)")
    parser.add_argument("--schedule", action="store_true", help="run the configured reports forever")
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("TRADEWATCH_CONFIG"),
        help="YAML config file (env TRADEWATCH_CONFIG)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--print-settings", action="store_true", help="print every setting as Markdown")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.print_settings:
        print(cfg.SettingsDoc.of(settings()).markdown())
        return EXIT_OK
    overrides = {
        "prometheus.url": args.prometheus_url,
        "report.timezone": args.timezone,
        "log.level": args.log_level,
    }
    try:
        config = cfg.load(settings(), args.config, overrides=overrides)
    except cfg.ConfigError as exc:
        print(f"tradewatch report: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        import json

        print(json.dumps(config.public(), indent=2, default=str))
        return EXIT_OK
    twlog.setup("report", config["log.level"])
    if args.schedule:
        return run_schedule(config)
    kind = args.period or "daily"
    entry = _entry(config, args.name, kind)
    if args.to:
        entry["recipients"] = [a.strip() for a in args.to.split(",") if a.strip()]
    try:
        return run_once(config, entry, at=args.at, out=args.out, email=args.email)
    except ValueError as exc:  # bad --at
        print(f"tradewatch report: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _entry(config: cfg.Config, name: str | None, kind: str) -> dict[str, Any]:
    for e in config["reports"]:
        if (name and e["name"] == name) or (not name and e["period"] == kind):
            return {**e, "period": kind}
    return {
        "name": name or kind,
        "period": kind,
        "at": "07:00",
        "weekday": "monday",
        "timezone": None,
        "recipients": [],
        "subject": "",
        "enabled": True,
    }


def run_once(
    config: cfg.Config,
    entry: dict[str, Any],
    *,
    at: str | None,
    out: str | None,
    email: bool,
    end: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Render one report (retrying while Prometheus is unreachable in scheduled runs), write it, mail it."""
    from tradewatch.report import mailer, render
    from tradewatch.report.period import resolve
    from tradewatch.report.query import Prometheus, PrometheusError
    from tradewatch.report.sections import Options

    kind = entry["period"]
    tz = entry.get("timezone") or config["report.timezone"]
    if end is not None:
        at = datetime.fromtimestamp(end).astimezone().isoformat()
    period = resolve(
        kind, at, tz, chart_step=config[f"report.chart_step.{kind}"], resolution=config["report.resolution"]
    )
    prom = Prometheus(
        config["prometheus.url"],
        timeout=config["prometheus.timeout"],
        bearer_token_file=config["prometheus.bearer_token_file"],
    )
    options = Options(
        exporters=config["report.exporters"],
        stale_market_data=config["report.stale_market_data"],
        stale_heartbeat=config["report.stale_heartbeat"],
        drift_psi_major=config["report.drift_psi_major"],
        ignore_alerts=tuple(config["report.ignore_alerts"]),
    )
    attempts = 1 + (config["report.retries"] if stop is not None else 0)
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            report = render.build(prom, period, options, name=entry["name"])
            break
        except PrometheusError as exc:
            log.error("report failed", report=entry["name"], attempt=attempt, attempts=attempts, error=str(exc))
            if attempt == attempts or (stop is not None and stop.wait(config["report.retry_delay"])):
                print(f"tradewatch report: {exc}", file=sys.stderr)
                return EXIT_REPORT_FAILED
    stamp = datetime.fromtimestamp(period.end, period.tz).strftime("%Y%m%d-%H%M")
    directory = Path(out) if out else Path(config["report.out_dir"]) / f"{entry['name']}-{stamp}"
    paths = report.write(directory)
    log.info(
        "report written",
        report=entry["name"],
        period=period.label(),
        directory=str(directory),
        charts=len(report.images),
        queries=prom.queries,
        seconds=round(time.monotonic() - started, 2),
    )
    print(paths["html"])
    if not email:
        return EXIT_OK
    smtp = mailer.SMTPSettings.from_config(config)
    recipients = entry.get("recipients") or smtp.default_to
    if not smtp.host or not recipients or not smtp.sender:
        log.error(
            "report e-mail not sent: smtp.host, smtp.from and recipients are required",
            report=entry["name"],
            host=smtp.host,
            sender=smtp.sender,
            recipients=len(recipients),
        )
        return EXIT_DELIVERY_FAILED
    msg = mailer.build_message(report, smtp.sender, recipients, entry.get("subject") or "")
    try:
        mailer.send(
            msg,
            smtp,
            save_failed=directory / "undelivered.eml",
            sleep=(lambda s: stop.wait(s)) if stop is not None else time.sleep,
        )
    except mailer.DeliveryError as exc:
        print(f"tradewatch report: {exc}", file=sys.stderr)
        return EXIT_DELIVERY_FAILED
    return EXIT_OK


def run_schedule(config: cfg.Config) -> int:
    from tradewatch.core.app import stop_on_signals
    from tradewatch.report.schedule import Scheduler

    stop = stop_on_signals("signal received, stopping the scheduler")

    def run(entry: dict[str, Any], due: float) -> None:
        email = bool(entry.get("recipients") or config["smtp.to"])
        if not email:
            log.warning("report has no recipients: written to disk only", report=entry["name"])
        run_once(config, entry, at=None, out=None, email=email, end=due, stop=stop)

    log.info(
        "report scheduler started",
        reports=[e["name"] for e in config["reports"] if e["enabled"]],
        prometheus=config["prometheus.url"],
        out_dir=config["report.out_dir"],
    )
    heartbeat = Path(config["report.out_dir"]) / HEARTBEAT_FILE
    Scheduler(config["reports"], config["report.timezone"], run, stop=stop, heartbeat=heartbeat).run_forever()
    return EXIT_OK
