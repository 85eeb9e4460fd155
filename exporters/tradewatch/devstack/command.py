"""``tradewatch dev``: the whole stack natively on loopback, in the foreground (Ctrl-C stops it).

``tradewatch dev render`` rewrites the generated, committed config files (prometheus/prometheus.yml,
prometheus/rules/*.yml, alertmanager/alertmanager.email-only.yml); ``--check`` only reports stale ones.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import threading
from pathlib import Path

from tradewatch.simulate.scenarios import SCENARIOS

#: What a run leaves in the work dir that the next run would carry on from: journals (the exporters'
#: state), Prometheus' TSDB (series and alerts' pending/firing state), Alertmanager's silences and
#: notification log, caught mails and logs. --fresh / `make dev-clean` removes them.
STATE_PATHS = (
    "trading-journal",
    "model-journal",
    "prometheus",
    "alertmanager",
    "alertmanager-2",
    "alertmanager-3",
    "mail",
    "logs",
    "model-reference.jsonl",
)


def register(sub: argparse._SubParsersAction) -> None:
    scenarios = "\n".join(f"  {s.name:16} {s.summary}" for s in SCENARIOS.values())
    parser = sub.add_parser(
        "dev",
        help="run Prometheus, Alertmanager, the exporters and the simulator natively on loopback",
        description="Run the TradeWatch stack without Docker, on 127.0.0.1, with the shipped intervals:\n"
        "  Prometheus 9090, Alertmanager 9093, system/trading/model exporters 9811/9812/9813,\n"
        "  local Slack stand-in 8026 (messages printed here), SMTP catcher 1025 (mails saved in the\n"
        "  work dir). Needs Debian's prometheus and prometheus-alertmanager packages.\n"
        "Ctrl-C stops everything. The work dir keeps journals and Prometheus data across runs; --fresh\n"
        "(make dev-clean) starts from nothing.\n\n"
        f"Scenarios (--scenario, or make dev SCENARIO=...):\n{scenarios}\n"
        "  none             no simulator (your own trading system sends the events)\n\n"
        "'tradewatch dev render' regenerates the committed config files from their sources.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=["run", "render"],
        default="run",
        help="run the stack (default) or render the generated config files",
    )
    parser.add_argument("--check", action="store_true", help="render: only list stale files (exit 1 if any)")
    parser.add_argument(
        "--scenario",
        default=os.environ.get("TRADEWATCH_SIM_SCENARIO") or "normal",
        metavar="NAME",
        help="simulator scenario, one of the names above (default normal; "
        "env TRADEWATCH_SIM_SCENARIO); 'none' runs no simulator",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete the state of earlier runs in the work dir first (journals, Prometheus "
        "and Alertmanager data, mails, logs)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(".dev"), help="data, logs and rendered configs (default ./.dev)"
    )
    parser.add_argument(
        "--test-mode", action="store_true", help="1 s scrape/evaluation and short alert timings, as the tests use"
    )
    parser.add_argument(
        "--ha",
        action="store_true",
        help="three Alertmanager peers in one gossip cluster (API 9093/9095/9096, gossip 9094/9097/9098), "
        "Prometheus sending to all of them (docs/alerting.md, Alertmanager HA)",
    )
    parser.add_argument("--random-ports", action="store_true", help="free ports instead of the documented ones")
    parser.add_argument(
        "--slack-webhook-file",
        type=Path,
        metavar="FILE",
        default=os.environ.get("TRADEWATCH_SLACK_WEBHOOK_FILE"),
        help="file with a real Slack webhook URL (default: the local stand-in)",
    )
    parser.add_argument(
        "--secrets-dir",
        type=Path,
        metavar="DIR",
        default=os.environ.get("TRADEWATCH_SECRETS_DIR"),
        help="channel secret files as in secrets/ (pagerduty_routing_key, heartbeat_url, ...): each non-empty "
        "one sends its channel to the real service; the others go to the local paging stand-in",
    )
    parser.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        default=os.environ.get("TRADEWATCH_SMTP_SMARTHOST"),
        help="real SMTP relay (default: the local catcher)",
    )
    parser.add_argument(
        "--quiet-hours-tz",
        metavar="ZONE",
        default=os.environ.get("TRADEWATCH_QUIET_HOURS_TZ"),
        help="IANA time zone of the quiet hours (default: the one in alertmanager.yml)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradewatch.devstack import render

    if args.action == "render":
        if args.check:
            stale = render.stale_committed()
            for path in stale:
                print(f"stale: {path}")
            return 1 if stale else 0
        for path in render.write_committed():
            print(f"wrote {path}")
        return 0
    if args.scenario != "none" and args.scenario not in SCENARIOS:
        print(
            f"tradewatch dev: unknown scenario {args.scenario!r}; choose one of "
            f"{', '.join([*SCENARIOS, 'none'])} (tradewatch dev --help describes them)",
            flush=True,
        )
        return 2
    print(start_from(args.workdir.resolve(), fresh=args.fresh), flush=True)
    return _run_stack(args)


def start_from(workdir: Path, *, fresh: bool) -> str:
    """Remove earlier runs' state when ``fresh``; say in one line which start this is."""
    present = [name for name in STATE_PATHS if (workdir / name).exists()]
    if fresh:
        for name in present:
            path = workdir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return (
            f"Fresh start: removed {', '.join(present)} from {workdir}."
            if present
            else f"Fresh start: {workdir} holds no earlier state."
        )
    if not present:
        return f"First start in {workdir}."
    return (
        f"Continuing from the earlier run's state in {workdir} (journals, Prometheus data and alert "
        "state kept): `make dev-clean` or `tradewatch dev --fresh` starts clean."
    )


