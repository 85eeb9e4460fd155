"""What every exporter shares: common settings, start-up, background work and graceful stop.

An exporter subclasses nothing: it builds an :class:`Exporter`, registers its collectors, routes
and background tasks on it, and calls :meth:`Exporter.run`. Tests call :meth:`Exporter.start`
and :meth:`Exporter.stop` directly and bind port 0.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from tradewatch.core import config as cfg
from tradewatch.core import logging as twlog
from tradewatch.core.connlimit import DEFAULT_MAX_CONNECTIONS, RESERVED_CONNECTIONS
from tradewatch.core.errors import init_sentry
from tradewatch.core.health import CollectorGroup, MetricSource, Readiness, SelfMetrics
from tradewatch.core.http import DEFAULT_REQUEST_TIMEOUT, ExporterHTTPServer

log = twlog.get_logger("tradewatch.app")

SHUTDOWN_BUDGET_SECONDS = 5.0


def common_settings(default_port: int) -> list[cfg.Setting]:
    """Settings every exporter has."""
    return [
        cfg.Setting(
            "http.listen_address",
            cfg.string(allow_empty=False),
            "127.0.0.1",
            "Address to listen on; 0.0.0.0 inside a container.",
        ),
        cfg.Setting("http.port", cfg.integer(0, 65535), default_port, "TCP port for /metrics and the API."),
        cfg.Setting(
            "http.max_body_bytes",
            cfg.integer(1024, 1 << 30),
            16 * 1024 * 1024,
            "Largest request body accepted (413 above).",
        ),
        cfg.Setting(
            "http.request_timeout",
            cfg.duration(0.1, 3600),
            DEFAULT_REQUEST_TIMEOUT,
            "Once a request starts arriving, its line, headers and body must be in within this "
            "time, or the connection is closed (slow clients cannot hold threads).",
        ),
        cfg.Setting(
            "http.max_connections",
            cfg.integer(1, 100_000),
            DEFAULT_MAX_CONNECTIONS,
            "Connections served at once (a thread each). Past it: 503 with Retry-After, except GET "
            f"/metrics, /readyz and /healthz, served on {RESERVED_CONNECTIONS} places kept for them.",
        ),
        cfg.Setting("log.level", cfg.choice("debug", "info", "warning", "error"), "info", "Log level."),
        cfg.Setting("log.redact_account_ids", cfg.csv_list(), [], "Account IDs masked in logs and error reports."),
        cfg.Setting(
            "sentry.dsn",
            cfg.string(),
            "",
            "Sentry DSN; error tracking is off when empty (SENTRY_DSN is honoured too).",
            secret=True,
        ),
        cfg.Setting("sentry.environment", cfg.string(), "production", "Sentry environment tag."),
    ]


class Periodic:
    """Runs ``func`` every ``interval`` seconds on its own thread, off the scrape path."""

    def __init__(
        self,
        name: str,
        interval: float,
        func: Callable[[], Any],
        *,
        on_error: Callable[[Exception], None] | None = None,
        run_first: bool = True,
    ):
        self.name = name
        self.interval = interval
        self.func = func
        self.on_error = on_error
        self.run_first = run_first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        if not self.run_first and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.func()
            except Exception as exc:
                log.error("periodic task failed", task=self.name, error=str(exc), exc_info=True)
                if self.on_error:
                    self.on_error(exc)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


class Exporter:
    """One exporter process: registry, collectors, HTTP server, background tasks."""

    def __init__(self, name: str, config: cfg.Config):
        self.name = name
        self.config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.self_metrics = SelfMetrics(self.registry, name)
        self.collectors = CollectorGroup({}, errors=self.self_metrics.errors)
        self.registry.register(self.collectors)
        ProcessCollector(registry=self.registry)
        self.readiness = Readiness()
        self.http = ExporterHTTPServer(
            name,
            self.registry,
            self.readiness,
            self.self_metrics,
            max_body_bytes=config["http.max_body_bytes"],
            request_timeout=config["http.request_timeout"],
            max_connections=config["http.max_connections"],
        )
        self.registry.register(self.http.connections)
        self._tasks: list[Periodic] = []
        self._stoppers: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        self.port: int | None = None

    @property
    def errors(self):
        return self.self_metrics.errors

    def add_collector(self, name: str, collector: MetricSource) -> None:
        self.collectors.add(name, collector)

    def add_task(self, task: Periodic) -> Periodic:
        self._tasks.append(task)
        return task

    def on_stop(self, func: Callable[[], None]) -> None:
        """Called at shutdown, in reverse order of registration."""
        self._stoppers.append(func)

    def start(self) -> int:
        for task in self._tasks:
            task.start()
        self.port = self.http.start(self.config["http.listen_address"], self.config["http.port"])
        log.info("exporter listening", exporter=self.name, address=self.config["http.listen_address"], port=self.port)
        return self.port

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        started = time.monotonic()
        self.http.stop(timeout=2.0)
        for task in self._tasks:
            task.stop(timeout=1.0)
        for func in reversed(self._stoppers):
            try:
                func()
            except Exception as exc:
                log.error("shutdown step failed", error=str(exc), exc_info=True)
        log.info("exporter stopped", exporter=self.name, seconds=round(time.monotonic() - started, 3))

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT, then stop within the shutdown budget."""
        stop = stop_on_signals("signal received, shutting down")
        self.start()
        while not stop.wait(0.5):
            pass
        timer = threading.Timer(SHUTDOWN_BUDGET_SECONDS, _force_exit)
        timer.daemon = True
        timer.start()
        self.stop()
        timer.cancel()
        return 0


def stop_on_signals(message: str) -> threading.Event:
    """An event set (and logged with ``message``) on SIGTERM or SIGINT; call from the main thread."""
    stop = threading.Event()

    def _signal(signum: int, _frame: Any) -> None:
        log.info(message, signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    return stop


def _force_exit() -> None:
    import os

    log.error("shutdown exceeded its budget; exiting", budget_seconds=SHUTDOWN_BUDGET_SECONDS)
    os._exit(1)


def bootstrap(
    name: str, settings: Iterable[cfg.Setting], config_path: str | None, overrides: dict[str, Any] | None = None
) -> cfg.Config:
    """Load config (exit 2 with every problem on failure), then set up logging and Sentry."""
    settings = list(settings)
    try:
        config = cfg.load(settings, config_path, overrides=overrides)
    except cfg.ConfigError as exc:
        import sys

        sys.stderr.write(f"tradewatch {name}: {exc}\n")
        raise SystemExit(2) from None
    twlog.setup(f"{name}", config["log.level"], account_ids=config["log.redact_account_ids"])
    sentry = init_sentry(name, config["sentry.dsn"] or None, config["sentry.environment"])
    log.info("configuration loaded", exporter=name, sentry=sentry, config=config.public())
    return config
