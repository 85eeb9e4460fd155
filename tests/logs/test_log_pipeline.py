"""Real log output of the exporters (and a client-instrumented trading system) through the field
mapping of loki/config.alloy.

The mapping is read out of config.alloy (labels, structured metadata, timestamp field and format),
the log lines come from real processes' stdout, so the test breaks when either side drifts: a field
renamed in tradewatch.core.logging, a stage changed in the Alloy config, an ID promoted to a label.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alloy_pipeline import ALLOY_FILE, Entry, Pipeline, parse_alloy

from tradewatch.core import logging as twlog

ROOT = Path(__file__).resolve().parents[2]
LEVELS = {"debug", "info", "warning", "error", "critical"}
ALLOWED_LABELS = {"service", "level"}
# Labels the discovery/relabel stages add per container (bounded by the number of containers).
CONTAINER_LABELS = {"container", "compose_service"}
ID_LIKE = re.compile(r"^[0-9a-f]{16,}$|^[0-9a-f-]{36}$|\d{6,}")
EXPORTERS = ("system-exporter", "trading-exporter", "model-exporter")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_config()


def check_entries(entries: Iterable[Entry], processes: int) -> list[str]:
    """Problems Loki would have with these entries: high-cardinality labels, missing fields."""
    problems: list[str] = []
    label_sets = set()
    for entry in entries:
        extra = set(entry.labels) - ALLOWED_LABELS
        if extra:
            problems.append(f"labels beyond service/level: {sorted(extra)} in {entry.line[:120]}")
        if set(entry.labels) != ALLOWED_LABELS:
            problems.append(f"labels {sorted(entry.labels)} instead of service and level: {entry.line[:120]}")
        for name, value in entry.labels.items():
            if ID_LIKE.search(value):
                problems.append(f"label {name}={value!r} looks like an identifier")
        if entry.labels.get("level") not in LEVELS:
            problems.append(f"level {entry.labels.get('level')!r} not one of {sorted(LEVELS)}")
        if "logger" not in entry.metadata:
            problems.append(f"no logger metadata: {entry.line[:120]}")
        if entry.timestamp is None:
            problems.append(f"timestamp not taken from the line: {entry.line[:120]}")
        label_sets.add(tuple(sorted(entry.labels.items())))
    if len(label_sets) > processes * len(LEVELS):
        problems.append(f"{len(label_sets)} streams from {processes} processes: labels are not bounded")
    return problems


# ------------------------------------------------------------------ both sides name the same fields


def test_core_logging_declares_what_alloy_maps(pipeline: Pipeline) -> None:
    assert set(pipeline.labels) == set(twlog.LABEL_FIELDS) == ALLOWED_LABELS
    assert set(pipeline.metadata) == set(twlog.METADATA_FIELDS)
    assert set(twlog.LOG_FIELDS) <= set(pipeline.expressions.values())
    assert pipeline.timestamp_source == "timestamp" and pipeline.timestamp_format == "RFC3339"
    assert pipeline.drop_malformed is False, "non-JSON lines (Loki's own logs, crashes) must pass through"
    assert pipeline.timestamp_on_failure == "skip", "a line without a time keeps Docker's time"


def test_alloy_components_are_wired_end_to_end() -> None:
    blocks = parse_alloy(ALLOY_FILE.read_text())
    defined = {f"{b.name}.{b.label}" for b in blocks}
    references = re.findall(
        r"((?:discovery|loki)\.[a-z_.]+?)\.(?:receiver|targets|output|rules)\b", ALLOY_FILE.read_text()
    )
    assert references, "no component references found"
    for reference in references:
        assert reference in defined, f"{reference} is used but not defined"
    process = next(b for b in blocks if b.name == "loki.process")
    order = [b.name for b in process.blocks]
    assert order.index("stage.json") < min(
        order.index(s) for s in ("stage.labels", "stage.structured_metadata", "stage.timestamp")
    )


# ------------------------------------------------------------------ real processes


def _reader(stream, out: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        out.put(raw.decode("utf-8", "replace").rstrip("\n"))
    out.put(None)


class _Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str]):
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradewatch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=env.get("HOME"),
        )
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(self.proc.stdout, self.queue), daemon=True).start()

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"{self.name} exited: {self.lines[-5:]}")
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{self.name}: no {needle!r} within {timeout}s: {self.lines[-5:]}")

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        while True:
            try:
                line = self.queue.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.lines


def _post(port: int, body: bytes) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/events", data=body, method="POST", headers={"Content-Type": "application/x-ndjson"}
    )
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except urllib.error.HTTPError as exc:  # all-invalid batches answer 4xx, and still log
        exc.read()


@pytest.fixture(scope="module")
def process_logs(tmp_path_factory) -> dict[str, list[str]]:
    """stdout of each exporter: start, serve a scrape and some events (good and bad), stop."""
    home = tmp_path_factory.mktemp("logs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWATCH_")}
    env.update(HOME=str(home), TRADEWATCH_LOG_LEVEL="debug", PYTHONUNBUFFERED="1")
    started = datetime.now(UTC)
    processes = []
    for name in EXPORTERS:
        process_env = dict(env, TRADEWATCH_JOURNAL_PATH=str(home / f"{name}-journal"))
        processes.append(_Process(name, [name, "--port", "0", "--listen-address", "127.0.0.1"], process_env))
    ports = {}
    try:
        for process in processes:
            listening = json.loads(process.wait_for("exporter listening"))
            port = ports[process.name] = listening["port"]
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
            if process.name != "system-exporter":
                now = datetime.now(UTC).isoformat()
                good = {
                    "type": "heartbeat",
                    "ts": now,
                    "event_id": f"{process.name}-1",
                    "component": "bot",
                    "status": "healthy",
                }
                _post(port, b"\n".join([json.dumps(good).encode(), b"{not json", b'{"type": "bogus"}']))
            if process.name == "trading-exporter":
                # Engaged, engaged again (no new announcement), released.
                _post(
                    port,
                    b"\n".join(
                        json.dumps(
                            {
                                "type": "kill_switch",
                                "ts": datetime.now(UTC).isoformat(),
                                "event_id": f"ks-{i}",
                                "account": "desk-a",
                                "active": active,
                                "reason": "daily_loss",
                            }
                        ).encode()
                        for i, active in enumerate((True, True, False))
                    ),
                )
        # The demo trading system, as compose runs it, sending to the exporters above for a moment.
        simulator = _Process(
            "simulator",
            [
                "simulate",
                "--log-level",
                "debug",
                "--duration",
                "1.5",
                "--warmup",
                "0.5",
                "--rate",
                "4",
                "--trading-url",
                f"http://127.0.0.1:{ports['trading-exporter']}",
                "--model-url",
                f"http://127.0.0.1:{ports['model-exporter']}",
                "--spool-dir",
                str(home / "spool"),
            ],
            env,
        )
        simulator.proc.wait(timeout=60)
        processes.append(simulator)
    finally:
        logs = {process.name: process.stop() for process in processes}
    # The trading exporter again on the same journal: the replay must not announce old halts.
    name = "trading-exporter"
    again = _Process(
        name,
        [name, "--port", "0", "--listen-address", "127.0.0.1"],
        dict(env, TRADEWATCH_JOURNAL_PATH=str(home / f"{name}-journal")),
    )
    try:
        again.wait_for("exporter listening")
    finally:
        logs["trading-exporter-restarted"] = again.stop()
    logs["_started"] = [started.isoformat()]
    return logs


def test_every_exporter_line_is_json_and_fully_mapped(pipeline: Pipeline, process_logs: dict) -> None:
    started = datetime.fromisoformat(process_logs["_started"][0]) - timedelta(seconds=2)
    finished = datetime.now(UTC) + timedelta(seconds=2)
    for name in EXPORTERS:
        lines = [line for line in process_logs[name] if line.strip()]
        assert len(lines) >= 3, f"{name} logged only {lines}"
        entries = [pipeline.apply(line) for line in lines]
        problems = check_entries(entries, processes=1)
        assert problems == [], f"{name}: {problems[:5]}"
        assert {e.labels["service"] for e in entries} == {name}
        stamps = [e.timestamp for e in entries]
        assert all(started <= t <= finished for t in stamps), f"{name}: timestamps outside the run"
        assert stamps == sorted(stamps), f"{name}: timestamps go backwards"
        events = [json.loads(line)["event"] for line in lines]
        assert "exporter listening" in events and "exporter stopped" in events


def test_simulator_logs_map_like_the_exporters(pipeline: Pipeline, process_logs: dict) -> None:
    lines = [line for line in process_logs["simulator"] if line.strip()]
    assert lines, "the simulator logged nothing"
    entries = [pipeline.apply(line) for line in lines]
    assert check_entries(entries, processes=1) == [], lines[:3]
    assert {e.labels["service"] for e in entries} == {"simulator"}


def test_rejected_input_is_logged_as_warning(pipeline: Pipeline, process_logs: dict) -> None:
    for name in ("trading-exporter", "model-exporter"):
        entries = [pipeline.apply(line) for line in process_logs[name] if line.strip()]
        assert any(e.labels["level"] == "warning" for e in entries), f"{name} logged no rejection"


def test_streams_stay_few_across_all_exporters(pipeline: Pipeline, process_logs: dict) -> None:
    names = (*EXPORTERS, "simulator")
    entries = [pipeline.apply(line) for name in names for line in process_logs[name] if line.strip()]
    streams = {tuple(sorted(e.labels.items())) for e in entries}
    assert len(streams) <= len(names) * len(LEVELS)
    assert {s for stream in streams for s, _ in stream} == ALLOWED_LABELS


# ------------------------------------------------------------------ a trading system using the client

TRADING_SYSTEM = textwrap.dedent("""
    import logging
    from tradewatch.client import logging_setup
    from tradewatch.core.logging import correlation

    log = logging_setup("alpha-bot", "info", account_ids=["ACC-99887766"])
    with correlation("ord-7f3a9c") as cid:
        log.info("order submitted", symbol="BTC-USD", account="ACC-99887766", order_id=cid)
        logging.getLogger("venue.rest").warning("venue slow, retrying", extra={"attempt": 2})
        try:
            raise TimeoutError("venue did not answer")
        except TimeoutError:
            log.exception("order failed")
    log.info("idle")
