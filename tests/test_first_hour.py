"""The first hour of a new user: what the CLI prints, what git ignores, what `tradewatch dev` refuses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tradewatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradewatch", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["trading-exporter", "--check-config"],
        ["model-exporter", "--print-settings"],
        ["simulate", "--help"],
    ],
)
def test_output_into_a_closed_pipe_is_no_traceback(argv: list[str]) -> None:
    """`tradewatch ... | head`: the reader goes away before the output is written; no BrokenPipeError traceback."""
    cmd = subprocess.list2cmdline([sys.executable, "-m", "tradewatch", *argv])
    res = subprocess.run(f"{cmd} | true", shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr


def _alertmanager_post(severity: str, summary: str) -> dict:
    """What the shipped Alertmanager template posts to Slack (alertmanager/templates/tradewatch.tmpl)."""
    return {
        "username": "TradeWatch",
        "attachments": [
            {
                "color": "danger" if severity == "critical" else "warning",
                "title": f"[FIRING:1] KillSwitchActivated ({severity}, team trading)",
                "title_link": "http://localhost:3000/d/tradewatch-risk",
                "text": f":red_circle: *{summary}*\nThe kill switch on account demo is engaged <b>now</b>.",
            }
        ],
    }


def test_slack_stand_in_shows_received_messages_and_serves_the_runbooks() -> None:
    import requests

    from tradewatch.devstack.receivers import SlackReceiver

    slack = SlackReceiver(docs_dir=ROOT / "docs").start()
    try:
        empty = requests.get(slack.url + "/", timeout=5)
        assert empty.status_code == 200 and "No message received yet" in empty.text
        assert (
            requests.post(
                slack.url + "/slack", json=_alertmanager_post("critical", "Kill switch engaged"), timeout=5
            ).text
            == "ok"
        )
        page = requests.get(slack.url + "/", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "KillSwitchActivated" in page.text and "critical" in page.text
        assert "Kill switch engaged" in page.text and "&lt;b&gt;now&lt;/b&gt;" in page.text, "body, escaped"
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page.text), "arrival time"
        (post,) = slack.messages
        assert post.severity == "critical" and post.body.startswith(":red_circle:")
        runbook = requests.get(slack.url + "/docs/runbooks/KillSwitchActivated.md", timeout=5)
        assert (
            runbook.status_code == 200 and runbook.text == (ROOT / "docs/runbooks/KillSwitchActivated.md").read_text()
        )
        assert "KillSwitchActivated.md" in requests.get(slack.url + "/docs/runbooks/", timeout=5).text
        for outside in ("/docs/../pyproject.toml", "/docs/%2e%2e/pyproject.toml", "/docs/nope.md"):
            assert requests.get(slack.url + outside, timeout=5).status_code == 404, outside
    finally:
        slack.stop()


def test_terminal_line_of_a_slack_message_has_time_and_body() -> None:
    from tradewatch.devstack.command import _slack_line
    from tradewatch.devstack.receivers import SlackPost

    line = _slack_line(SlackPost("/slack", _alertmanager_post("warning", "Drawdown 12%"), received=0.0))
    assert line.startswith("1970-01-01 00:00:00 UTC [FIRING:1] KillSwitchActivated (warning")
    assert "\n    :red_circle: *Drawdown 12%*" in line


def test_unknown_scenario_is_refused_before_anything_starts(tmp_path: Path) -> None:
    workdir = tmp_path / "dev"
    res = _tradewatch("dev", "--scenario", "flashcrash", "--workdir", str(workdir))
    assert res.returncode == 2
    assert "unknown scenario 'flashcrash'" in res.stdout and "flash-crash" in res.stdout
    assert not workdir.exists(), "nothing started, nothing written"


def test_dev_help_lists_the_scenarios_like_simulate() -> None:
    from tradewatch.simulate.scenarios import SCENARIOS

    dev, sim = _tradewatch("dev", "--help").stdout, _tradewatch("simulate", "--help").stdout
    for scenario in SCENARIOS.values():
        line = f"  {scenario.name:16} {scenario.summary}"
        assert line in dev and line in sim, scenario.name
    assert "--fresh" in dev


def test_fresh_start_removes_the_earlier_runs_state_and_says_so(tmp_path: Path) -> None:
    from tradewatch.devstack.command import start_from

    assert start_from(tmp_path, fresh=False).startswith("First start")
    (tmp_path / "trading-journal").mkdir()
    (tmp_path / "trading-journal" / "segment.jsonl").write_text("{}\n")
    (tmp_path / "prometheus" / "data").mkdir(parents=True)
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    assert "make dev-clean" in start_from(tmp_path, fresh=False)
    assert (tmp_path / "trading-journal").exists()
    said = start_from(tmp_path, fresh=True)
    assert said.startswith("Fresh start: removed") and "trading-journal" in said and "prometheus" in said
    assert not (tmp_path / "trading-journal").exists() and not (tmp_path / "prometheus").exists()
    assert keep.read_text() == "mine", "only the stack's own state goes"


def test_generated_output_directories_are_git_ignored(tmp_path: Path) -> None:
    for path in ("reports/daily.html", "data/trading-journal/x.jsonl", ".dev/logs/x.log"):
        res = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert res.returncode == 0, f"{path} is not git-ignored"


def test_simulate_and_dev_options_all_have_help() -> None:
    from tradewatch.cli import build_parser

    for command in ("simulate", "dev"):
        sub = next(a for a in build_parser(command)._actions if a.dest == "command").choices[command]
        bare = [a.option_strings for a in sub._actions if not a.help]
        assert not bare, f"tradewatch {command}: options without help text: {bare}"
    assert "starting equity" in _tradewatch("simulate", "--help").stdout


def test_make_dev_takes_a_scenario_and_lint_checks_the_format() -> None:
    out = subprocess.run(
        ["make", "-n", "dev", "SCENARIO=flash-crash"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    assert "tradewatch dev --scenario flash-crash" in out, out
    out = subprocess.run(["make", "-n", "dev-clean"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "tradewatch dev --fresh" in out, out
    lint = subprocess.run(["make", "-n", "lint"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "ruff format --check" in lint and "|| true" not in lint, lint
