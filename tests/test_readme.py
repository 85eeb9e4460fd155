"""The README's commands and example work as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tradewatch.core import config as cfg

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.fixture
def exporters(tmp_path: Path):
    from tradewatch.model.exporter import build as build_model
    from tradewatch.model.settings import settings as model_settings
    from tradewatch.trading.command import build as build_trading
    from tradewatch.trading.settings import settings as trading_settings

    trading = build_trading(
        cfg.load(
            trading_settings(), None, environ={}, overrides={"http.port": 0, "journal.path": str(tmp_path / "trading")}
        )
    )
    model = build_model(
        cfg.load(
            model_settings(), None, environ={}, overrides={"http.port": 0, "journal.path": str(tmp_path / "model")}
        )
    )
    ports = trading.start(), model.start()
    yield ports
    trading.stop()
    model.stop()


def _value(port: int, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_client_example_runs_as_written_and_pages_nobody(exporters, tmp_path: Path, monkeypatch) -> None:
    """The README's block, unchanged, as a user without root runs it: only the exporters' addresses
    (its environment variables) and the home directory (where the spool goes) differ."""
    (block,) = [b for b in _python_blocks() if "TradeWatchClient" in b]
    trading_port, model_port = exporters
    monkeypatch.setenv("TRADEWATCH_TRADING_URL", f"http://127.0.0.1:{trading_port}")
    monkeypatch.setenv("TRADEWATCH_MODEL_URL", f"http://127.0.0.1:{model_port}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "home" / ".local/state/mybot/tradewatch-spool").is_dir(), "spool under $HOME"
    assert _value(trading_port, 'tradewatch_events_accepted_total{type="order_submitted"}') == 1
    assert _value(trading_port, 'tradewatch_events_accepted_total{type="order_filled"}') == 1
    assert _value(trading_port, 'tradewatch_trading_equity{account="readme-demo"}') == 101_250.0
    assert _value(trading_port, 'tradewatch_trading_equity{account="default"}') == 0, "no 'default' account"
    assert _value(trading_port, "tradewatch_trading_kill_switch_active") == 0, "the example pages nobody"
    assert _value(model_port, 'tradewatch_events_accepted_total{type="prediction"}') == 1


def test_readme_says_how_to_clear_a_kill_switch() -> None:
    assert 'tw.kill_switch(active=True, reason="daily_loss")' in README
    assert 'tw.kill_switch(active=False, reason="daily_loss")' in README


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.M))
    used = set(re.findall(r"`make ([a-z-]+)", README))
    assert used, "the README names make targets"
    assert used <= targets, used - targets


def test_cli_commands_in_the_readme_exist() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tradewatch", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in set(re.findall(r"`(?:\.venv/bin/)?tradewatch ([a-z][a-z-]*)", README)):
        assert re.search(rf"^\s+{command}\b", out, re.M), f"tradewatch {command} is not a command"


def test_host_commands_use_the_virtualenv_cli() -> None:
    """`make dev` does not put `tradewatch` on PATH: README and docs say .venv/bin/tradewatch."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    bare = []
    for path in docs:
        in_code = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("```"):
                in_code = not in_code
            elif (in_code and line.startswith("tradewatch ")) or (
                not in_code
                and not line.startswith("#")
                and re.search(r"(?<![\w/.-])`tradewatch (?!report --schedule`)[a-z-]", line)
            ):
                bare.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bare, "\n".join(bare)
