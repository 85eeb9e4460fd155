"""Alert latency: from the event that crosses a threshold to the Slack webhook receiving the alert.

Each run starts a fresh native stack with the SHIPPED intervals (the trading exporter's safety series
scraped every 1 s by the trading-exporter-critical job, the critical trading rule group evaluated every
1 s, critical group_wait 1 s), POSTs a kill_switch event to the trading
exporter at a random phase of the scrape/evaluation cycle, and times the KillSwitchActivated
notification at the local Slack-compatible receiver. A fresh stack per run keeps every run a first
notification (group_wait), not a re-notification of an existing group (group_interval).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid

from tradewatch.devstack.stack import DevStack, StackOptions

RUNS = 7
TARGET_MAX = 5.0  # seconds, event -> Slack, every run (docs/alerting.md, "Alert latency")


def one_run(seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    opts = StackOptions(test_mode=False, exporters=("trading",), simulator=None)
    with DevStack(opts) as stack:
        stack.wait_targets_up(30)
        time.sleep(11 + rng.uniform(0, 5))  # rule groups running; random phase vs. scrape/evaluation
        t0 = time.time()
        stack.post_events(
            "trading",
            [
                {
                    "type": "kill_switch",
                    "ts": t0,
                    "event_id": f"bench-{uuid.uuid4()}",
                    "active": True,
                    "reason": "manual",
                }
            ],
        )
        firing_at = None
        while firing_at is None and time.time() - t0 < 60:
            if any(
                a["labels"]["alertname"] == "KillSwitchActivated" and a["state"] == "firing"
                for a in stack.prometheus_alerts()
            ):
                firing_at = time.time()
            else:
                time.sleep(0.2)
        post = stack.slack.wait_for(lambda p: "KillSwitchActivated" in p.text, 60)
        return {"to_prometheus_firing": (firing_at or float("nan")) - t0, "to_slack": post.received - t0}


def main() -> None:
    results = []
    for i in range(RUNS):
        r = one_run(i)
        results.append(r)
        print(
            f"run {i + 1}/{RUNS}: firing in Prometheus after {r['to_prometheus_firing']:.1f} s, "
            f"Slack after {r['to_slack']:.1f} s",
            flush=True,
        )
    slack = [r["to_slack"] for r in results]
    prom = [r["to_prometheus_firing"] for r in results]
    print()
    print("| measure (KillSwitchActivated, shipped intervals) | median | max | min |")
    print("|---|---|---|---|")
    print(
        f"| event -> alert firing in Prometheus | {statistics.median(prom):.1f} s | {max(prom):.1f} s "
        f"| {min(prom):.1f} s |"
    )
    print(
        f"| event -> Slack webhook receives it | {statistics.median(slack):.1f} s | {max(slack):.1f} s "
        f"| {min(slack):.1f} s |"
    )
    print(f"target: max < {TARGET_MAX:g} s -> {'met' if max(slack) < TARGET_MAX else 'NOT met'} ({RUNS} runs)")


if __name__ == "__main__":
    main()
