"""The stack in containers, as docker-compose.yml defines it (tools/containers/compose.py), on the
private engine of `make test-containers`. Each check is what `make up` promises a user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from tests.containers.stack_helpers import PORT_VARS, PROJECT, SERVICES, Stack, eventually

pytestmark = pytest.mark.containers

ROOT = Path(__file__).resolve().parents[2]
EXPORTER_JOBS = {"system-exporter": 9811, "trading-exporter": 9812, "model-exporter": 9813}


def now_ts() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def test_every_container_is_healthy_by_its_own_healthcheck(stack: Stack) -> None:
    containers = stack.project.containers()
    services = {c.labels["com.docker.compose.service"] for c in containers if "com.docker.compose.service" in c.labels}
    assert services == set(SERVICES)
    for c in containers:
        c.reload()
        health = c.attrs["State"].get("Health")
        assert health, f"{c.name} has no healthcheck"
        assert health["Status"] == "healthy", (c.name, health["Log"][-1:])
    print("healthy after (s):", {k: round(v) for k, v in stack.started.items()})


def test_no_container_runs_as_root(stack: Stack) -> None:
    for c in stack.project.containers():
        c.reload()
        assert c.attrs["Config"]["User"] or c.name.endswith("slack-standin"), f"{c.name}: no user set"
        top = c.top(ps_args="-o uid,pid,comm")
        uids = {int(p[0]) for p in top["Processes"]}
        assert 0 not in uids, f"{c.name} runs processes as root: {top['Processes']}"


def _host_listeners() -> list[tuple[str, int, int]]:
    """(address, port, inode) of every listening TCP socket in the host's network namespace."""
    out = []
    for name, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            addr, port = fields[1].split(":")
            out.append((addr.rjust(width, "0"), int(port, 16), int(fields[9])))
    return out


def _engine_pids() -> set[int]:
    """dockerd and its descendants (containerd, docker-proxy) in the host's network namespace."""
    pid = int(Path(stack_work_dir(), "dockerd.pid").read_text())
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(parts[1]), []).append(int(stat.parent.name))
    host_ns = Path("/proc/self/ns/net").readlink()
    todo, found = [pid], set()
    while todo:
        p = todo.pop()
        try:
            if Path(f"/proc/{p}/ns/net").readlink() == host_ns:
                found.add(p)
        except OSError:
            continue
        todo += children.get(p, [])
    return found


def stack_work_dir() -> str:
    import os

    return os.environ["DOCKER_HOST"].removeprefix("unix://").rsplit("/", 1)[0]


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 as /proc/net shows them


def test_nothing_listens_beyond_loopback(stack: Stack) -> None:
    for c in stack.project.containers():
        c.reload()
        for bindings in (c.attrs["NetworkSettings"]["Ports"] or {}).values():
            for b in bindings or []:
                assert b["HostIp"] == "127.0.0.1", (c.name, b)
    inodes = set()
    for pid in _engine_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    mine = [(a, p) for a, p, i in _host_listeners() if i in inodes]
    published = {int(stack.env[var]) for var in PORT_VARS}
    assert published <= {p for _, p in mine}, f"expected the published ports {published} among {mine}"
    assert all(a in LOOPBACK for a, _ in mine), f"engine listens beyond loopback: {mine}"


def test_prometheus_scrapes_the_exporters_by_service_name(stack: Stack) -> None:
    def targets():
        active = stack.get_json("PROMETHEUS_PORT", "/api/v1/targets")["data"]["activeTargets"]
        by_job = {t["labels"]["job"]: t for t in active}
        ok = all(by_job.get(job, {}).get("health") == "up" for job in [*EXPORTER_JOBS, "prometheus", "alertmanager"])
        return by_job if ok else None

    by_job = eventually(targets, 90, "exporters, Prometheus and Alertmanager scraped up")
    for job, port in EXPORTER_JOBS.items():
        assert by_job[job]["scrapeUrl"] == f"http://{job}:{port}/metrics"


def test_prometheus_evaluates_every_rule_group(stack: Stack) -> None:
    import yaml

    files = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
    expected = {g["name"] for f in files for g in (yaml.safe_load(f.read_text()) or {}).get("groups", [])}

    def groups():
        data = stack.get_json("PROMETHEUS_PORT", "/api/v1/rules")["data"]["groups"]
        evaluated = {g["name"]: g for g in data if not g["lastEvaluation"].startswith("0001")}
        return evaluated if set(evaluated) >= expected else None

    evaluated = eventually(groups, 90, "every rule group evaluated")
    broken = [
        (g, r["name"], r.get("lastError")) for g, grp in evaluated.items() for r in grp["rules"] if r["health"] == "err"
    ]
    assert not broken, broken
    # The exporters' real series reach the rules: a trading series exists in Prometheus.
    q = stack.get_json("PROMETHEUS_PORT", "/api/v1/query?query=tradewatch_trading_kill_switch_active")
    assert q["data"]["result"], "no trading series in Prometheus"