# The model exporter's defaults suit a production model (a reference captured from the first 1,000
# predictions, 500 samples before drift is computed): at the simulator's ~30 predictions a minute
# that is close to an hour before the drift panels fill, and a scenario starting after a minute would
# leak into the reference. `tradewatch dev` is a demo: it gives the model exporter a reference
# recorded from a normal run (tradewatch.simulate.reference) and windows sized to minutes.
# Variables set by the user win.
DEMO_MODEL_ENV = {
    "TRADEWATCH_DRIFT_WINDOW": "600",
    "TRADEWATCH_DRIFT_MIN_SAMPLES": "100",
    "TRADEWATCH_DRIFT_INTERVAL": "15s",
    "TRADEWATCH_PERFORMANCE_WINDOW": "100",
    # The simulator's features move slowly (5 symbols, a prediction every 10 s, the LLM sentiment
    # for minutes at a time): a window's 600 samples are far from independent, so the KS p-values
    # are far too small. Measured in a 30 min normal run: sentiment down to 2e-5 with no shift at
    # all; in model-drift every shifted feature below 1e-20 within minutes. Alpha 1e-6 tells them apart.
    "TRADEWATCH_DRIFT_ALPHA": "0.000001",
}


def demo_exporter_env(workdir: Path, environ: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Per-exporter environment for the demo stack (writes the model reference into ``workdir``)."""
    import json

    from tradewatch.simulate.engine import MODEL_NAME
    from tradewatch.simulate.reference import write_reference

    environ = dict(os.environ if environ is None else environ)
    model = dict(DEMO_MODEL_ENV)
    if "TRADEWATCH_REFERENCE_FILES" not in environ:
        reference = workdir / "model-reference.jsonl"
        write_reference(reference, speed=float(environ.get("TRADEWATCH_SIM_SPEED", "1")))
        model["TRADEWATCH_REFERENCE_FILES"] = json.dumps({MODEL_NAME: str(reference)})
    return {"model": {k: v for k, v in model.items() if k not in environ}}


def stack_options(args: argparse.Namespace, exporter_env: dict[str, dict[str, str]] | None = None):
    """The DevStack options `tradewatch dev` runs with (``--ha``: the three gossiping peers)."""
    from tradewatch.devstack import ha
    from tradewatch.devstack.stack import AlertmanagerSpec, StackOptions

    peers = ha.AM_PEERS if args.ha else ha.AM_PEERS[:1]
    return StackOptions(
        workdir=args.workdir.resolve(),
        test_mode=args.test_mode,
        random_ports=args.random_ports,
        simulator=None if args.scenario == "none" else args.scenario,
        slack_webhook_file=args.slack_webhook_file,
        smtp_smarthost=args.smtp,
        alertmanagers=tuple(AlertmanagerSpec(name, location=args.quiet_hours_tz) for name in peers),
        am_cluster=args.ha,
        service_standin=True,
        channel_secrets=_channel_secrets(args.secrets_dir),
        exporter_env=exporter_env or {},
    )


def _run_stack(args: argparse.Namespace) -> int:
    from tradewatch.devstack.procs import ProcessFailed
    from tradewatch.devstack.stack import DevStack, StackError

    opts = stack_options(args, demo_exporter_env(args.workdir.resolve()))
    stack = DevStack(opts)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start()
    except (StackError, ProcessFailed) as exc:
        # e.g. a port already taken (is the compose stack running?): --random-ports avoids it
        print(f"tradewatch dev: {exc}", flush=True)
        return 2
    print("TradeWatch dev stack is up (Ctrl-C stops it):\n" + stack.describe(), flush=True)
    seen = [0, 0, 0]
    simulator_reported = False
    try:
        while not stop.wait(1.0):
            seen[0] = _echo(stack.slack.messages if stack.slack else [], seen[0], "slack", _slack_line)
            seen[1] = _echo(
                stack.mail.messages if stack.mail else [],
                seen[1],
                "mail",
                lambda m: f"{m.envelope_to} {m.subject} -> {_save(stack.workdir, m)}",
            )
            seen[2] = _echo(stack.services.messages if stack.services else [], seen[2], "page", _page_line)
            sim = stack.procs.get("simulator")
            if sim is not None and not sim.running and not simulator_reported:
                # poll() in .running has reaped it (no zombie); the stack stays up for a new scenario
                simulator_reported = True
                print(
                    f"tradewatch dev: the simulator exited with status {sim.proc.returncode}; "
                    f"no more events. Its log ({sim.log_path}) ends:\n{sim.log_tail(10)}",
                    flush=True,
                )
            dead = [n for n, p in stack.procs.items() if n != "simulator" and not p.running]
            if dead:
                print(f"tradewatch dev: {', '.join(dead)} exited; see {stack.workdir / 'logs'}")
                return 1
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


def _channel_secrets(directory: Path | None) -> dict[str, Path]:
    from tradewatch.devstack.channels import SECRET_NAMES

    return {} if directory is None else {name: directory.resolve() / name for name in SECRET_NAMES}


def _page_line(req) -> str:
    from tradewatch.devstack.standins import describe

    return f"{req.channel}: {describe(req)}"


def _echo(items: list, seen: int, kind: str, line) -> int:
    for item in items[seen:]:
        print(f"[{kind}] {line(item)}", flush=True)
    return len(items)


def _slack_line(post) -> str:
    """Arrival time, title, and the body indented under it."""
    body = "".join(f"\n    {line}" for line in post.body.splitlines() if line.strip())
    return f"{post.time_text} {post.title}{body}"


def _save(workdir: Path, mail) -> Path:
    """Keep a caught mail as an .eml file a mail client opens."""
    folder = workdir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.glob('*.eml'))) + 1:05d}.eml"
    path.write_bytes(mail.message.as_bytes())
    return path
