"""``tradewatch trail``: a simulator order's story from a real trading exporter's journal, a client
JSONL file of its model events and the simulator's own log lines."""

from __future__ import annotations

import io
import json
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path

import orjson
import requests
from tests.client.client_receiver import captured_logs
from tests.simulate.test_simulator import simulate

from tradewatch.cli import main
from tradewatch.client import MODEL_TYPES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trading"))
from test_http import start


def _trail(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["trail", *args])
    return code, out.getvalue()


def test_a_simulator_orders_story(tmp_path):
    with captured_logs("simulator") as logs:
        events = simulate("normal", 900, seed=3, log_events=True)
    (tmp_path / "sim.log").write_bytes(logs.getvalue())
    trading = [e for e in events if e["type"] not in MODEL_TYPES]
    (tmp_path / "model.jsonl").write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in events if e["type"] in MODEL_TYPES)
    )
    exporter, url = start(tmp_path)
    try:
        for i in range(0, len(trading), 2000):
            assert requests.post(url + "/v1/events", data=orjson.dumps(trading[i : i + 2000]), timeout=30).ok
        # Copied while it runs: a snapshot (at shutdown, or every journal.snapshot_every) compacts the files.
        journal = str(tmp_path / "journal-copy")
        shutil.copytree(tmp_path / "journal", journal)
    finally:
        exporter.stop()
    closed = next(e for e in events if e["type"] == "trade_closed")
    cid = closed["correlation_id"]
    mine = [e for e in events if e.get("correlation_id") == cid]

    code, text = _trail(cid, "--journal", journal, "--journal", str(tmp_path / "model.jsonl"), "--json")
    assert code == 0
    story = json.loads(text)
    types = [e["type"] for e in story["entries"]]
    assert sorted(types) == sorted(e["type"] for e in mine)  # every event, nothing else
    assert types[:4] == ["prediction", "signal", "decision", "order_submitted"]
    times = [e["ts"] for e in story["entries"]]
    assert times == sorted(times)
    fills = [e for e in story["entries"] if e["type"] in ("order_filled", "order_partially_filled")]
    submitted = next(e for e in mine if e["type"] == "order_submitted")
    sign = 1 if submitted["side"] == "buy" else -1
    for f in fills:
        ref, price = submitted["reference_price"], f["fields"]["fill_price"]
        assert abs(f["fields"]["slippage_bps"] - round(sign * (price - ref) / ref * 1e4, 3)) < 1e-9
        assert f["fields"]["latency_seconds"] > 0
    assert story["summary"]["orders"] == 1 and story["summary"]["realized_pnl"] == closed["realized_pnl"]
    # The decision's later stages (joined on decision_id) and the prediction's outcome are in it too.
    assert story["summary"]["decision_stages"] in ("made > approved > executed", "made > approved > failed")
    assert "outcome" in types

    code, text = _trail(cid, "--journal", journal)
    assert code == 0 and "closed" in text and "slippage" in text and "after submission" in text
    assert " approved (momentum-clf)" in text and "decision_stages made > approved" in text

    # A rejected order: its rejection and the simulator's log line about it.
    rejected = next(e for e in events if e["type"] == "order_rejected")
    code, text = _trail(rejected["correlation_id"], "--journal", journal, "--log-file", str(tmp_path / "sim.log"))
    assert code == 0 and "REJECTED" in text and "log:warning" in text, text

    assert _trail("ord-nothing", "--journal", journal)[0] == 1
    assert _trail("not an id", "--journal", journal)[0] == 2


def test_log_lines_from_loki(tmp_path):
    """--loki-url asks Loki's query_range for the ID's lines with the exemplar link's LogQL (a stand-in
    Loki on loopback: no Loki binary here) and merges them in time order; an unreachable Loki is a note."""
    import http.server
    import threading
    import urllib.parse

    from tradewatch.trail.story import logql

    asked: list[dict] = []
    line = {"timestamp": "2026-12-03T06:40:03.200Z", "level": "warning", "service": "alpha-bot", "event": "slow fill"}

    class Loki(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))
            body = {"status": "success", "data": {"result": [{"stream": {}, "values": [["1", json.dumps(line)]]}]}}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "type": "order_submitted",
                "event_id": "a",
                "ts": "2026-12-03T06:40:03Z",
                "correlation_id": "o-7",
                "order_id": "o-7",
                "symbol": "BTC",
                "side": "buy",
                "quantity": 1,
                "reference_price": 100,
            }
        )
        + "\n"
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loki)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, text = _trail("o-7", "--journal", str(events), "--loki-url", url, "--json")
    finally:
        server.shutdown()
        server.server_close()
    story = json.loads(text)
    assert code == 0 and asked[0]["query"] == [logql("o-7")]
    assert [(e["kind"], e["type"]) for e in story["entries"]] == [("event", "order_submitted"), ("log", "warning")]
    code, text = _trail("o-7", "--journal", str(events), "--loki-url", "http://127.0.0.1:9", "--json")
    assert code == 0 and any("not reachable" in n for n in json.loads(text)["notes"])