""")


@pytest.fixture(scope="module")
def client_lines(tmp_path_factory) -> list[str]:
    script = tmp_path_factory.mktemp("bot") / "bot.py"
    script.write_text(TRADING_SYSTEM)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60, check=True)
    return result.stdout.decode().splitlines()


def test_trading_system_logs_map_like_the_exporters(pipeline: Pipeline, client_lines: list[str]) -> None:
    entries = [pipeline.apply(line) for line in client_lines]
    assert len(entries) == 4
    assert check_entries(entries, processes=1) == []
    assert {e.labels["service"] for e in entries} == {"alpha-bot"}
    correlated = [e for e in entries if "correlation_id" in e.metadata]
    assert [e.metadata["correlation_id"] for e in correlated] == ["ord-7f3a9c"] * 3
    assert all("ord-7f3a9c" not in value for e in entries for value in e.labels.values())
    assert {e.metadata["logger"] for e in entries} == {"alpha-bot", "venue.rest"}


def test_account_ids_never_reach_loki(client_lines: list[str]) -> None:
    assert not any("99887766" in line for line in client_lines)


def test_tracebacks_stay_inside_one_json_line(pipeline: Pipeline, client_lines: list[str]) -> None:
    """log.exception() keeps the traceback in the line: the LogExceptionStorm rule greps for it."""
    (failed,) = [line for line in client_lines if '"order failed"' in line]
    entry = pipeline.apply(failed)
    assert entry.labels["level"] == "error"
    assert "Traceback (most recent call last)" in json.loads(failed)["exception"]
    assert "Traceback (most recent call last)" in failed.replace("\\n", "\n")


# ------------------------------------------------------------------ what is not ours passes through

LOKI_STREAM = {"container": "tradewatch-loki-1", "compose_service": "loki"}


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ('level=warn ts=2026-11-21T07:00:00.000Z caller=compactor.go:123 msg="compaction done"', "warning"),
        ('logger=context userId=0 orgId=1 uname=admin t=2026-11-21T07:00:00Z level=error msg="x"', "error"),
        ('time=2026-11-21T07:00:00.000Z level=INFO source=main.go:1 msg="Server is ready"', "info"),
        ('ts=2026-11-21T07:00:00Z level=debug msg="flushing"', "debug"),
        ('level="critical" msg="out of disk"', "critical"),
        ("2026/11/21 07:00:00 [error] 7#7: *1 open() failed", "error"),
        ("2026/11/21 07:00:00 [notice] 1#1: start worker processes", "info"),
        ('INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200 OK', "info"),
        ("2026-11-21 07:00:00 WARN  disk almost full", "warning"),
        ("panic: runtime error: index out of range [3] with length 3", None),  # lower case: not a level word
        ("no error in this sentence", None),
        ("Traceback (most recent call last):", None),
        ("[1, 2, 3]", None),
        ('"just a string"', None),
        ("", None),
    ],
)
def test_non_json_lines_get_their_container_as_service_and_a_level_when_stated(
    pipeline: Pipeline, line: str, level: str | None
) -> None:
    entry = pipeline.apply(line, LOKI_STREAM)
    assert entry is not None, "dropped"
    assert entry.line == line and entry.timestamp is None
    expected = {"service": "loki"} | ({"level": level} if level else {})
    assert entry.labels == expected


def test_the_container_name_serves_when_there_is_no_compose_service(pipeline: Pipeline) -> None:
    entry = pipeline.apply("ERROR something broke", {"container": "mybot"})
    assert entry.labels == {"service": "mybot", "level": "error"}
    assert pipeline.apply("ERROR something broke").labels == {"level": "error"}, "no stream: no service"


def test_a_json_line_keeps_its_own_service_and_level(pipeline: Pipeline) -> None:
    """The JSON fields win over the container and over words in the message; other programs' levels
    are brought to the same five words."""
    ours = {
        "timestamp": "2026-11-21T07:00:00.000Z",
        "level": "info",
        "service": "trading-exporter",
        "logger": "x",
        "event": "saw level=error and ERROR in a message",
    }
    assert pipeline.apply(json.dumps(ours), LOKI_STREAM).labels == {"service": "trading-exporter", "level": "info"}
    theirs = {"level": "WARN", "msg": "slow"}
    assert pipeline.apply(json.dumps(theirs), LOKI_STREAM).labels == {"service": "loki", "level": "warning"}


def test_levels_of_every_line_stay_in_the_five_words(pipeline: Pipeline) -> None:
    """Parsed from text, only known words become a level; a JSON level (taken as the program wrote
    it) is brought to the five words when it is a common synonym."""
    synonyms = [
        "debug",
        "dbug",
        "trace",
        "info",
        "notice",
        "warn",
        "warning",
        "error",
        "eror",
        "err",
        "crit",
        "critical",
        "fatal",
        "panic",
        "alert",
        "emerg",
        "INFO",
        "Warning",
    ]
    for word in [*synonyms, "verbose", "http", "silly"]:
        for line in (f"level={word} msg=x", f"[{word}] x", f"{word.upper()} x"):
            level = pipeline.apply(line, LOKI_STREAM).labels.get("level")
            assert level is None or level in LEVELS, (line, level)
    for word in synonyms:
        assert pipeline.apply(json.dumps({"level": word}), LOKI_STREAM).labels["level"] in LEVELS, word


def test_json_line_with_a_bad_timestamp_keeps_docker_time(pipeline: Pipeline) -> None:
    line = {"timestamp": "yesterday", "level": "info", "service": "x", "logger": "y", "event": "e"}
    entry = pipeline.apply(json.dumps(line))
    assert entry.timestamp is None and entry.labels == {"service": "x", "level": "info"}


# ------------------------------------------------------------------ the check can fail


def _mutated(old: str, new: str) -> str:
    text = ALLOY_FILE.read_text()
    assert old in text, f"mutation target {old!r} not in config.alloy"
    return text.replace(old, new, 1)


def test_promoting_an_id_to_a_label_is_caught(client_lines: list[str]) -> None:
    promoted = '      level   = "",\n      correlation_id = "",\n'
    bad = Pipeline.from_config(_mutated('      level   = "",\n', promoted))
    problems = check_entries([bad.apply(line) for line in client_lines], processes=1)
    assert any("correlation_id" in problem for problem in problems)


def test_renaming_the_timestamp_field_is_caught(client_lines: list[str]) -> None:
    bad = Pipeline.from_config(_mutated('source            = "timestamp"', 'source            = "time"'))
    problems = check_entries([bad.apply(line) for line in client_lines], processes=1)
    assert any("timestamp not taken" in problem for problem in problems)


def test_dropping_a_label_is_caught(client_lines: list[str]) -> None:
    bad = Pipeline.from_config(_mutated('      level   = "",\n', ""))
    assert check_entries([bad.apply(line) for line in client_lines], processes=1)


# ------------------------------------------------------------------ Grafana queries use these labels


def _loki_queries(node, is_loki: bool = False):
    if isinstance(node, dict):
        source = node.get("datasource")
        if isinstance(source, dict) and source.get("uid") not in (None, "-- Mixed --"):
            is_loki = source.get("type") == "loki" or source.get("uid") == "loki"
        if node.get("datasourceUid") is not None:
            is_loki = node["datasourceUid"] == "loki"
        if is_loki and isinstance(node.get("expr"), str):
            yield node["expr"]
        for value in node.values():
            yield from _loki_queries(value, is_loki)
    elif isinstance(node, list):
        for item in node:
            yield from _loki_queries(item, is_loki)


def test_grafana_log_queries_select_on_labels_the_pipeline_sets() -> None:
    import yaml

    documents = [json.loads(p.read_text()) for p in (ROOT / "grafana" / "dashboards").rglob("*.json")]
    documents += [yaml.safe_load(p.read_text()) for p in (ROOT / "grafana" / "provisioning").rglob("*.yml")]
    queries = [q for doc in documents for q in _loki_queries(doc)]
    if not queries:
        pytest.skip("no Loki queries in grafana/ yet")
    produced = ALLOWED_LABELS | CONTAINER_LABELS
    for query in queries:
        for selector in re.findall(r"\{([^{}]*)\}", query):
            if "$" in selector and "=" not in selector:
                continue
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", selector):
                assert name in produced, f"Loki query selects on {name!r}, which no stage sets: {query}"


# ------------------------------------------------------------------ LogKillSwitch: the event, not the word


def _kill_switch_rule() -> str:
    from tradewatch.dashboards.logalerts import RULES

    (rule,) = [r for r in RULES if r.title == "LogKillSwitch"]
    return rule.expr


def _selected(pipeline: Pipeline, expr: str, lines: list[str]) -> list[dict]:
    from logql_model import matches

    out = []
    for line in lines:
        entry = pipeline.apply(line, {"container": "tradewatch-trading-exporter-1"})
        if entry is not None and matches(expr, line, entry.labels, entry.metadata):
            out.append(json.loads(line))
    return out


def test_engaging_the_kill_switch_is_logged_once_as_a_structured_event(process_logs: dict) -> None:
    from tradewatch.trading.safetylog import KILL_SWITCH_ENGAGED, KILL_SWITCH_RELEASED

    records = [json.loads(line) for line in process_logs["trading-exporter"] if line.startswith("{")]
    engaged = [r for r in records if r["event"] == KILL_SWITCH_ENGAGED]
    released = [r for r in records if r["event"] == KILL_SWITCH_RELEASED]
    assert len(engaged) == 1, "engaged twice in a row is one engagement"
    assert engaged[0]["level"] == "warning" and engaged[0]["account"] == "desk-a"
    assert engaged[0]["reason"] == "daily_loss" and engaged[0]["event_id"] == "ks-0"
    assert len(released) == 1 and released[0]["level"] == "info"


def test_log_kill_switch_fires_on_the_event_and_not_on_a_word(pipeline: Pipeline, process_logs: dict) -> None:
    """The rejected 'bogus' type logs a warning listing the known types, kill_switch among them:
    that line used to page the desk (critical, for 0s)."""
    lines = [line for line in process_logs["trading-exporter"] if line.strip()]
    mentions = [line for line in lines if "kill_switch" in line and "unknown event type" in line]
    assert mentions, "the exporter no longer names the known types when it rejects an unknown one"
    selected = _selected(pipeline, _kill_switch_rule(), lines)
    assert [r["event"] for r in selected] == ["kill_switch_engaged"]
    old = 'sum by (service) (count_over_time({level=~"warning|error|critical"} |~ "(?i)kill[ _-]?switch" [5m]))'
    assert _selected(pipeline, old, mentions), "the old rule matched the mention (the test can fail)"


def test_a_restart_does_not_announce_old_halts(pipeline: Pipeline, process_logs: dict) -> None:
    lines = [line for line in process_logs["trading-exporter-restarted"] if line.strip()]
    assert any('"journal replayed"' in line for line in lines)
    assert _selected(pipeline, _kill_switch_rule(), lines) == []
