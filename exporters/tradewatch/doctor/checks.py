"""The checks of ``tradewatch doctor``: is a running stack (compose or ``make dev``) healthy?

Each check talks to the real service over HTTP (or SMTP for the mail catcher) and returns a
:class:`Check` with a status, a one-line summary, details and, when something is wrong, what to
do about it. Checks that need a service that is down are reported as skipped, so one outage is
one failure in the report, not ten.

Statuses: ``ok``; ``warn`` (works, but look at it; exit status stays 0); ``fail`` (exit 1);
``absent`` (an optional component that this kind of stack does not run: Grafana, Loki and Alloy
under ``make dev``); ``skip`` (could not be checked because something it needs failed).
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

OK, WARN, FAIL, ABSENT, SKIP = "ok", "warn", "fail", "absent", "skip"
STATUSES = (OK, WARN, FAIL, ABSENT, SKIP)

EXPORTERS = ("system-exporter", "trading-exporter", "model-exporter")
OPTIONAL = ("grafana", "loki", "alloy")  # what `make dev` does not run

QUERY_EVENT_AGE = "time() - max by (job) (tradewatch_last_event_timestamp_seconds)"
QUERY_FAILED_NOTIFICATIONS = "sum by (integration) (increase(alertmanager_notifications_failed_total[1h])) > 0"

ADVICE_TARGETS = (
    "a down target is a stopped or unreachable service (see its check above); a missing job "
    "means prometheus.yml does not scrape it (regenerate: tradewatch dev render)"
)
ADVICE_RULES = (
    "fix the expressions in prometheus/rules.in/, regenerate (tradewatch dev render) and reload "
    "Prometheus: docker compose kill -s SIGHUP prometheus"
)
ADVICE_NOTIFICATIONS = (
    "docker compose logs alertmanager | grep -i notify shows why (wrong webhook URL, SMTP relay refusing)"
)
ADVICE_GRAFANA_PASSWORD = (
    "the admin password is stored in the grafana-data volume on first start; reset "
    "it: docker compose exec grafana grafana cli admin reset-admin-password NEW"
)
ADVICE_LOKI_EMPTY = (
    "Alloy ships the logs: docker compose logs alloy; it needs /var/run/docker.sock and the "
    "compose project name (COMPOSE_PROJECT_NAME) to find the containers"
)


@dataclass
class Endpoints:
    """Where each service answers (the documented loopback ports by default)."""

    prometheus: str = "http://127.0.0.1:9090"
    alertmanager: str = "http://127.0.0.1:9093"
    grafana: str = "http://127.0.0.1:3000"
    loki: str = "http://127.0.0.1:3100"
    alloy: str = "http://127.0.0.1:12345"
    system_exporter: str = "http://127.0.0.1:9811"
    trading_exporter: str = "http://127.0.0.1:9812"
    model_exporter: str = "http://127.0.0.1:9813"
    smtp: str = "127.0.0.1:1025"

    def url(self, component: str) -> str:
        return getattr(self, component.replace("-", "_")).rstrip("/")


@dataclass
class Options:
    mode: str = "auto"  # auto, compose or dev
    timeout: float = 3.0  # per request
    max_event_age: float = 300.0  # seconds since the last trading event before it is a failure
    grafana_user: str = "tradewatch"
    grafana_password: str = ""  # datasource checks need it; without it they are a warning
    dev_workdir: Path = Path(".dev")  # where `tradewatch dev` records its children (stack.json)


@dataclass
class Check:
    component: str
    name: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)
    advice: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    mode: str
    mode_detected: bool
    checks: list[Check]

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    @property
    def nothing_answers(self) -> bool:
        """Every core service unreachable: most likely no stack is running at these addresses."""
        core = [c for c in self.checks if c.name == "ready" and c.component not in OPTIONAL]
        return bool(core) and all(c.status == FAIL and "not reachable" in c.summary for c in core)

    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in STATUSES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "mode_detected": self.mode_detected,
            "ok": not self.failed,
            "nothing_answers": self.nothing_answers,
            "counts": self.counts(),
            "checks": [c.as_dict() for c in self.checks],
        }


class Unreachable(Exception):
    """Connection refused, timeout, DNS: the service did not answer at all."""


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    def __init__(self, timeout: float):
        self.timeout = timeout

    def get(self, url: str, *, auth: tuple[str, str] | None = None) -> Answer:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read())
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(str(reason)) from None


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


class Doctor:
    """Runs every check against ``endpoints``; :meth:`run` returns the :class:`Report`."""

    READY_PATHS = {
        "prometheus": "/-/ready",
        "alertmanager": "/-/ready",
        "grafana": "/api/health",
        "loki": "/ready",
        "alloy": "/-/ready",
        **{e: "/readyz" for e in EXPORTERS},
    }

    def __init__(self, endpoints: Endpoints | None = None, options: Options | None = None):
        self.endpoints = endpoints or Endpoints()
        self.options = options or Options()
        self.http = Http(self.options.timeout)
        self.mode = self.options.mode
        self.ready: dict[str, bool] = {}
        self._email_configured: bool | None = None  # unknown until Alertmanager's config is read

    # ------------------------------------------------------------------ advice per stack kind

    def _look_at(self, component: str) -> str:
        if self.mode == "compose":
            return (
                f"docker compose ps {component} && docker compose logs --tail=50 {component}; "
                f"start it with: docker compose up -d {component}"
            )
        if component in OPTIONAL:
            return f"{component} is not part of `make dev`; use the compose stack for it"
        return (
            f"is `make dev` running? its output and .dev/logs/{component}.log say why "
            f"{component} stopped; restart with: make dev"
        )

    # ------------------------------------------------------------------ entry point

    def run(self) -> Report:
        detected = self.mode == "auto"
        if detected:
            self.mode = self._detect_mode()
        checks: list[Check] = []
        for component in ("prometheus", "alertmanager", *EXPORTERS, *OPTIONAL):
            checks.append(self.check_ready(component))
        checks.append(self.check_targets())
        checks.append(self.check_rules())
        checks.extend(self.check_alertmanager())
        checks.append(self.check_mail_catcher())
        checks.append(self.check_grafana_datasources())
        checks.append(self.check_loki_logs())
        checks.extend(self.check_events())
        checks.extend(self.check_simulator())
        checks.extend(self.check_limits())
        from tradewatch.doctor.models import check_model_references  # it imports this module

        checks.extend(check_model_references(self._query, bool(self.ready.get("prometheus"))))
        return Report(self.mode, detected, checks)

    def _detect_mode(self) -> str:
        """compose when any of Grafana, Loki or Alloy answers; otherwise the dev stack."""
        for component in OPTIONAL:
            try:
                self.http.get(self.endpoints.url(component) + self.READY_PATHS[component])
                return "compose"
            except Unreachable:
                continue
        return "dev"

    # ------------------------------------------------------------------ reachability and readiness

    def check_ready(self, component: str) -> Check:
        url = self.endpoints.url(component) + self.READY_PATHS[component]
        self.ready[component] = False
        try:
            answer = self.http.get(url)
        except Unreachable as exc:
            if component in OPTIONAL and self.mode == "dev":
                return Check(component, "ready", ABSENT, f"not running ({url}); not part of `make dev`")
            return Check(component, "ready", FAIL, f"not reachable at {url}: {exc}", advice=self._look_at(component))
        if answer.status != 200:
            details = []
            try:
                reasons = answer.json().get("reasons", {})
                details = [f"{source}: {reason}" for source, reason in reasons.items()]
            except (ValueError, AttributeError):
                details = [_excerpt(answer.body)]
            return Check(
                component,
                "ready",
                FAIL,
                f"not ready (HTTP {answer.status} from {url})",
                details,
                advice=f"it may still be starting; otherwise {self._look_at(component)}",
            )
        if component == "grafana":
            try:
                database = answer.json().get("database")
            except ValueError:
                database = None
            if database != "ok":
                return Check(
                    component, "ready", FAIL, f"health says database={database!r}", advice=self._look_at(component)
                )
        self.ready[component] = True
        return Check(component, "ready", OK, f"ready ({self.endpoints.url(component)})")

    # ------------------------------------------------------------------ Prometheus

    def _prometheus(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        answer = self.http.get(self.endpoints.url("prometheus") + path + query)
        payload = answer.json()
        if answer.status != 200 or payload.get("status") != "success":
            raise ValueError(f"HTTP {answer.status}: {payload.get('error', _excerpt(answer.body))}")
        return payload["data"]

    def _query(self, promql: str) -> list[dict[str, Any]]:
        return self._prometheus("/api/v1/query", query=promql)["result"]

    def _needs(self, component: str, who: str, name: str) -> Check | None:
        if self.ready.get(component):
            return None
        return Check(who, name, SKIP, f"not checked: {component} is not ready")

    def check_targets(self) -> Check:
        skipped = self._needs("prometheus", "prometheus", "targets")
        if skipped:
            return skipped
        try:
            targets = self._prometheus("/api/v1/targets", state="active")["activeTargets"]
        except (Unreachable, ValueError) as exc:
            return Check(
                "prometheus", "targets", FAIL, f"cannot list targets: {exc}", advice=self._look_at("prometheus")
            )
        jobs = {t["labels"].get("job", "?") for t in targets}
        down = [t for t in targets if t.get("health") != "up"]
        missing = [e for e in EXPORTERS if e not in jobs]
        details = [
            f"{t['labels'].get('job')} {t.get('scrapeUrl')}: {t.get('health')} {t.get('lastError') or ''}".rstrip()
            for t in down
        ]
        details += [f"{job}: not in prometheus.yml" for job in missing]
        unknown = [t for t in down if t.get("health") == "unknown"]
        if missing or len(down) > len(unknown):
            return Check(
                "prometheus",
                "targets",
                FAIL,
                f"{len(targets) - len(down)}/{len(targets)} targets up",
                details,
                advice=ADVICE_TARGETS,
            )
        if unknown:
            return Check(
                "prometheus",
                "targets",
                WARN,
                f"{len(unknown)} targets not scraped yet",
                details,
                advice="wait one scrape interval and run the doctor again",
            )
        names = ", ".join(sorted(jobs))
        return Check("prometheus", "targets", OK, f"all {len(targets)} targets up ({names})")

    def check_rules(self) -> Check:
        skipped = self._needs("prometheus", "prometheus", "rules")
        if skipped:
            return skipped
        try:
            groups = self._prometheus("/api/v1/rules")["groups"]
        except (Unreachable, ValueError) as exc:
            return Check("prometheus", "rules", FAIL, f"cannot list rules: {exc}", advice=self._look_at("prometheus"))
        rules = [(g["name"], r) for g in groups for r in g.get("rules", [])]
        if not rules:
            return Check(
                "prometheus",
                "rules",
                FAIL,
                "no alert or recording rules loaded",
                advice="rule_files in prometheus.yml must match the mounted prometheus/rules/*.yml; "
                "check with: promtool check config prometheus/prometheus.yml",
            )
        broken = [(g, r) for g, r in rules if r.get("health") == "err"]
        pending = [(g, r) for g, r in rules if r.get("health") == "unknown"]
        alerts = sum(r.get("type") == "alerting" for _, r in rules)
        summary = f"{len(rules)} rules in {len(groups)} groups ({alerts} alerts)"
        if broken:
            details = [f"{g}/{r['name']}: {r.get('lastError', '')}" for g, r in broken]
            return Check(
                "prometheus",
                "rules",
                FAIL,
                f"{len(broken)} of {summary} fail to evaluate",
                details,
                advice=ADVICE_RULES,
            )
        firing = sum(1 for _, r in rules if r.get("state") == "firing")
        if pending:
            return Check(
                "prometheus",
                "rules",
                WARN,
                f"{summary}; {len(pending)} not evaluated yet",
                advice="wait one evaluation interval and run the doctor again",
            )
        return Check(
            "prometheus", "rules", OK, f"{summary}, all evaluating; {firing} alert{'' if firing == 1 else 's'} firing"
        )

    # ------------------------------------------------------------------ Alertmanager and mail

    def check_alertmanager(self) -> list[Check]:
        skipped = self._needs("alertmanager", "alertmanager", "config")
        if skipped:
            return [skipped]
        try:
            answer = self.http.get(self.endpoints.url("alertmanager") + "/api/v2/status")
            status = answer.json()
            config = yaml.safe_load(status["config"]["original"]) or {}
        except (Unreachable, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            return [
                Check(
                    "alertmanager",
                    "config",
                    FAIL,
                    f"cannot read the loaded configuration: {exc}",
                    advice=self._look_at("alertmanager"),
                )
            ]
        receivers = config.get("receivers") or []
        kinds = {kind for r in receivers for kind in r if kind.endswith("_configs")}
        self._email_configured = "email_configs" in kinds
        checks = [
            Check(
                "alertmanager",
                "config",
                OK if receivers else FAIL,
                f"config loaded, {len(receivers)} receivers "
                f"({', '.join(sorted(k.removesuffix('_configs') for k in kinds)) or 'none'})",
                advice="" if receivers else "alertmanager.yml defines no receivers",
            )
        ]
        if "slack_configs" in kinds:
            checks.append(Check("alertmanager", "slack", OK, "Slack receivers configured"))
        else:
            advice = (
                "write the webhook URL to secrets/slack_webhook_url (no trailing newline), then: "
                "docker compose restart alertmanager"
                if self.mode == "compose"
                else "start `tradewatch dev --slack-webhook-file FILE` for real Slack"
            )
            checks.append(Check("alertmanager", "slack", WARN, "Slack not configured: e-mail only", advice=advice))
        from tradewatch.doctor.delivery import delivery_checks  # imports this module

        checks += delivery_checks(config, self.mode)
        checks.append(self._notification_failures())
        return checks

    def _notification_failures(self) -> Check:
        if not self.ready.get("prometheus"):
            return Check("alertmanager", "notifications", SKIP, "not checked: prometheus is not ready")
        try:
            result = self._query(QUERY_FAILED_NOTIFICATIONS)
        except (Unreachable, ValueError) as exc:
            return Check("alertmanager", "notifications", WARN, f"cannot query notification failures: {exc}")
        if result:
            details = [f"{r['metric'].get('integration', '?')}: {float(r['value'][1]):.0f} failed" for r in result]
            return Check(
                "alertmanager",
                "notifications",
                WARN,
                "notifications failed in the last hour",
                details,
                advice=ADVICE_NOTIFICATIONS,
            )
        return Check("alertmanager", "notifications", OK, "no failed notifications in the last hour")

    def check_mail_catcher(self) -> Check:
        host, _, port = self.endpoints.smtp.rpartition(":")
        try:
            address = (host or "127.0.0.1", int(port))
            with socket.create_connection(address, timeout=self.options.timeout) as sock:
                sock.settimeout(self.options.timeout)
                banner = sock.recv(512).decode("ascii", "replace").strip()
                sock.sendall(b"QUIT\r\n")
        except (OSError, ValueError) as exc:
            status = WARN if self._email_configured is False else FAIL
            where = "mailpit" if self.mode == "compose" else "the dev stack's SMTP catcher"
            return Check(
                "mail",
                "smtp",
                status,
                f"no SMTP server at {self.endpoints.smtp}: {exc}",
                advice=f"e-mail alerts cannot be delivered; check {where}"
                + (" (docker compose logs mailpit)" if self.mode == "compose" else ""),
            )
        if not banner.startswith("220"):
            return Check(
                "mail",
                "smtp",
                FAIL,
                f"{self.endpoints.smtp} is no SMTP server: {banner[:80]!r}",
                advice="point --smtp at the mail catcher (Mailpit: 127.0.0.1:1025)",
            )
        ui = " (inbox: http://127.0.0.1:8025)" if self.mode == "compose" else ""
        return Check("mail", "smtp", OK, f"mail catcher answers at {self.endpoints.smtp}{ui}")

    # ------------------------------------------------------------------ Grafana and Loki

    def check_grafana_datasources(self) -> Check:
        if not self.ready.get("grafana"):
            absent = self.mode == "dev"
            return Check(
                "grafana",
                "datasources",
                ABSENT if absent else SKIP,
                "not part of `make dev`" if absent else "not checked: grafana is not ready",
            )
        if not self.options.grafana_password:
            return Check(
                "grafana",
                "datasources",
                WARN,
                "not checked: no Grafana credentials",
                advice="set GRAFANA_ADMIN_PASSWORD (read from .env too) or --grafana-password",
            )
        auth = (self.options.grafana_user, self.options.grafana_password)
        base = self.endpoints.url("grafana")
        try:
            answer = self.http.get(f"{base}/api/datasources", auth=auth)
            if answer.status in (401, 403):
                return Check(
                    "grafana",
                    "datasources",
                    FAIL,
                    f"credentials refused (HTTP {answer.status})",
                    advice=ADVICE_GRAFANA_PASSWORD,
                )
            sources = answer.json()
            broken, working = [], []
            for source in sources:
                health = self.http.get(f"{base}/api/datasources/uid/{source['uid']}/health", auth=auth)
                try:
                    message = health.json().get("message", "")
                except ValueError:
                    message = _excerpt(health.body)
                (working if health.status == 200 else broken).append(f"{source['name']}: {message}")
        except (Unreachable, ValueError, KeyError, TypeError) as exc:
            return Check(
                "grafana", "datasources", FAIL, f"cannot check datasources: {exc}", advice=self._look_at("grafana")
            )
        if not sources:
            return Check(
                "grafana",
                "datasources",
                FAIL,
                "no datasources provisioned",
                advice="mount grafana/provisioning at /etc/grafana/provisioning",
            )
        if broken:
            return Check(
                "grafana",
                "datasources",
                FAIL,
                f"{len(broken)}/{len(sources)} datasources broken",
                broken,
                advice="a broken datasource names a service that is down (see above)",
            )
        return Check("grafana", "datasources", OK, f"{len(sources)} datasources working", working)

    def check_loki_logs(self) -> Check:
        if not self.ready.get("loki"):
            absent = self.mode == "dev"
            return Check(
                "loki",
                "logs",
                ABSENT if absent else SKIP,
                "not part of `make dev`" if absent else "not checked: loki is not ready",
            )
        now = time.time()
        params = {"query": 'sum by (service) (count_over_time({service=~".+"}[10m]))', "time": f"{now:.0f}"}
        url = self.endpoints.url("loki") + "/loki/api/v1/query?" + urllib.parse.urlencode(params)
        try:
            answer = self.http.get(url)
            result = answer.json()["data"]["result"] if answer.status == 200 else None
        except (Unreachable, ValueError, KeyError) as exc:
            return Check("loki", "logs", FAIL, f"cannot query Loki: {exc}", advice=self._look_at("loki"))
        if result is None:
            return Check(
                "loki",
                "logs",
                FAIL,
                f"query failed: HTTP {answer.status} {_excerpt(answer.body)}",
                advice=self._look_at("loki"),
            )
        if not result:
            return Check(
                "loki",
                "logs",
                FAIL,
                "no JSON log lines from any service in the last 10 minutes",
                advice=ADVICE_LOKI_EMPTY,
            )
        counts = {r["metric"].get("service", "?"): int(float(r["value"][1])) for r in result}
        details = [f"{service}: {count} lines" for service, count in sorted(counts.items())]
        return Check("loki", "logs", OK, f"receiving logs from {len(counts)} services", details)

    # ------------------------------------------------------------------ events

    def check_events(self) -> list[Check]:
        if not self.ready.get("prometheus"):
            return [Check("events", "trading", SKIP, "not checked: prometheus is not ready")]
        try:
            result = self._query(QUERY_EVENT_AGE)
        except (Unreachable, ValueError) as exc:
            return [Check("events", "trading", FAIL, f"cannot query event freshness: {exc}")]
        ages = {r["metric"].get("job", "?"): float(r["value"][1]) for r in result}
        source = (
            "the simulator (SIMULATOR_REPLICAS=1 in .env, then docker compose up -d) or your trading "
            "system (tradewatch.client, POST /v1/events or the journal)"
            if self.mode == "compose"
            else "the simulator (make dev runs it unless --scenario none) or your trading system"
        )
        checks = []
        for job, required in (("trading-exporter", True), ("model-exporter", False)):
            age = ages.get(job)
            bad = FAIL if required else WARN
            if age is None:
                status, text = bad, f"{job} has never received an event"
            elif age > self.options.max_event_age:
                status, text = bad, f"last event {age:.0f}s ago (more than {self.options.max_event_age:.0f}s)"
            else:
                status, text = OK, f"{job}: last event {age:.0f}s ago"
            advice = "" if status == OK else f"nothing is sending events; start {source}"
            checks.append(Check("events", job.removesuffix("-exporter"), status, text, advice=advice))
        return checks

    # ------------------------------------------------------------------ the dev stack's simulator

    def check_simulator(self) -> list[Check]:
        """Under `make dev`: is the simulator it started still running? A simulator that died leaves the
        stack up and quiet; the event-age check would notice only minutes later."""
        if self.mode != "dev":
            return []
        state_file = self.options.dev_workdir / "stack.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return []  # no `tradewatch dev` recorded here (another work dir, or the tests' own stacks)
        if state.get("prometheus_url", "").rstrip("/") != self.endpoints.url("prometheus"):
            return []  # the recorded stack is not the one being checked
        sim = state.get("simulator")
        if not sim:
            return [Check("simulator", "running", OK, "no simulator in this run (--scenario none)")]
        pid = (state.get("pids") or {}).get("simulator")
        if _alive(pid):
            return [Check("simulator", "running", OK, f"scenario {sim.get('scenario')} running (PID {pid})")]
        log = Path(str(sim.get("log", "")))
        try:
            tail = log.read_text(errors="replace").splitlines()[-5:]
        except OSError:
            tail = []
        return [
            Check(
                "simulator",
                "running",
                FAIL,
                f"the simulator (scenario {sim.get('scenario')}, PID {pid}) is not running: no new events",
                tail,
                advice=f"{log} says why it stopped; restart the stack: make dev "
                "(SCENARIO=<name>; tradewatch dev --help lists the names)",
            )
        ]

    # ------------------------------------------------------------------ limits the rules need

    def check_limits(self) -> list[Check]:
        """A rule that divides by a configured limit can never fire while the limit is unset."""
        if not self.ready.get("prometheus"):
            return []
        try:
            accounts = self._query("count(tradewatch_trading_equity)")
            loss = self._query("count(tradewatch_trading_daily_loss_limit > 0)")
            model_up = self._query('up{job="model-exporter"} == 1')
            budget = self._query("count(tradewatch_ai_monthly_budget_usd > 0)")
        except (Unreachable, ValueError) as exc:
            return [Check("limits", "rules", FAIL, f"cannot query the configured limits: {exc}")]
        checks = []
        if accounts and not loss:
            checks.append(
                Check(
                    "limits",
                    "daily loss",
                    WARN,
                    "no daily loss limit set: DailyLossNearLimit and DailyLossLimitBreached can never fire",
                    advice="set risk.daily_loss_limit on the trading exporter (env TRADEWATCH_RISK_DAILY_LOSS_LIMIT, "
                    "in the account's quote currency)",
                )
            )
        elif loss:
            checks.append(Check("limits", "daily loss", OK, "daily loss limit set"))
        if model_up and not budget:
            checks.append(
                Check(
                    "limits",
                    "AI budget",
                    WARN,
                    "no monthly AI budget set: AICostOverBudget can never fire",
                    advice="set ai.monthly_budget_usd on the model exporter (env TRADEWATCH_AI_MONTHLY_BUDGET_USD)",
                )
            )
        elif budget:
            checks.append(Check("limits", "AI budget", OK, "monthly AI budget set"))
        return checks


def _alive(pid: Any) -> bool:
    """Is ``pid`` a running process (a zombie, exited but not reaped, is not)?"""
    import psutil

    try:
        return isinstance(pid, int) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
