"""Settings of the trading exporter (``tradewatch trading-exporter --print-settings``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewatch.core import config as cfg
from tradewatch.core.app import common_settings
from tradewatch.core.ingest import ingest_settings
from tradewatch.core.validate import time_window_settings
from tradewatch.trading import limits

DEFAULT_PORT = 9812


def clock_time(value: Any) -> dtime:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise cfg.Invalid(f"expected a time of day HH:MM, got {value!r}")
    return dtime(int(m.group(1)), int(m.group(2)))


def _clock_text(value: Any) -> str:
    return clock_time(value).strftime("%H:%M")


def _time_zone(value: Any) -> str:
    try:
        return ZoneInfo(str(value).strip()).key
    except (ZoneInfoNotFoundError, ValueError):
        raise cfg.Invalid(f"expected an IANA time zone such as UTC or America/New_York, got {value!r}") from None


def settings() -> list[cfg.Setting]:
    S = cfg.Setting
    return [
        *common_settings(DEFAULT_PORT),
        *ingest_settings("trading-journal"),
        *time_window_settings(),
        S("tail.file", cfg.string(), "", "JSONL file of events to follow (tail mode); empty: off."),
        S(
            "tail.offset_file",
            cfg.string(),
            "",
            "Where the tail position is stored; default: tail.offset in the journal directory.",
        ),
        S("tail.poll_interval", cfg.duration(0.01), 0.25, "How often the tailed file is checked for new lines."),
        S("limits.max_symbols", cfg.integer(1), 100, "Distinct symbol label values; the rest are __overflow__."),
        S("limits.max_strategies", cfg.integer(1), 20, "Distinct strategy label values; the rest are __overflow__."),
        S(
            "limits.max_label_values",
            cfg.integer(1),
            50,
            "Distinct values of every other free-form label (account, venue, provider, service, component, "
            "risk type, error kind, API provider, endpoint); the rest are __overflow__.",
        ),
        S(
            "limits.max_open_orders",
            cfg.integer(1),
            100_000,
            "Open orders remembered to join fills to submissions; the oldest are forgotten beyond it.",
        ),
        S(
            "limits.max_tracked_symbols",
            cfg.integer(1),
            100_000,
            "Symbols whose positions and feed timing are tracked individually.",
        ),
        S(
            "limits.max_open_decisions",
            cfg.integer(1),
            10_000,
            "Open decisions (with a decision_id) remembered; the oldest are forgotten beyond it.",
        ),
        S("session.boundary", _clock_text, "00:00", "Time of day (HH:MM) a trading session starts, for daily P&L."),
        S("session.timezone", _time_zone, "UTC", "IANA time zone of session.boundary."),
        S("analytics.fill_window", cfg.integer(1), 500, "Terminal orders per strategy in the fill ratio window."),
        S(
            "analytics.trade_window",
            cfg.integer(1),
            100,
            "Closed trades per strategy in the rolling win rate, profit factor and expectancy.",
        ),
        S(
            "analytics.return_period",
            cfg.duration(1),
            86400.0,
            "Sampling period of equity returns for Sharpe and Sortino (event time, aligned to the epoch).",
        ),
        S("analytics.sharpe_window", cfg.integer(2), 30, "Returns in the rolling Sharpe/Sortino window."),
        S(
            "analytics.periods_per_year",
            cfg.number(minimum=1),
            252.0,
            "Annualisation: return periods per year (252 trading days; 365 for crypto; x24 for hourly).",
        ),
        S("analytics.risk_free_rate", cfg.number(), 0.0, "Annual risk-free rate for Sharpe and Sortino."),
        S(
            "risk.daily_loss_limit",
            cfg.number(minimum=0),
            0.0,
            "Daily loss limit in quote currency (positive); 0: not set, the gauge is not exported.",
        ),
        S("risk.max_drawdown", cfg.number(minimum=0, maximum=1), 0.2, "Maximum drawdown ratio (0..1); 0: not set."),
        *limits.settings(),
        S(
            "market_data.stale_seconds",
            cfg.duration(0.001),
            30.0,
            "Market data older than this is stale (exported for alert rules).",
        ),
        S(
            "market_data.gap_seconds",
            cfg.duration(0.001),
            10.0,
            "Consecutive ticks of a symbol further apart than this (exchange time) count as a gap.",
        ),
        S(
            "heartbeat.timeout",
            cfg.duration(0.001),
            30.0,
            "A component without a heartbeat for this long is considered down (exported for alert rules).",
        ),
    ]


@dataclass(frozen=True)
class TradingConfig:
    """What the fold needs, detached from Config so tests can build one directly."""

    max_symbols: int = 100
    max_strategies: int = 20
    max_label_values: int = 50
    max_open_orders: int = 100_000
    max_tracked_symbols: int = 100_000
    session_boundary: str = "00:00"
    session_timezone: str = "UTC"
    fill_window: int = 500
    trade_window: int = 100
    return_period: float = 86400.0
    sharpe_window: int = 30
    periods_per_year: float = 252.0
    risk_free_rate: float = 0.0
    daily_loss_limit: float = 0.0
    max_drawdown: float = 0.2
    stale_seconds: float = 30.0
    gap_seconds: float = 10.0
    heartbeat_timeout: float = 30.0
    max_open_decisions: int = 10_000
    daily_loss_limit_percent: float = 0.0
    take_profit: str = ""
    stop_loss: str = ""
    account_limits: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, c: cfg.Config) -> TradingConfig:
        return cls(
            max_symbols=c["limits.max_symbols"],
            max_strategies=c["limits.max_strategies"],
            max_label_values=c["limits.max_label_values"],
            max_open_orders=c["limits.max_open_orders"],
            max_tracked_symbols=c["limits.max_tracked_symbols"],
            session_boundary=c["session.boundary"],
            session_timezone=c["session.timezone"],
            fill_window=c["analytics.fill_window"],
            trade_window=c["analytics.trade_window"],
            return_period=c["analytics.return_period"],
            sharpe_window=c["analytics.sharpe_window"],
            periods_per_year=c["analytics.periods_per_year"],
            risk_free_rate=c["analytics.risk_free_rate"],
            daily_loss_limit=c["risk.daily_loss_limit"],
            max_drawdown=c["risk.max_drawdown"],
            stale_seconds=c["market_data.stale_seconds"],
            gap_seconds=c["market_data.gap_seconds"],
            heartbeat_timeout=c["heartbeat.timeout"],
            max_open_decisions=c["limits.max_open_decisions"],
            daily_loss_limit_percent=c["risk.daily_loss_limit_percent"],
            take_profit=c["risk.take_profit"],
            stop_loss=c["risk.stop_loss"],
            account_limits=c["risk.accounts"],
        )
