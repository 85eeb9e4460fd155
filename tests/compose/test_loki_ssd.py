"""Loki in simple scalable mode (docker-compose.ha.yml + loki/loki-ssd.yml): the single binary's
schema, retention and limits, every address a Compose service, no keys in files that are not
secrets, and Loki's own -verify-config when a loki binary is at hand (LOKI_BIN or PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml
from composefile import ROOT, example_env, host_path_for, load_compose, named_volume_mounts, published_ports
from overrides import load_override, merge

SINGLE = ROOT / "loki" / "loki-config.yml"
SSD = ROOT / "loki" / "loki-ssd.yml"
TARGETS = {"loki": "read", "loki-write": "write", "loki-backend": "backend"}
SECRET = "/run/secrets/loki_s3_credentials"


@pytest.fixture(scope="module")
def single() -> dict:
    return yaml.safe_load(SINGLE.read_text())


@pytest.fixture(scope="module")
def ssd() -> dict:
    return yaml.safe_load(SSD.read_text())


@pytest.fixture(scope="module")
def merged() -> dict:
    return merge(load_compose(example_env()), load_override(example_env()))


def _flag(command: list[str], name: str) -> str:
    [value] = [c.split("=", 1)[1] for c in command if c.startswith(f"-{name}=")]
    return value


def test_same_schema_retention_and_limits_as_the_single_binary(single: dict, ssd: dict) -> None:
    for key in ("limits_config", "query_range", "auth_enabled", "analytics", "pattern_ingester"):
        assert ssd[key] == single[key], key
    (one,) = single["schema_config"]["configs"]
    (other,) = ssd["schema_config"]["configs"]
    assert {**one, "object_store": "s3"} == other
    assert {k: v for k, v in ssd["compactor"].items() if k != "delete_request_store"} == {
        k: v for k, v in single["compactor"].items() if k != "delete_request_store"
    }
    assert ssd["compactor"]["delete_request_store"] == "s3"
    assert ssd["common"]["replication_factor"] == single["common"]["replication_factor"]


def test_each_target_runs_the_ssd_config_with_the_credentials_secret(merged: dict, ssd: dict) -> None:
    services = merged["services"]
    for name, target in TARGETS.items():
        service = services[name]
        assert _flag(service["command"], "target") == target, name
        path = _flag(service["command"], "config.file")
        assert host_path_for(merged, name, path) == SSD.resolve(), name
        assert service["environment"]["AWS_SHARED_CREDENTIALS_FILE"] == SECRET, name
        assert "loki_s3_credentials" in service["secrets"], name
        assert named_volume_mounts(service).get(ssd["common"]["path_prefix"]), f"{name}: no volume for its state"
    volumes = [named_volume_mounts(services[n])[ssd["common"]["path_prefix"]] for n in TARGETS]
    assert len(set(volumes)) == len(volumes) and "loki-data" not in volumes, volumes
    assert services["minio"]["secrets"] == ["loki_s3_credentials"]
    assert merged["secrets"]["loki_s3_credentials"]["file"] == "./secrets/loki_s3_credentials"


def test_no_keys_or_default_password_in_files(ssd: dict) -> None:
    text = SSD.read_text() + (ROOT / "docker-compose.ha.yml").read_text()
    for word in ("access_key_id:", "secret_access_key:", "MINIO_ROOT_PASSWORD:", "MINIO_ROOT_USER:"):
        assert word not in text, word
    example = (ROOT / "secrets" / "loki_s3_credentials.example").read_text()
    assert "aws_secret_access_key =\n" in example + "\n", "the example must not carry a usable secret"


def test_every_address_is_a_compose_service(merged: dict, ssd: dict) -> None:
    services = merged["services"]
    members = {m.split(":")[0] for m in ssd["memberlist"]["join_members"]}
    assert members == set(TARGETS)
    assert urlsplit(ssd["common"]["compactor_address"]).hostname == "loki-backend"
    for s3 in (ssd["common"]["storage"]["s3"], ssd["ruler"]["storage"]["s3"]):
        assert s3["endpoint"].split(":")[0] in services
        assert f"/data/{s3['bucketnames']}" in services["minio"]["command"][0], "bucket not created"
    push = urlsplit(services["alloy"]["environment"]["LOKI_PUSH_URL"])
    assert push.hostname == "loki-write" and push.port == ssd["server"]["http_listen_port"]
    assert "loki-write" in services["alloy"]["depends_on"]
    assert not published_ports(services["minio"]) and not published_ports(services["loki-write"])


def _loki() -> str | None:
    return os.environ.get("LOKI_BIN") or shutil.which("loki")


NO_LOKI = pytest.mark.skipif(_loki() is None, reason="no loki binary (LOKI_BIN or PATH); CI does not need one")


@NO_LOKI
def test_loki_has_the_simple_scalable_targets() -> None:
    # -verify-config does not look at -target: a Loki without read/write/backend (removed after 3.x
    # upstream) would pass it and then refuse to start.
    res = subprocess.run(
        [_loki(), f"-config.file={SINGLE}", "-list-targets"], capture_output=True, text=True, timeout=60
    )
    targets = {line.strip() for line in res.stdout.splitlines() if line and not line[0].isspace()}
    assert set(TARGETS.values()) <= targets, sorted(targets)


@NO_LOKI
@pytest.mark.parametrize("config,target", [(SINGLE, "all"), (SSD, "read"), (SSD, "write"), (SSD, "backend")])
def test_loki_verify_config(config, target) -> None:
    res = subprocess.run(
        [_loki(), f"-config.file={config}", f"-target={target}", "-verify-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr
