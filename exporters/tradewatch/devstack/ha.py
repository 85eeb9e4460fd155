"""High availability, one source for compose and the native stack.

* The Alertmanager cluster: three peers gossiping on their own port (9094 in compose). Every
  Prometheus sends every alert to every peer; the peers share their notification log and silences,
  and the peer first in the member list sends while the others wait ``peer_timeout`` times their
  position before sending what the log does not show as sent. :func:`cluster_args` builds the flags
  for docker-compose.ha.yml (a test checks they are equal) and for ``tradewatch dev --ha``.
* The Prometheus replica pair (issue 14): the same scrape targets, ``external_labels`` cluster and
  replica, alerts to all three peers with the replica label dropped (so the pair's copies of an alert
  are one alert), and ``remote_write`` to the long-term store (VictoriaMetrics' vminsert).
  :func:`render_prometheus_ha` writes prometheus/prometheus.ha-{a,b}.yml and the test configs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tradewatch.devstack import render

#: Compose service names of the three peers (the first is docker-compose.yml's own alertmanager).
AM_PEERS = ("alertmanager", "alertmanager-2", "alertmanager-3")
#: Gossip port inside the compose network (TCP and UDP), Alertmanager's default.
CLUSTER_PORT = 9094
#: `tradewatch dev --ha` on the documented ports: the peers' API (the host ports compose publishes
#: too) and their gossip ports.
DEV_AM_PORTS = (9093, 9095, 9096)
DEV_CLUSTER_PORTS = (9094, 9097, 9098)

#: Replica label value -> compose service.
REPLICAS = {"a": "prometheus", "b": "prometheus-b"}
CLUSTER_NAME = "tradewatch"
REPLICA_LABEL = "replica"

VMINSERT_WRITE_URL = "http://vminsert:8480/insert/0/prometheus/api/v1/write"
VMSELECT_QUERY_URL = "http://vmselect:8481/select/0/prometheus"


@dataclass(frozen=True)
class GossipTimings:
    """Alertmanager's --cluster.* timings. The defaults are Alertmanager's own (no flag written)."""

    peer_timeout: str = "15s"
    gossip_interval: str = "200ms"
    pushpull_interval: str = "1m0s"
    probe_interval: str = "1s"
    probe_timeout: str = "500ms"
    settle_timeout: str = "1m0s"


SHIPPED_GOSSIP = GossipTimings()
#: Test mode: a peer waits 1 s per position (a notification log entry gossips in ~100 ms at 50 ms),
#: a dead peer is noticed in well under a second, the cluster settles in 2 s instead of a minute.
FAST_GOSSIP = GossipTimings("1s", "50ms", "1s", "200ms", "100ms", "2s")


def cluster_args(
    listen: str, peers: Sequence[str], timings: GossipTimings = SHIPPED_GOSSIP, advertise: str | None = None
) -> list[str]:
    """Alertmanager's cluster flags: listen on ``listen``, join ``peers`` (host:port, never itself).
    ``advertise`` is needed when ``listen`` is a loopback address (no private IP to discover)."""
    args = [f"--cluster.listen-address={listen}"]
    if advertise:
        args.append(f"--cluster.advertise-address={advertise}")
    args += [f"--cluster.peer={peer}" for peer in peers]
    for name, default in vars(SHIPPED_GOSSIP).items():
        value = getattr(timings, name)
        if value != default:
            args.append(f"--cluster.{name.replace('_', '-')}={value}")
    return args


def compose_cluster_args(service: str) -> list[str]:
    """The flags docker-compose.ha.yml gives the peer ``service``."""
    others = [f"{peer}:{CLUSTER_PORT}" for peer in AM_PEERS if peer != service]
    return cluster_args(f"0.0.0.0:{CLUSTER_PORT}", others)


# ---------------------------------------------------------------------------------------------
# The Prometheus pair

#: Sized for a desk: a trading system is a few thousand series (docs/operations.md, sizing), i.e.
#: some hundreds of samples a second per replica. One shard sends max_samples_per_send per request;
#: capacity (samples queued per shard) at 5x that keeps a shard busy while the WAL is read. Up to
#: 10 shards catch up after an outage of the store: an hour of backlog (~1-2 M samples) drains in
#: minutes without opening Prometheus' default 50 connections to one vminsert. batch_send_deadline
#: bounds how stale the long-term store is at low rates; the backoff retries a store that is down
#: for as long as the WAL keeps the samples (about 2 hours), so a restart of vminsert loses nothing.
QUEUE_CONFIG: dict[str, Any] = {
    "capacity": 10000,
    "min_shards": 1,
    "max_shards": 10,
    "max_samples_per_send": 2000,
    "batch_send_deadline": "5s",
    "min_backoff": "30ms",
    "max_backoff": "5s",
}


def remote_write(url: str, queue: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "url": url,
        "name": "long-term",
        "remote_timeout": "30s",
        "queue_config": {**QUEUE_CONFIG, **(queue or {})},
        "metadata_config": {"send": True, "send_interval": "1m"},
    }


def render_prometheus_ha(
    replica: str,
    variant: str = "compose",
    native: render.NativeOptions | None = None,
    *,
    alertmanagers: Sequence[str] | None = None,
    remote_write_url: str | None = None,
    queue: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """prometheus.yml of replica ``replica`` ("a" or "b"): the single-instance document plus the
    cluster/replica labels, every Alertmanager peer and remote_write. ``alertmanagers`` and
    ``remote_write_url`` replace the compose targets (the native variant has no defaults for them)."""
    if replica not in REPLICAS:
        raise render.RenderError(f"unknown replica {replica!r}")
    doc = render.render_prometheus(variant, native)
    doc["global"]["external_labels"].update({"cluster": CLUSTER_NAME, REPLICA_LABEL: replica})
    if variant == "compose":
        alertmanagers = alertmanagers or [f"{peer}:9093" for peer in AM_PEERS]
        remote_write_url = remote_write_url or VMINSERT_WRITE_URL
    if not alertmanagers or not remote_write_url:
        raise render.RenderError("the native HA variant needs alertmanagers and remote_write_url")
    am = doc["alerting"]["alertmanagers"][0]
    am["static_configs"] = [{"targets": list(alertmanagers)}]
    # Both replicas fire the same alert: without the replica label they are one alert to the peers.
    doc["alerting"]["alert_relabel_configs"] = [{"action": "labeldrop", "regex": REPLICA_LABEL}]
    doc["remote_write"] = [remote_write(remote_write_url, queue)]
    if variant == "compose":
        own = {"prometheus": [f"{service}:9090" for service in REPLICAS.values()]}
        own["alertmanager"] = [f"{peer}:9093" for peer in AM_PEERS]
        for job in doc["scrape_configs"]:
            if job["job_name"] in own:
                job["static_configs"] = [{"targets": own[job["job_name"]]}]
    return doc


PROMETHEUS_HA_HEADER = """\
# GENERATED by `tradewatch dev render` from tradewatch/devstack/ha.py: replica {replica} of the
# Prometheus pair in docker-compose.ha.yml (docs/operations.md, "Scale-out"). Same targets as
# prometheus.yml, plus external labels cluster/replica, alerts to all three Alertmanager peers
# (replica label dropped, so the pair's two copies of an alert are one) and remote_write to
# VictoriaMetrics' vminsert. Queue settings: see QUEUE_CONFIG in ha.py and docs/operations.md.
"""

GRAFANA_HA_HEADER = """\
# GENERATED by `tradewatch dev render` from grafana/provisioning/datasources/datasources.yml
# (tradewatch/devstack/ha.py). docker-compose.ha.yml mounts this directory over the datasources
# one: the Prometheus data source (uid prometheus, which every dashboard uses) reads from vmselect,
# the long-term store with the replica pair deduplicated; "Prometheus replica a" is the live
# replica, for its rules and alerts pages.
"""


def grafana_ha_datasources(repo: Path = render.REPO) -> dict[str, Any]:
    base = yaml.safe_load((repo / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text())
    doc = copy.deepcopy(base)
    sources = doc["datasources"]
    prometheus = next(s for s in sources if s["uid"] == "prometheus")
    live = copy.deepcopy(prometheus)
    prometheus["url"] = VMSELECT_QUERY_URL
    # vmselect has no rules API of its own: alert rules stay in Prometheus (the live replica below).
    prometheus["jsonData"]["manageAlerts"] = False
    live.update(name="Prometheus replica a", uid="prometheus-replica-a", isDefault=False)
    sources.insert(sources.index(prometheus) + 1, live)
    doc["deleteDatasources"] = [*doc.get("deleteDatasources", []), {"name": live["name"], "orgId": 1}]
    return doc


def committed_files(repo: Path = render.REPO) -> dict[Path, str]:
    files = {
        repo / "prometheus" / f"prometheus.ha-{replica}.yml": PROMETHEUS_HA_HEADER.format(replica=replica)
        + render.dump_yaml(render_prometheus_ha(replica))
        for replica in REPLICAS
    }
    files[repo / "grafana" / "provisioning-ha" / "datasources" / "datasources.yml"] = (
        GRAFANA_HA_HEADER + render.dump_yaml(grafana_ha_datasources(repo))
    )
    return files
