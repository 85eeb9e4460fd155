"""Settings of ``tradewatch report``: Prometheus, SMTP (shared with alerting) and the reports."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewatch.core import config as cfg

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def timezone() -> cfg.Parser:
    def parse(value: Any) -> str:
        name = str(value).strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise cfg.Invalid(f"expected an IANA time zone such as UTC or Europe/London, got {value!r}") from None
        return name

    return parse


def hhmm() -> cfg.Parser:
    def parse(value: Any) -> str:
        # YAML 1.1 reads an unquoted 07:30 as the sexagesimal integer 450.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            value = f"{value // 60:02d}:{value % 60:02d}"
        text = str(value).strip()
        if not _HHMM.match(text):
            raise cfg.Invalid(f"expected a time of day HH:MM (24 h), got {value!r}")
        return text

    return parse


def _check_report(entry: dict[str, Any]) -> None:
    if entry["period"] == "weekly" and not entry["weekday"]:
        raise cfg.Invalid("a weekly report needs a weekday")


REPORT = cfg.Record(
    {
        "name": (cfg.string(allow_empty=False, pattern=r"[A-Za-z0-9_.-]+"), None, True),
        "period": (cfg.choice("daily", "weekly"), None, True),
        "at": (hhmm(), "07:00", False),
        "weekday": (cfg.choice(*WEEKDAYS), "monday", False),
        "timezone": (timezone(), None, False),
        "recipients": (cfg.csv_list(), [], False),
        "subject": (cfg.string(), "", False),
        "enabled": (cfg.boolean(), True, False),
    },
    check=_check_report,
)

DEFAULT_REPORTS = [  # parsed, so defaults carry every field like configured entries
    {"name": "daily", "period": "daily", "at": "07:00"},
    {"name": "weekly", "period": "weekly", "weekday": "monday", "at": "07:30"},
]
DEFAULT_REPORTS = [REPORT(entry) for entry in DEFAULT_REPORTS]


def settings() -> list[cfg.Setting]:
    return [
        cfg.Setting(
            "prometheus.url",
            cfg.string(allow_empty=False, pattern=r"https?://.+"),
            "http://127.0.0.1:9090",
            "Prometheus base URL the report queries.",
        ),
        cfg.Setting("prometheus.timeout", cfg.duration(0.1), 30.0, "Timeout of one Prometheus query."),
        cfg.Setting(
            "prometheus.bearer_token_file",
            cfg.string(),
            "",
            "File holding a bearer token for Prometheus (empty: no auth).",
        ),
        cfg.Setting(
            "report.timezone",
            timezone(),
            "UTC",
            "Time zone of the report's axes and texts (a report entry may override it).",
        ),
        cfg.Setting(
            "report.out_dir",
            cfg.string(allow_empty=False),
            "reports",
            "Directory reports are written to (one subdirectory per report run).",
        ),
        cfg.Setting(
            "report.resolution",
            cfg.duration(1.0),
            60.0,
            "Window used to find gaps and firing intervals; must be >= the scrape and rule evaluation intervals.",
        ),
        cfg.Setting("report.chart_step.daily", cfg.duration(1.0), 300.0, "Chart resolution of daily reports."),
        cfg.Setting("report.chart_step.weekly", cfg.duration(1.0), 1800.0, "Chart resolution of weekly reports."),
        cfg.Setting(
            "report.exporters",
            cfg.csv_list(),
            ["trading", "model", "system"],
            "Exporters whose coverage is checked (matched against the exporter label of tradewatch_build_info).",
        ),
        cfg.Setting(
            "report.stale_market_data",
            cfg.duration(1.0),
            60.0,
            "Market data older than this counts as a freshness incident.",
        ),
        cfg.Setting(
            "report.stale_heartbeat",
            cfg.duration(1.0),
            120.0,
            "A heartbeat older than this counts as a freshness incident.",
        ),
        cfg.Setting(
            "report.ignore_alerts",
            cfg.csv_list(),
            ["Watchdog", "InfoInhibitor"],
            "Alert names left out of the report (always-firing heartbeats of the alerting pipeline).",
        ),
        cfg.Setting("report.drift_psi_major", cfg.number(0.0), 0.25, "PSI shown as major drift."),
        cfg.Setting(
            "report.retries",
            cfg.integer(0, 20),
            2,
            "Scheduled runs: attempts after a failed report (Prometheus down).",
        ),
        cfg.Setting("report.retry_delay", cfg.duration(0.0), 300.0, "Delay between those attempts."),
        cfg.Setting(
            "reports",
            cfg.list_of(REPORT),
            DEFAULT_REPORTS,
            "Reports and their schedules: name, period (daily|weekly), at (HH:MM), weekday, "
            "timezone, recipients, subject, enabled.",
        ),
        cfg.Setting("smtp.host", cfg.string(), "", "SMTP server (the one Alertmanager uses); empty: no e-mail."),
        cfg.Setting("smtp.port", cfg.integer(1, 65535), 587, "SMTP port."),
        cfg.Setting("smtp.from", cfg.string(), "", "Sender address."),
        cfg.Setting("smtp.to", cfg.csv_list(), [], "Default recipients of reports that list none."),
        cfg.Setting("smtp.username", cfg.string(), "", "SMTP user (empty: no authentication)."),
        cfg.Setting(
            "smtp.password_file",
            cfg.string(),
            "",
            "File holding the SMTP password (a Compose secret); never the password itself.",
        ),
        cfg.Setting(
            "smtp.starttls",
            cfg.choice("mandatory", "opportunistic", "none"),
            "mandatory",
            "STARTTLS policy: mandatory (fail without it), opportunistic, none (local relays).",
        ),
        cfg.Setting("smtp.timeout", cfg.duration(0.1), 30.0, "SMTP connection timeout."),
        cfg.Setting("smtp.retries", cfg.integer(0, 20), 4, "Retries after a failed send."),
        cfg.Setting(
            "smtp.backoff",
            cfg.duration(0.0),
            10.0,
            "First delay between send attempts; doubles after each failure.",
        ),
        cfg.Setting("log.level", cfg.choice("debug", "info", "warning", "error"), "info", "Log level."),
    ]
