"""The native TradeWatch stack: Prometheus, Alertmanager(s), the three exporters and the simulator
on loopback, supervised from Python. ``tradewatch dev`` runs it in the foreground; the e2e tests,
the alert-latency benchmark and other suites use it through :func:`tradewatch.devstack.testing.live_stack`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradewatch.devstack import ha, render
from tradewatch.devstack.procs import Managed, ProcessFailed, free_port
from tradewatch.devstack.receivers import MailCatcher, SlackReceiver
from tradewatch.devstack.standins import ServiceStandIn, channel_config

EXPORTERS = ("system", "trading", "model")
DEV_PORTS = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "system-exporter": 9811,
    "trading-exporter": 9812,
    "model-exporter": 9813,
}

#: The trading exporter is told the simulator's risk limits (5% of the 100k starting balance a day,
#: 10% drawdown), so the daily-loss alerts and the limit lines on the dashboards have a limit to use.
# Portfolio take-profit / stop-loss at 25,000 (25% of the simulator's initial balance): levels the
# demo never reaches (flash-crash stops at the kill switch, about 12% down), for the limit panels.
SIMULATOR_RISK_LIMITS = {
    "TRADEWATCH_RISK_DAILY_LOSS_LIMIT": "5000",
    "TRADEWATCH_RISK_MAX_DRAWDOWN": "0.10",
    "TRADEWATCH_RISK_TAKE_PROFIT": "25000",
    "TRADEWATCH_RISK_STOP_LOSS": "25000",
}
#: And the model exporter a monthly AI budget the simulator's normal LLM spend stays under and the
#: ai-cost-spike scenario's exceeds, so AICostOverBudget and the budget panels have a budget to use.
SIMULATOR_MODEL_LIMITS = {"TRADEWATCH_AI_MONTHLY_BUDGET_USD": "300"}

#: Test mode: every `for` longer than this is shortened so scenarios finish in seconds.
TEST_MAX_FOR = "5s"

#: In the work dir while the stack runs: every child's PID and the simulator's scenario, so that
#: `tradewatch doctor` can tell a simulator that died from one that is running.
STATE_FILE = "stack.json"


class StackError(RuntimeError):
    """The stack could not start (missing binary, a child failed); says what to do."""


@dataclass
class AlertmanagerSpec:
    """One Alertmanager instance. ``quiet_hours`` replaces the quiet-hours time ranges, so a test
    can declare "it is night now" without waiting for the night."""

    name: str = "alertmanager"
    quiet_hours: list[dict[str, Any]] | None = None
    location: str | None = None
    slack_path: str = "/slack"
    smtp_from: str | None = None


@dataclass
class StackOptions:
    workdir: Path | None = None  # kept when given; a temp dir removed at stop otherwise
    test_mode: bool = True  # 1 s intervals, short Alertmanager timings, short `for`
    random_ports: bool = True  # False: the documented ports (DEV_PORTS)
    exporters: Sequence[str] = EXPORTERS
    simulator: str | None = "normal"  # scenario run in the background; None: no simulator
    simulator_args: Sequence[str] = ()
    slack_webhook_file: Path | None = None  # real Slack; None: the local Slack receiver
    smtp_smarthost: str | None = None  # real SMTP relay; None: the local mail catcher
    alertmanagers: Sequence[AlertmanagerSpec] = (AlertmanagerSpec(),)
    threshold_overrides: dict[str, float] = field(default_factory=dict)
    exporter_env: dict[str, dict[str, str]] = field(default_factory=dict)  # extra env per exporter
    am_cluster: bool = False  # the Alertmanagers gossip as one cluster (tradewatch dev --ha)
    # PagerDuty, Opsgenie, Telegram, webhook and heartbeat to a local stand-in (tradewatch dev);
    # channel_secrets (secret name -> file, as in secrets/) send those channels to the real services.
    service_standin: bool = False
    channel_secrets: dict[str, Path] = field(default_factory=dict)


def tradewatch_argv() -> list[str]:
    """How to run the `tradewatch` CLI of this same installation."""
    return [sys.executable, "-m", "tradewatch"]


def _binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise StackError(
            f"{name} not found: install Debian's prometheus and prometheus-alertmanager "
            "packages (`make system-deps` as root)"
        )
    return path


class DevStack:
    """Start with :meth:`start` (or use as a context manager), stop with :meth:`stop`."""

    def __init__(self, options: StackOptions | None = None):
        self.options = options or StackOptions()
        self._own_workdir = self.options.workdir is None
        self.workdir = Path(self.options.workdir or tempfile.mkdtemp(prefix="tradewatch-dev-"))
        self.procs: dict[str, Managed] = {}
        self.ports: dict[str, int] = {}
        self.slack: SlackReceiver | None = None
        self.mail: MailCatcher | None = None
        self.services: ServiceStandIn | None = None
        self.am_ports: dict[str, int] = {}
        self.cluster_ports: dict[str, int] = {}
        self._started = False
        self._scenario: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> DevStack:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _start(self, timeout: float) -> None:
        opts = self.options
        prometheus_bin, alertmanager_bin = _binary("prometheus"), _binary("prometheus-alertmanager")
        base = DEV_PORTS if not opts.random_ports else {k: free_port() for k in DEV_PORTS}
        self.ports = dict(base)
        for i, spec in enumerate(opts.alertmanagers):
            fixed = not opts.random_ports and i < len(ha.DEV_AM_PORTS)
            self.am_ports[spec.name] = (
                self.ports["alertmanager"] if i == 0 else ha.DEV_AM_PORTS[i] if fixed else free_port()
            )
            if opts.am_cluster:
                self.cluster_ports[spec.name] = ha.DEV_CLUSTER_PORTS[i] if fixed else free_port()
        if opts.slack_webhook_file is None:
            self.slack = SlackReceiver(port=0 if opts.random_ports else 8026, docs_dir=render.REPO / "docs").start()
        if opts.service_standin:
            self.services = ServiceStandIn().start()
        if opts.smtp_smarthost is None:
            self.mail = MailCatcher(port=0 if opts.random_ports else 1025).start()
        self._write_configs()
        for spec in opts.alertmanagers:
            port = self.am_ports[spec.name]
            data = self.workdir / spec.name / "data"
            data.mkdir(parents=True, exist_ok=True)
            self.procs[spec.name] = Managed(
                spec.name,
                [
                    alertmanager_bin,
                    f"--config.file={self.workdir / spec.name / 'alertmanager.yml'}",
                    f"--storage.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--web.external-url=http://127.0.0.1:{port}",
                    *self._cluster_args(spec.name),
                    "--log.level=info",
                ],
                self.workdir / "logs" / f"{spec.name}.log",
                f"http://127.0.0.1:{port}/-/ready",
                env=self._env(),
            ).start()
        for name in opts.exporters:
            self.procs[f"{name}-exporter"] = self._exporter_proc(name).start()
        (self.workdir / "prometheus" / "data").mkdir(parents=True, exist_ok=True)
        port = self.ports["prometheus"]
        self.procs["prometheus"] = Managed(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={self.workdir / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'prometheus' / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}",
                "--storage.tsdb.retention.time=2d",
                # The exporters' fill/ack latency, slippage and inference histograms carry
                # correlation-ID exemplars (same flag in 2.42 and 3.x).
                "--enable-feature=exemplar-storage",
                "--log.level=info",
            ],
            self.workdir / "logs" / "prometheus.log",
            f"http://127.0.0.1:{port}/-/ready",
            env=self._env(),
        ).start()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            proc.wait_ready(max(1.0, deadline - time.monotonic()))
        if opts.simulator:
            self.start_simulator(opts.simulator, *opts.simulator_args)
        self.write_state()

    def write_state(self) -> None:
        """Record the children's PIDs (and the simulator's scenario) in the work dir's stack.json."""
        sim = self.procs.get("simulator")
        state = {
            "workdir": str(self.workdir),
            "prometheus_url": self.prometheus_url,
            "pids": {n: p.proc.pid for n, p in self.procs.items() if p.proc is not None},
            "simulator": None if sim is None else {"scenario": self._scenario, "log": str(sim.log_path)},
        }
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")

    def stop(self) -> None:
        """Simulator first, then exporters, Prometheus, Alertmanager, receivers."""
        order = [
            "simulator",
            *[f"{e}-exporter" for e in EXPORTERS],
            "prometheus",
            *[s.name for s in self.options.alertmanagers],
        ]
        for name in order + [n for n in self.procs if n not in order]:
            proc = self.procs.get(name)
            if proc:
                proc.stop()
        for receiver in (self.slack, self.mail, self.services):
            if receiver:
                try:
                    receiver.stop()
                except Exception:
                    pass
        self.slack = self.mail = self.services = None
        (self.workdir / STATE_FILE).unlink(missing_ok=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- configuration --------------------------------------------------------------------------

    def _write_configs(self) -> None:
        opts = self.options
        prom_dir = self.workdir / "prometheus"
        rules_dir = prom_dir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        # Runbook links point at this stack's own web page (the Slack stand-in serves docs/) unless
        # TRADEWATCH_RUNBOOK_URL says otherwise, so every link in a page resolves.
        runbooks = render.runbook_base(default=f"{self.slack.url}/docs/runbooks" if self.slack else render.RUNBOOK_BASE)
        for domain, text in render.render_rule_sources(overrides=opts.threshold_overrides, runbooks=runbooks).items():
            if opts.test_mode:
                text = render.shorten_rules(text, interval="1s", max_for=TEST_MAX_FOR)
            (rules_dir / f"{domain}.yml").write_text(text)
        ports = {**self.ports, "alertmanager": self.am_ports[opts.alertmanagers[0].name]}
        doc = render.render_prometheus(
            "native", render.NativeOptions(ports=ports, rules_dir=str(rules_dir), test_mode=opts.test_mode)
        )
        doc["scrape_configs"] = [
            j
            for j in doc["scrape_configs"]
            # "trading-exporter-critical" (the fast job) goes with "trading-exporter".
            if "-exporter" not in j["job_name"] or j["job_name"].partition("-exporter")[0] in opts.exporters
        ]
        targets = doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        targets[:] = [f"127.0.0.1:{self.am_ports[s.name]}" for s in opts.alertmanagers]
        (prom_dir / "prometheus.yml").write_text(render.dump_yaml(doc))

        for spec in opts.alertmanagers:
            am_dir = self.workdir / spec.name
            am_dir.mkdir(parents=True, exist_ok=True)
            if opts.slack_webhook_file is not None:
                slack_file: str | None = str(opts.slack_webhook_file)
            else:
                assert self.slack is not None
                slack_file = str(am_dir / "slack_webhook_url")
                # Alertmanager 0.25 does not trim a trailing newline: write none.
                Path(slack_file).write_text(self.slack.url + spec.slack_path)
            secrets, api_urls = channel_config(self.services, am_dir, opts.channel_secrets)
            am = render.render_alertmanager_native(
                render.NativeAlertmanager(
                    channel_secrets=secrets,
                    channel_api_urls=api_urls,
                    slack_url_file=slack_file,
                    smtp_smarthost=opts.smtp_smarthost or (self.mail.smarthost if self.mail else None),
                    templates_dir=str(render.REPO / "alertmanager" / "templates"),
                    location=spec.location,
                    quiet_hours=spec.quiet_hours,
                    fast=opts.test_mode,
                    smtp_from=spec.smtp_from,
                )
            )
            (am_dir / "alertmanager.yml").write_text(render.dump_yaml(am))

    def _cluster_args(self, name: str) -> list[str]:
        """No gossip for a lone Alertmanager; with am_cluster, every peer joins every other."""
        if not self.options.am_cluster:
            return ["--cluster.listen-address="]
        own = f"127.0.0.1:{self.cluster_ports[name]}"
        peers = [f"127.0.0.1:{port}" for peer, port in self.cluster_ports.items() if peer != name]
        timings = ha.FAST_GOSSIP if self.options.test_mode else ha.SHIPPED_GOSSIP
        return ha.cluster_args(own, peers, timings, advertise=own)

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Marks every child with its stack, so a leftover process can be traced to its work dir.
        return {"TRADEWATCH_DEVSTACK_DIR": str(self.workdir), **(extra or {})}

    def _exporter_proc(self, name: str) -> Managed:
        port = self.ports[f"{name}-exporter"]
        env = self._env({"TRADEWATCH_LOG_LEVEL": "info"})
        if name in ("trading", "model"):
            env["TRADEWATCH_JOURNAL_PATH"] = str(self.workdir / f"{name}-journal")
            # The simulator's market clock runs `speed` times faster than the wall clock, so its
            # event times are ahead by design: the future-skew check would refuse them.
            env["TRADEWATCH_INGEST_MAX_FUTURE_SKEW"] = "0"
        if name == "trading":
            env.update(SIMULATOR_RISK_LIMITS)
        if name == "model":
            env.update(SIMULATOR_MODEL_LIMITS)
        env.update(self.options.exporter_env.get(name, {}))
        return Managed(
            f"{name}-exporter",
            [*tradewatch_argv(), f"{name}-exporter", "--port", str(port), "--listen-address", "127.0.0.1"],
            self.workdir / "logs" / f"{name}-exporter.log",
            f"http://127.0.0.1:{port}/readyz",
            env=env,
        )

    # -- URLs and control -----------------------------------------------------------------------

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager_url_of(self.options.alertmanagers[0].name)

    def alertmanager_url_of(self, name: str) -> str:
        return f"http://127.0.0.1:{self.am_ports[name]}"

    def exporter_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'{name}-exporter']}"

    def stop_exporter(self, name: str) -> None:
        self.procs[f"{name}-exporter"].stop()

    def start_exporter(self, name: str, timeout: float = 30.0) -> None:
        proc = self.procs[f"{name}-exporter"] = self._exporter_proc(name).start()
        proc.wait_ready(timeout)

    def simulator_argv(self, scenario: str, *extra: str) -> list[str]:
        argv = [*tradewatch_argv(), "simulate", "--scenario", scenario, "--trading-url", self.exporter_url("trading")]
        if "model" in self.options.exporters:
            argv += ["--model-url", self.exporter_url("model")]
        return [*argv, *extra]

    def start_simulator(self, scenario: str, *extra: str) -> Managed:
        old = self.procs.get("simulator")
        if old:
            old.stop()
        proc = self.procs["simulator"] = Managed(
            "simulator", self.simulator_argv(scenario, *extra), self.workdir / "logs" / "simulator.log", env=self._env()
        ).start()
        self._scenario = scenario
        if self._started:
            self.write_state()
        return proc

    def run_scenario(self, scenario: str, *extra: str, timeout: float = 300.0) -> int:
        """Run a simulator scenario to completion (in the foreground) and return its exit status."""
        proc = self.start_simulator(scenario, *extra)
        code = proc.wait_exit(timeout)
        if code is None:
            proc.stop()
            raise ProcessFailed(f"simulator {scenario} still running after {timeout:.0f}s:\n{proc.log_tail()}")
        return code

    # -- HTTP helpers ---------------------------------------------------------------------------

    def post_events(self, exporter: str, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """POST events to an exporter's /v1/events; returns its JSON answer (raises on 5xx)."""
        body = json.dumps(list(events)).encode()
        req = urllib.request.Request(
            f"{self.exporter_url(exporter)}/v1/events",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise
            return {"status": exc.code, **json.loads(exc.read() or b"{}")}

    def _get_json(self, url: str) -> Any:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the ``result`` list of Prometheus' answer."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        data = self._get_json(url)
        if data.get("status") != "success":
            raise RuntimeError(f"query failed: {promql}: {data}")
        return data["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 60.0, interval: float = 0.5) -> list[dict[str, Any]]:
        """Poll until the query returns a non-empty result; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql} still empty after {timeout:.0f}s")
            time.sleep(interval)

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        return self._get_json(f"{self.prometheus_url}/api/v1/alerts")["data"]["alerts"]

    def alertmanager_alerts(self, name: str | None = None) -> list[dict[str, Any]]:
        """Alertmanager's view (API v2): each alert with ``status.inhibitedBy`` / ``silencedBy``."""
        url = self.alertmanager_url_of(name or self.options.alertmanagers[0].name)
        return self._get_json(f"{url}/api/v2/alerts")

    def targets_up(self) -> dict[str, bool]:
        data = self._get_json(f"{self.prometheus_url}/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] == "up" for t in data}

    def wait_targets_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            up = self.targets_up()
            if up and all(up.values()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"targets not up after {timeout:.0f}s: {up}")
            time.sleep(0.5)

    def describe(self) -> str:
        # Debian's builds: Prometheus has only its classic pages, Alertmanager no web UI at all.
        rows = [("Prometheus", self.prometheus_url, f"UI: {self.prometheus_url}/classic/alerts")]
        rows += [
            (
                spec.name.capitalize(),
                self.alertmanager_url_of(spec.name),
                "no web UI in Debian's build: /api/v2/alerts or amtool",
            )
            for spec in self.options.alertmanagers
        ]
        rows += [
            (f"{name}-exporter", self.exporter_url(name), "" if name == "system" else "POST /v1/events")
            for name in self.options.exporters
        ]
        if self.slack:
            rows.append(
                (
                    "Slack stand-in",
                    self.slack.url,
                    "a page of the messages received, printed below too; runbooks under /docs/runbooks/",
                )
            )
        if self.services:
            rows.append(("Paging stand-in", self.services.url, "PagerDuty, Opsgenie, Telegram, webhook, heartbeat"))
        if self.mail:
            rows.append(("SMTP catcher", self.mail.smarthost, f"mails are saved in {self.workdir / 'mail'}"))
        rows.append(("Work dir", str(self.workdir), "logs/ holds every process' output"))
        lines = [f"  {name:<18} {where}" + (f"  ({note})" if note else "") for name, where, note in rows]
        return "\n".join(lines)