def test_kill_switch_event_reaches_alertmanager_slack_and_email(stack: Stack) -> None:
    ack = stack.post_events(
        [{"type": "kill_switch", "ts": now_ts(), "event_id": f"ci-{uuid.uuid4()}", "active": True, "reason": "manual"}]
    )
    assert ack["accepted"] == 1, ack

    def alert():
        alerts = stack.get_json("ALERTMANAGER_PORT", "/api/v2/alerts?filter=alertname%3D%22KillSwitchActivated%22")
        return [a for a in alerts if a["status"]["state"] == "active"]

    eventually(alert, 120, "KillSwitchActivated active in Alertmanager")
    slack = eventually(
        lambda: [m for m in stack.slack_messages() if "KillSwitchActivated" in str(m["body"])
                 or "Kill switch" in str(m["body"])],
        90, "KillSwitchActivated posted to the Slack stand-in",
    )  # fmt: skip
    assert slack[0]["path"] == f"/services/{PROJECT}"
    mails = eventually(
        lambda: [m for m in stack.mails() if "trading-oncall@tradewatch.local" in m["To"]
                 and ("KillSwitch" in m["Subject"] or "Kill switch" in m["Subject"])],
        90, "the kill switch e-mail at the Mailpit stand-in",
    )  # fmt: skip
    assert "KillSwitchActivated" in mails[0]["Text"] or "Kill switch" in mails[0]["Text"]
    stack.post_events(
        [{"type": "kill_switch", "ts": now_ts(), "event_id": f"ci-{uuid.uuid4()}", "active": False, "reason": "manual"}]
    )


def _orders(stack: Stack, strategy: str) -> float:
    text = requests.get(stack.url("TRADING_EXPORTER_PORT", "/metrics"), timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tradewatch_trading_orders_total{") and f'strategy="{strategy}"' in line
        and 'status="submitted"' in line
    )  # fmt: skip


def _submit(stack: Stack, strategy: str, n: int) -> None:
    events = [
        {"type": "order_submitted", "ts": now_ts(), "event_id": f"ci-{uuid.uuid4()}", "strategy": strategy,
         "order_id": f"ci-{uuid.uuid4().hex[:12]}", "symbol": "BTC-USD", "side": "buy", "order_type": "market",
         "quantity": 1, "reference_price": 64000}
        for _ in range(n)
    ]  # fmt: skip
    assert stack.post_events(events)["accepted"] == n


def test_journal_survives_restart_and_kill(stack: Stack) -> None:
    strategy = "ci-journal"
    _submit(stack, strategy, 5)
    assert _orders(stack, strategy) == 5
    exporter = stack.project.container("trading-exporter")

    exporter.restart(timeout=20)
    stack.project.wait("trading-exporter", healthy=False, timeout=60)
    eventually(lambda: _orders(stack, strategy) == 5, 90, "5 orders after docker restart")

    _submit(stack, strategy, 3)
    exporter.kill()  # SIGKILL: no shutdown hook, no final snapshot
    exporter.reload()
    if exporter.status != "running":  # restart: unless-stopped does not restart a killed container
        exporter.start()
    eventually(lambda: _orders(stack, strategy) == 8, 90, "8 acknowledged orders after docker kill")
    stack.project.wait("trading-exporter", healthy=True, timeout=120)


def test_report_scheduler_writes_a_report_into_its_volume(stack: Stack) -> None:
    scheduler = stack.project.container("report-scheduler")

    def report_files():
        out = scheduler.exec_run(["find", "/var/lib/tradewatch/reports", "-type", "f"])
        files = [f for f in out.output.decode().split() if not f.endswith(".scheduler-heartbeat")]
        return files if any(f.endswith(".html") for f in files) else None

    files = eventually(report_files, 240, "a scheduled report in the report-data volume", interval=5)
    print("report files:", files)
    volume = stack.client.volumes.get(f"{PROJECT}_report-data")
    assert volume.attrs["Name"] in {m["Name"] for m in scheduler.attrs["Mounts"] if m["Type"] == "volume"}
    eventually(
        lambda: [m for m in stack.mails() if "desk@tradewatch.local" in m["To"]],
        60, "the report e-mailed through the Mailpit stand-in",
    )  # fmt: skip


def test_simulator_feeds_the_exporters(stack: Stack) -> None:
    def accepted():
        text = requests.get(stack.url("TRADING_EXPORTER_PORT", "/metrics"), timeout=10).text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("tradewatch_events_accepted_total{"))  # fmt: skip
        return total > 100

    eventually(accepted, 120, "the simulator's events accepted by the trading exporter")
