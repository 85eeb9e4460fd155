"""docker-compose.ha.yml: schema (alone and merged with docker-compose.yml), pins, exposure, health,
and its wiring to the HA configs that tradewatch.devstack.ha renders."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from composefile import ROOT, example_env, load_compose, named_volume_mounts, published_ports
from overrides import HA_FILE, load_override, merge, raw_override
from test_compose_file import _schema

from tradewatch.devstack import ha, render

# MinIO tags its images by release time (RELEASE.<UTC timestamp>), also an exact tag.
PINNED = re.compile(r"^[\w.\-/]+:(v?\d+\.\d+\.\d+(-cluster)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)$")
BIND = "${TRADEWATCH_BIND_ADDRESS:-127.0.0.1}:"


@pytest.fixture(scope="module")
def override() -> dict:
    return load_override(example_env())


@pytest.fixture(scope="module")
def merged(override: dict) -> dict:
    return merge(load_compose(example_env()), override)


def _flag(command: list[str], name: str) -> str:
    [value] = [c.split("=", 1)[1] for c in command if c.startswith(f"-{name}=") or c.startswith(f"--{name}=")]
    return value


def test_override_and_merged_project_validate_against_compose_schema(override: dict, merged: dict) -> None:
    validator = jsonschema.Draft7Validator(_schema())
    validator.validate(override)
    validator.validate(merged)
    broken = merge(load_compose(example_env()), override)
    broken["services"]["vmselect"]["healthcheck"]["intervall"] = "5s"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_merge_follows_compose_rules(merged: dict) -> None:
    base = load_compose(example_env())
    prometheus = merged["services"]["prometheus"]
    assert prometheus["command"][0] == "--config.file=/etc/prometheus/prometheus.ha-a.yml"
    assert prometheus["image"] == base["services"]["prometheus"]["image"]
    assert {"alertmanager", "alertmanager-2", "alertmanager-3", "vminsert"} <= set(prometheus["depends_on"])
    grafana = merged["services"]["grafana"]
    targets = [v.split(":")[1] for v in grafana["volumes"]]
    assert len(targets) == len(set(targets))
    assert "./grafana/provisioning-ha/datasources:/etc/grafana/provisioning/datasources:ro" in grafana["volumes"]


def test_images_pinned(merged: dict) -> None:
    for name, service in merged["services"].items():
        assert PINNED.match(service.get("image", "")), f"{name}: {service.get('image')!r} not an exact tag"
    vm = {merged["services"][n]["image"].split(":")[1] for n in ("vminsert", "vmselect", "vmstorage-1", "vmstorage-2")}
    assert len(vm) == 1, f"VictoriaMetrics components at different versions: {vm}"
    assert merged["services"]["prometheus-b"]["image"] == merged["services"]["prometheus"]["image"]


def test_every_service_has_a_comment_above_it() -> None:
    lines = HA_FILE.read_text().splitlines()
    start = lines.index("services:")
    names = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line and not line.startswith(" "):
            break
        if re.fullmatch(r"  [a-z][a-z0-9-]*:", line):
            names.append(line.strip(":").strip())
            assert lines[index - 1].strip().startswith("#"), f"no comment above {line.strip()}"
    assert set(names) == set(raw_override()["services"])


def test_ports_on_the_bind_address_and_unique(merged: dict) -> None:
    for name, service in raw_override()["services"].items():
        for spec in service.get("ports", []):
            assert str(spec).startswith(BIND), f"{name}: {spec}"
    published = [p["published"] for s in merged["services"].values() for p in published_ports(s)]
    assert len(published) == len(set(published)), published
    hosts = {p["host_ip"] for s in merged["services"].values() for p in published_ports(s)}
    assert hosts == {"127.0.0.1"}


def test_health_and_dependencies(merged: dict) -> None:
    services = merged["services"]
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        assert all(k in check for k in ("interval", "timeout", "retries")), name
        assert service.get("restart") == "unless-stopped", name
        assert service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory"), name
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} -> {dependency}: no such service"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}: {spec}"
    # VictoriaMetrics' images are Alpine-based (busybox wget); each checks its own /health port.
    for name, port in (("vminsert", 8480), ("vmselect", 8481), ("vmstorage-1", 8482), ("vmstorage-2", 8482)):
        assert services[name]["healthcheck"]["test"][:2] == ["CMD", "wget"]
        assert f"http://127.0.0.1:{port}/health" in services[name]["healthcheck"]["test"]


def test_state_in_own_named_volumes(merged: dict) -> None:
    used = []
    for name, path in {
        "prometheus-b": "/prometheus",
        "alertmanager-2": "/alertmanager",
        "alertmanager-3": "/alertmanager",
        "vmstorage-1": "/storage",
        "vmstorage-2": "/storage",
    }.items():
        volume = named_volume_mounts(merged["services"][name])[path]
        assert volume in merged["volumes"], name
        used.append(volume)
    base = [v for s in load_compose(example_env())["services"].values() for v in named_volume_mounts(s).values()]
    assert len(set(used)) == len(used) and not set(used) & set(base)


# ------------------------------------------------------------------ Alertmanager cluster


def test_alertmanager_peers_gossip_with_each_other(merged: dict) -> None:
    for peer in ha.AM_PEERS:
        command = merged["services"][peer]["command"]
        cluster = [c for c in command if c.startswith("--cluster.")]
        assert cluster == ha.compose_cluster_args(peer), peer
        assert command[: -len(cluster)] == [
            "--storage.path=/alertmanager",
            f"--web.external-url=http://localhost:{published_ports(merged['services'][peer])[0]['published']}",
        ]


def test_alertmanager_peers_are_the_base_alertmanager(merged: dict) -> None:
    """Peers 2 and 3 run exactly what peer 1 runs: a secret or variable added to the base
    alertmanager must be added to them (docker-compose.ha.yml) too."""
    base = load_compose(example_env())["services"]["alertmanager"]
    for peer in ha.AM_PEERS[1:]:
        service = merged["services"][peer]
        for key in ("image", "entrypoint", "environment", "secrets", "healthcheck", "depends_on", "deploy"):
            assert service.get(key) == base.get(key), (
                f"{peer}: {key} differs from the base alertmanager's: copy it to {peer} in docker-compose.ha.yml"
            )
        assert [v for v in service["volumes"] if v.startswith(".")] == [v for v in base["volumes"] if v.startswith(".")]


# ------------------------------------------------------------------ Prometheus pair and VictoriaMetrics


def test_each_replica_loads_its_own_generated_config(merged: dict) -> None:
    for replica, service in ha.REPLICAS.items():
        config = _flag(merged["services"][service]["command"], "config.file")
        path = ROOT / "prometheus" / config.removeprefix("/etc/prometheus/")
        doc = yaml.safe_load(path.read_text())
        assert doc == ha.render_prometheus_ha(replica)
        assert doc["global"]["external_labels"][ha.REPLICA_LABEL] == replica
        targets = doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert sorted(targets) == sorted(f"{peer}:9093" for peer in ha.AM_PEERS)
        [write] = doc["remote_write"]
        url = urlsplit(write["url"])
        assert (url.hostname, url.port) == ("vminsert", 8480) and "vminsert" in merged["services"]
        for job in doc["scrape_configs"]:
            for target in job["static_configs"][0]["targets"]:
                assert target.rsplit(":", 1)[0] in merged["services"], f"{service}: {target}"


def test_replica_commands_are_the_base_command_with_their_config(merged: dict) -> None:
    """A flag added to the base prometheus (retention, feature flags) must reach both replicas."""
    base = load_compose(example_env())["services"]["prometheus"]["command"]
    for replica, service in ha.REPLICAS.items():
        command = merged["services"][service]["command"]
        port = published_ports(merged["services"][service])[0]["published"]
        expected = [
            f"--config.file=/etc/prometheus/prometheus.ha-{replica}.yml"
            if c.startswith("--config.file=")
            else f"--web.external-url=http://localhost:{port}"
            if c.startswith("--web.external-url=")
            else c
            for c in base
        ]
        assert command == expected, f"{service}: copy the base prometheus flags into docker-compose.ha.yml"


def test_pair_has_the_same_targets_and_differs_only_in_replica() -> None:
    a, b = (ha.render_prometheus_ha(r) for r in ha.REPLICAS)
    b["global"]["external_labels"][ha.REPLICA_LABEL] = "a"
    assert a == b


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")
def test_promtool_accepts_the_replica_configs() -> None:
    for replica in ha.REPLICAS:
        path = ROOT / "prometheus" / f"prometheus.ha-{replica}.yml"
        result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_victoriametrics_replication_dedup_and_retention(merged: dict) -> None:
    services = merged["services"]
    insert, select = services["vminsert"]["command"], services["vmselect"]["command"]
    storage = ["vmstorage-1", "vmstorage-2"]
    assert _flag(insert, "replicationFactor") == _flag(select, "replicationFactor") == "2"
    assert _flag(insert, "storageNode") == ",".join(f"{s}:8400" for s in storage)
    assert _flag(select, "storageNode") == ",".join(f"{s}:8401" for s in storage)
    # One dedup interval everywhere, the fastest scrape interval of the pair (VictoriaMetrics' rule).
    fastest = min(render.duration_seconds(j.interval) for j in render.JOBS)
    dedups = {_flag(services[n]["command"], "dedup.minScrapeInterval") for n in [*storage, "vmselect"]}
    assert dedups == {f"{fastest:g}s"}
    assert {_flag(services[n]["command"], "retentionPeriod") for n in storage} == {"1y"}
    assert load_compose(example_env()) is not None
    env = example_env(VICTORIAMETRICS_RETENTION_PERIOD="2y")
    assert (
        _flag(merge(load_compose(env), load_override(env))["services"]["vmstorage-1"]["command"], "retentionPeriod")
        == "2y"
    )


def test_vminsert_drops_the_replica_label(merged: dict) -> None:
    command = merged["services"]["vminsert"]["command"]
    path = _flag(command, "relabelConfig")
    mounts = {t: s for s, t, *_ in (v.split(":") for v in merged["services"]["vminsert"]["volumes"])}
    source = mounts[path.rsplit("/", 1)[0]]
    rules = yaml.safe_load((ROOT / source / path.rsplit("/", 1)[1]).read_text())
    assert rules == [{"action": "labeldrop", "regex": ha.REPLICA_LABEL}]


def test_grafana_reads_vmselect_and_keeps_every_uid() -> None:
    base = yaml.safe_load((ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text())
    ha_doc = yaml.safe_load((ROOT / "grafana" / "provisioning-ha" / "datasources" / "datasources.yml").read_text())
    sources = {s["uid"]: s for s in ha_doc["datasources"]}
    assert {s["uid"] for s in base["datasources"]} < set(sources)
    assert sources["prometheus"]["url"] == ha.VMSELECT_QUERY_URL
    assert sources["prometheus-replica-a"]["url"] == "http://prometheus:9090"
    assert sum(bool(s.get("isDefault")) for s in sources.values()) == 1
