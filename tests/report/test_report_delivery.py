"""E-mail delivery to a real SMTP server (aiosmtpd), retries when it is down, and the CLI end to end."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from report_helpers import free_port

from tradewatch.core import logging as twlog
from tradewatch.report import mailer, render
from tradewatch.report.period import resolve
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import Options

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(backfilled):
    period = resolve("daily", "2026-11-16", "UTC", chart_step=600, resolution=60)
    return render.build(Prometheus(backfilled.url), period, Options(["trading", "model", "system"]), name="desk")


def smtp_settings(host: str, port: int, **kw) -> mailer.SMTPSettings:
    return mailer.SMTPSettings(host=host, port=port, sender="tradewatch@desk.example", starttls="none", timeout=5, **kw)


def test_delivered_with_inline_charts(report, smtp_server):
    to = ["PM Desk <pm@desk.example>", "risk@desk.example"]
    sender = "TradeWatch Reports <tradewatch@desk.example>"
    msg = mailer.build_message(report, sender, to)
    settings = smtp_settings(smtp_server.host, smtp_server.port, retries=0)
    settings.sender = sender
    assert mailer.send(msg, settings) == 1
    [got] = smtp_server.wait(1)
    [envelope] = smtp_server.envelopes
    # Display names stay in the headers; the SMTP envelope carries bare addresses.
    assert envelope.rcpt_tos == ["pm@desk.example", "risk@desk.example"]
    assert envelope.mail_from == "tradewatch@desk.example" and got["From"] == sender
    assert got["Subject"] == "TradeWatch daily report, 16 Nov 00:00 to 17 Nov 2026 00:00 UTC"
    assert got["To"] == ", ".join(to)
    html_part = got.get_body(preferencelist=("html",))
    text_part = got.get_body(preferencelist=("plain",))
    assert "No data from the trading exporter from 02:10 to 02:40 UTC" in text_part.get_content()
    related = next(p for p in got.walk() if p.get_content_type() == "multipart/related")
    html = html_part.get_content()
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    images = {p["Content-ID"].strip("<>"): p for p in related.iter_parts() if p.get_content_maintype() == "image"}
    assert referenced == set(images) and len(images) == len(report.images) >= 8
    for part in images.values():
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        assert part.get_content()[:8] == PNG
    assert "data:image" not in html  # mail clients block data: URIs; CIDs only
    [attachment] = [p for p in got.iter_attachments() if p.get_filename() == "report.json"]
    assert orjson.loads(attachment.get_content())["sections"]["pnl"]["data"]["total"] == pytest.approx(
        report.document()["sections"]["pnl"]["data"]["total"]
    )


def test_failed_send_is_retried_then_logged_and_kept(report, tmp_path):
    out = io.BytesIO()
    twlog.setup("report-test", "info", stream=out)
    port = free_port()  # nothing listens here: the SMTP server is down
    delays: list[float] = []
    msg = mailer.build_message(report, "tradewatch@desk.example", ["pm@desk.example"])
    saved = tmp_path / "undelivered.eml"
    with pytest.raises(mailer.DeliveryError, match=r"after 3 attempt\(s\)"):
        mailer.send(
            msg,
            smtp_settings("127.0.0.1", port, retries=2, backoff=0.5),
            sleep=delays.append,
            save_failed=saved,
        )
    assert delays == [0.5, 1.0]  # exponential backoff between the three attempts
    logs = [json.loads(line) for line in out.getvalue().splitlines()]
    attempts = [e for e in logs if e["event"] == "report e-mail attempt failed"]
    assert [e["attempt"] for e in attempts] == [1, 2, 3]
    assert all(e["level"] == "warning" and "ConnectionRefusedError" in e["error"] for e in attempts)
    [failed] = [e for e in logs if e["event"] == "report e-mail failed"]
    assert failed["level"] == "error" and failed["saved_to"] == str(saved)
    assert saved.read_bytes().startswith(b"Subject: TradeWatch daily report, 16 Nov")


def test_retry_succeeds_once_the_server_is_back(report, smtp_server):
    msg = mailer.build_message(report, "tradewatch@desk.example", ["pm@desk.example"])
    real = smtp_settings(smtp_server.host, smtp_server.port, retries=3, backoff=0.1)
    down = smtp_settings("127.0.0.1", free_port(), retries=3, backoff=0.1)
    calls = []

    def sleep(delay: float) -> None:  # the server "comes back" during the first backoff
        calls.append(delay)
        down.port = real.port

    assert mailer.send(msg, down, sleep=sleep) == 2
    assert calls == [0.1] and len(smtp_server.wait(1)) == 1


def test_mandatory_starttls_refuses_a_plain_server(report, smtp_server):
    msg = mailer.build_message(report, "tradewatch@desk.example", ["pm@desk.example"])
    settings = smtp_settings(smtp_server.host, smtp_server.port, retries=0)
    settings.starttls = "mandatory"
    with pytest.raises(mailer.DeliveryError, match="does not offer STARTTLS"):
        mailer.send(msg, settings)
    assert smtp_server.envelopes == []


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradewatch", "report", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=60,
    )


def test_cli_renders_and_mails(backfilled, smtp_server, tmp_path):
    secret = tmp_path / "smtp_password"
    secret.write_text("not-used-without-username\n")
    env = {
        "TRADEWATCH_SMTP_HOST": smtp_server.host,
        "TRADEWATCH_SMTP_PORT": str(smtp_server.port),
        "TRADEWATCH_SMTP_FROM": "tradewatch@desk.example",
        "TRADEWATCH_SMTP_STARTTLS": "none",
        "TRADEWATCH_SMTP_PASSWORD_FILE": str(secret),
    }
    out = tmp_path / "r"
    done = _cli(
        [
            "--period",
            "daily",
            "--at",
            "2026-11-16",
            "--prometheus-url",
            backfilled.url,
            "--out",
            str(out),
            "--email",
            "--to",
            "desk@desk.example",
        ],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert str(out / "report.html") in done.stdout
    assert (out / "report.json").exists() and (out / "equity_drawdown.png").read_bytes()[:8] == PNG
    [msg] = smtp_server.wait(1)
    assert msg["To"] == "desk@desk.example"
    assert "02:10 to 02:40" in msg.get_body(preferencelist=("html",)).get_content()


def test_cli_errors_are_clear(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    done = _cli(["--period", "daily", "--prometheus-url", down, "--out", str(tmp_path / "x")], {}, tmp_path)
    assert done.returncode == 1 and "cannot reach Prometheus" in done.stderr
    assert not (tmp_path / "x").exists()
    done = _cli(["--at", "yesterday"], {}, tmp_path)
    assert done.returncode == 2 and "--at: expected YYYY-MM-DD" in done.stderr
    done = _cli(["--check-config"], {"TRADEWATCH_REPORT_TIMEZONE": "Mars/Olympus"}, tmp_path)
    assert done.returncode == 2 and "report.timezone" in done.stderr and "IANA time zone" in done.stderr


def test_schedule_mode_beats_and_stops_on_sigterm(tmp_path):
    import signal
    import time

    out = tmp_path / "reports"
    env = {
        **os.environ,
        "TRADEWATCH_REPORT_OUT_DIR": str(out),
        "TRADEWATCH_SMTP_HOST": "",
        "TRADEWATCH_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradewatch", "report", "--schedule"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        beat = out / ".scheduler-heartbeat"
        deadline = time.monotonic() + 20
        while not beat.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert beat.exists(), "the scheduler never touched its heartbeat file"
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    scheduled = {e["report"]: e["next_run"] for e in events if e["event"] == "report scheduled"}
    assert set(scheduled) == {"daily", "weekly"}  # the default schedule
    assert scheduled["daily"].endswith("T07:00:00+00:00") and scheduled["weekly"].endswith("T07:30:00+00:00")
