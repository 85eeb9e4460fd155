"""docker-compose.yml against the configs it mounts: every name and port must agree.

prometheus.yml targets, Alertmanager's SMTP smarthost and secret files, Grafana's data source URLs
and dashboard path, Loki's port and data path, Alloy's push URL: each names a compose service and
a port that service listens on, and each file path inside a container resolves to a repository
file through the service's bind mounts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from composefile import (
    ROOT,
    container_port,
    example_env,
    host_path_for,
    load_compose,
    named_volume_mounts,
    published_ports,
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose(example_env())


def _yaml(path: Path) -> Any:
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    return yaml.safe_load(path.read_text())


def _assert_service_port(compose: dict, host: str, port: int, where: str) -> None:
    assert host in compose["services"], f"{where}: {host} is not a compose service"
    assert port in container_port(compose["services"][host]), (
        f"{where}: {host}:{port}, but {host} listens on {sorted(container_port(compose['services'][host]))}"
    )


def _split_target(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host, int(port)


# ------------------------------------------------------------------ Prometheus


def _prometheus_config(compose: dict) -> dict:
    command = compose["services"]["prometheus"]["command"]
    path = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--config.file="))
    host = host_path_for(compose, "prometheus", path)
    assert host is not None, f"{path} is not mounted from the repository"
    return _yaml(host)


def test_scrape_targets_are_compose_services_on_their_ports(compose: dict) -> None:
    config = _prometheus_config(compose)
    scraped = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = _split_target(target)
                _assert_service_port(compose, host, port, f"job {job['job_name']}")
                scraped.add(host)
    assert {"system-exporter", "trading-exporter", "model-exporter"} <= scraped
    assert not any("127.0.0.1" in str(job) or "localhost" in str(job) for job in config["scrape_configs"]), (
        "the compose prometheus.yml must not scrape loopback (that is the native variant)"
    )


def test_alerting_points_at_the_alertmanager_service(compose: dict) -> None:
    config = _prometheus_config(compose)
    targets = [
        target
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for target in static["targets"]
    ]
    assert targets
    for target in targets:
        host, port = _split_target(target)
        assert host == "alertmanager"
        _assert_service_port(compose, host, port, "alerting")


def test_rule_files_resolve_to_mounted_rule_files(compose: dict) -> None:
    config = _prometheus_config(compose)
    base = "/etc/prometheus"
    for pattern in config["rule_files"]:
        absolute = pattern if pattern.startswith("/") else f"{base}/{pattern}"
        directory, _, glob = absolute.rpartition("/")
        host = host_path_for(compose, "prometheus", directory)
        assert host is not None and host.is_dir(), f"{directory} is not mounted"
        assert list(host.glob(glob)), f"{pattern} matches no file in {host}"


def test_retention_flags_match_what_prometheus_yml_documents(compose: dict) -> None:
    command = " ".join(compose["services"]["prometheus"]["command"])
    assert "--storage.tsdb.retention.time=" in command and "--storage.tsdb.retention.size=" in command
    header = (ROOT / "prometheus" / "prometheus.yml").read_text()
    for flag in re.findall(r"--storage\.tsdb\.retention\.\w+=\S+", header):
        assert flag in command, f"prometheus.yml says {flag}; docker-compose.yml does not"


# ------------------------------------------------------------------ Alertmanager


def _alertmanager_configs(compose: dict) -> dict[str, dict]:
    directory = host_path_for(compose, "alertmanager", "/etc/alertmanager")
    assert directory is not None
    files = {p.name: yaml.safe_load(p.read_text()) for p in sorted(directory.glob("alertmanager*.yml"))}
    if not files:
        pytest.skip("alertmanager/ not written yet")
    return files


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
            yield f"{path}.{key}", key, value
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def test_entrypoint_is_mounted(compose: dict) -> None:
    service = compose["services"]["alertmanager"]
    script = service["entrypoint"][-1]
    host = host_path_for(compose, "alertmanager", script)
    assert host is not None and host.exists(), f"{script} is not in the mounted directory"
    assert not any(a.startswith("--config.file") for a in service["command"]), "set by entrypoint.sh"


def test_smtp_goes_to_mailpit(compose: dict) -> None:
    for name, config in _alertmanager_configs(compose).items():
        smarthosts = [config["global"]["smtp_smarthost"]]
        smarthosts += [v for _, key, v in _walk(config) if key == "smarthost"]
        for smarthost in smarthosts:
            host, port = _split_target(smarthost)
            assert host == "mailpit", f"{name}: smarthost {smarthost}"
            _assert_service_port(compose, host, port, f"{name} smarthost")


def test_secret_files_are_mounted_compose_secrets(compose: dict) -> None:
    mounted = set(compose["services"]["alertmanager"]["secrets"])
    assert mounted <= set(compose["secrets"])
    for name, config in _alertmanager_configs(compose).items():
        for where, key, value in _walk(config):
            if key.endswith("_file"):
                assert value.startswith("/run/secrets/"), f"{name}{where}: {value}"
                assert value.removeprefix("/run/secrets/") in mounted, f"{name}{where}: {value} not mounted"


def test_email_only_config_has_no_slack_and_full_config_has(compose: dict) -> None:
    configs = _alertmanager_configs(compose)
    if "alertmanager.email-only.yml" not in configs:
        pytest.skip("no email-only variant")
    assert any(key == "slack_configs" for _, key, _ in _walk(configs["alertmanager.yml"]))
    assert not any(key == "slack_configs" for _, key, _ in _walk(configs["alertmanager.email-only.yml"]))


def test_templates_resolve_to_mounted_files(compose: dict) -> None:
    for name, config in _alertmanager_configs(compose).items():
        for pattern in config.get("templates", []):
            directory, _, glob = pattern.rpartition("/")
            host = host_path_for(compose, "alertmanager", directory)
            assert host is not None and list(host.glob(glob)), f"{name}: template {pattern} matches nothing"


# ------------------------------------------------------------------ Grafana


def _provisioning(compose: dict, kind: str) -> list[tuple[Path, dict]]:
    directory = host_path_for(compose, "grafana", f"/etc/grafana/provisioning/{kind}")
    assert directory is not None
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]) if directory.is_dir() else []
    if not files:
        pytest.skip(f"grafana/provisioning/{kind} not written yet")
    return [(path, yaml.safe_load(path.read_text())) for path in files]


def test_datasource_urls_are_compose_services_on_their_ports(compose: dict) -> None:
    types = set()
    for path, doc in _provisioning(compose, "datasources"):
        for source in doc.get("datasources", []):
            types.add(source["type"])
            url = urlsplit(source["url"])
            default = 443 if url.scheme == "https" else 80
            _assert_service_port(compose, url.hostname, url.port or default, f"{path.name}: {source['name']}")
            assert source.get("uid"), f"{path.name}: {source['name']} has no fixed uid"
            if source["type"] == "alertmanager":
                assert source.get("jsonData", {}).get("implementation") == "prometheus"
    assert {"prometheus", "loki"} <= types


def test_dashboard_provider_path_is_mounted_with_dashboards(compose: dict) -> None:
    providers = [p for _, doc in _provisioning(compose, "dashboards") for p in doc["providers"]]
    paths = [p["options"]["path"] for p in providers]
    assert paths
    for path in paths:
        host = host_path_for(compose, "grafana", path)
        assert host is not None and host.is_dir(), f"dashboard path {path} is not mounted"
        assert list(host.rglob("*.json")), f"no dashboards under {host}"


def test_grafana_smtp_is_mailpit(compose: dict) -> None:
    host, port = _split_target(compose["services"]["grafana"]["environment"]["GF_SMTP_HOST"])
    _assert_service_port(compose, host, port, "GF_SMTP_HOST")


# ------------------------------------------------------------------ Loki and Alloy


@pytest.fixture(scope="module")
def loki_config() -> dict:
    return yaml.safe_load((ROOT / "loki" / "loki-config.yml").read_text())


def test_loki_listens_where_compose_expects(compose: dict, loki_config: dict) -> None:
    assert loki_config["server"]["http_listen_port"] in container_port(compose["services"]["loki"])
    command = compose["services"]["loki"]["command"]
    path = next(arg.split("=", 1)[1] for arg in command if arg.startswith("-config.file="))
    assert host_path_for(compose, "loki", path) == (ROOT / "loki" / "loki-config.yml").resolve()


def test_loki_data_lives_in_the_volume(compose: dict, loki_config: dict) -> None:
    prefix = loki_config["common"]["path_prefix"]
    assert named_volume_mounts(compose["services"]["loki"]).get(prefix) == "loki-data"
    for _, key, value in _walk(loki_config):
        if key.endswith(("_directory", "_location")):
            assert value.startswith(prefix + "/"), f"{key}: {value} is outside the data volume"


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", duration))


def test_loki_single_binary_rules(loki_config: dict) -> None:
    assert loki_config["auth_enabled"] is False
    assert loki_config["common"]["replication_factor"] == 1
    assert loki_config["common"]["ring"]["kvstore"]["store"] == "inmemory"
    (schema,) = loki_config["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    assert schema["index"]["period"] == "24h"
    compactor, limits = loki_config["compactor"], loki_config["limits_config"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem", "Loki refuses retention without it"
    assert _seconds(limits["retention_period"]) >= 24 * 3600
    assert _seconds(limits["reject_old_samples_max_age"]) <= _seconds(limits["retention_period"])
    assert limits["allow_structured_metadata"] is True
    assert limits["volume_enabled"] is True
    assert limits["reject_old_samples"] is True
    assert 0 < limits["ingestion_rate_mb"] <= limits["ingestion_burst_size_mb"]
    assert 4 <= limits["max_label_names_per_series"] <= 15


def test_alloy_pushes_to_the_loki_service(compose: dict) -> None:
    alloy = compose["services"]["alloy"]
    pushed = urlsplit(alloy["environment"]["LOKI_PUSH_URL"])
    _assert_service_port(compose, pushed.hostname, pushed.port, "LOKI_PUSH_URL")
    assert pushed.path == "/loki/api/v1/push"
    config = (ROOT / "loki" / "config.alloy").read_text()
    default = re.search(r'coalesce\(sys\.env\("LOKI_PUSH_URL"\),\s*"([^"]+)"\)', config)
    assert default and default.group(1) == alloy["environment"]["LOKI_PUSH_URL"]
    mounted = {
        target: source for source, target, _ in [(m.split(":")[0], m.split(":")[1], "") for m in alloy["volumes"]]
    }
    assert mounted["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert 'host             = "unix:///var/run/docker.sock"' in config
    project = re.search(r'sys\.env\("TRADEWATCH_COMPOSE_PROJECT"\),\s*"([^"]+)"', config)
    assert project and project.group(1) == compose["name"]
    assert alloy["environment"]["TRADEWATCH_COMPOSE_PROJECT"] == compose["name"]
    config_path = alloy["command"][-1]
    assert host_path_for(compose, "alloy", config_path) == (ROOT / "loki" / "config.alloy").resolve()


# ------------------------------------------------------------------ the exporters' own settings

EXPORTER_COMMANDS = ("system-exporter", "trading-exporter", "model-exporter")


@dataclass
class _Run:
    returncode: int
    stdout: str
    stderr: str


def _tradewatch(*args: str, env: dict[str, str] | None = None) -> _Run:
    """The `tradewatch` CLI in this process (the same code path, without paying for a new interpreter
    that imports numpy and scipy each time), with ``env`` as the only TRADEWATCH_* variables."""
    from tradewatch.cli import main

    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        for key in [k for k in os.environ if k.startswith("TRADEWATCH_")]:
            del os.environ[key]
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse --help
                code = int(exc.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return _Run(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("name", EXPORTER_COMMANDS)
def test_exporter_environment_names_real_settings(compose: dict, name: str) -> None:
    service = compose["services"][name]
    assert service["command"][0] == name
    documented = set(re.findall(r"`(TRADEWATCH_[A-Z0-9_]+)`", _tradewatch(name, "--print-settings").stdout))
    assert documented, "no settings printed"
    unknown = {key for key in service["environment"] if key.startswith("TRADEWATCH_")} - documented
    assert unknown == set(), f"{name}: {sorted(unknown)} are not settings of the exporter"


@pytest.mark.parametrize("name", EXPORTER_COMMANDS)
def test_exporter_accepts_the_compose_configuration(compose: dict, name: str, tmp_path: Path) -> None:
    env = {k: str(v) for k, v in compose["services"][name]["environment"].items()}
    # Paths inside the container are not writable here; the values are what matters.
    for key, value in env.items():
        if value.startswith("/var/lib/tradewatch"):
            env[key] = str(tmp_path / value.lstrip("/"))
    result = _tradewatch(name, "--check-config", env=env)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["http.listen_address"] == "0.0.0.0"
    assert loaded["http.port"] in container_port(compose["services"][name])


def test_simulator_environment_names_what_simulate_reads(compose: dict) -> None:
    service = compose["services"]["simulator"]
    assert service["command"][0] == "simulate"
    help_text = _tradewatch("simulate", "--help").stdout
    for key in service["environment"]:
        assert key in help_text, f"simulate --help does not mention {key}"
    for key in ("TRADEWATCH_TRADING_URL", "TRADEWATCH_MODEL_URL"):
        url = urlsplit(service["environment"][key])
        _assert_service_port(compose, url.hostname, url.port, key)
    spool = service["environment"]["TRADEWATCH_SPOOL_DIR"]
    assert spool.startswith("/tmp/"), "the root filesystem is read-only: the spool must be on the tmpfs"


def test_simulator_healthcheck_tracks_the_spool(compose: dict, tmp_path: Path) -> None:
    code = compose["services"]["simulator"]["healthcheck"]["test"][-1].replace("/tmp/spool", str(tmp_path))
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0
    (tmp_path / "run-1.jsonl").write_bytes(b"x" * 2_000_000)
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode != 0


# ------------------------------------------------------------------ tradewatch doctor's defaults


def test_doctor_defaults_are_the_published_ports(compose: dict) -> None:
    """`tradewatch doctor` with no flags must look where the stack listens (compose and make dev)."""
    from tradewatch.devstack.stack import DEV_PORTS
    from tradewatch.doctor.checks import Endpoints
    from tradewatch.doctor.command import PORT_VARIABLES, default_endpoints

    env = example_env()
    defaults = Endpoints()
    assert default_endpoints({}, {}) == defaults
    for component, (variable, port) in PORT_VARIABLES.items():
        assert env[variable] == str(port), f".env.example {variable}"
        published = {p["published"]: int(p["target"]) for p in published_ports(compose["services"][component])}
        assert published.get(str(port)) in container_port(compose["services"][component]), component
        assert defaults.url(component) == f"http://127.0.0.1:{port}"
        if component in DEV_PORTS:
            assert DEV_PORTS[component] == port, f"make dev puts {component} elsewhere"
    mailpit = {p["target"]: p["published"] for p in published_ports(compose["services"]["mailpit"])}
    assert defaults.smtp == f"127.0.0.1:{mailpit['1025']}"
