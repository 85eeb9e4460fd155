"""tools/containers/compose.py without an engine: interpolation, the translation of
docker-compose.yml into Docker API arguments, start order, and refusal of what it does not implement."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.containers.stack_helpers import ROOT, compose, secret_env

pytest.importorskip("docker")

# The services the container tier starts (their images can be built here), and the stand-in.
TIER = ["mailpit", "alertmanager", "prometheus", "system-exporter", "trading-exporter", "model-exporter",
        "simulator", "report-scheduler"]  # fmt: skip


@pytest.fixture
def doc(tmp_path: Path) -> dict:
    return compose.load([ROOT / "docker-compose.yml"], None, secret_env(tmp_path))


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "a"}, "a"),
        ("$A/${B}", {"A": "1", "B": "2"}, "1/2"),
        ("$${A}", {"A": "1"}, "${A}"),
        ("${A:+set}", {"A": "1"}, "set"),
        ("${A:+set}", {}, ""),
        ("${A:?need A}", {"A": "v"}, "v"),
    ],
)
def test_interpolation(text: str, env: dict, expected: str) -> None:
    assert compose.interpolate(text, env) == expected


def test_required_variable_fails_with_its_message() -> None:
    with pytest.raises(compose.ComposeError, match="set it please"):
        compose.interpolate({"k": ["${X:?set it please}"]}, {})


def test_env_file_then_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPROMETHEUS_PORT=19090\nTRADEWATCH_LOG_LEVEL='debug'\nX=1 # trailing\n")
    doc = compose.load([ROOT / "docker-compose.yml"], env_file, {"TRADEWATCH_LOG_LEVEL": "warning"})
    assert compose.read_env_file(env_file)["X"] == "1"
    svc = compose.service_config(doc, "prometheus")
    assert svc["ports"] == ["127.0.0.1:19090:9090"]
    assert "--web.external-url=http://localhost:19090" in svc["command"]
    assert compose.service_config(doc, "trading-exporter")["environment"]["TRADEWATCH_LOG_LEVEL"] == "warning"


def test_grafana_needs_its_password_but_other_services_do_not(doc: dict) -> None:
    compose.service_config(doc, "prometheus")  # no GRAFANA_ADMIN_PASSWORD needed
    with pytest.raises(compose.ComposeError, match="GRAFANA_ADMIN_PASSWORD"):
        compose.service_config(doc, "grafana")


def test_trading_exporter_plan_matches_the_file(doc: dict) -> None:
    kw = compose.plan(doc, "trading-exporter")
    assert kw["image"] == "tradewatch/exporters:0.1.0"
    assert kw["name"] == "tradewatch-trading-exporter-1"
    assert kw["command"] == ["trading-exporter"]
    assert kw["user"] == "10001:10001" and kw["read_only"] is True
    assert kw["cap_drop"] == ["ALL"] and kw["security_opt"] == ["no-new-privileges:true"]
    assert kw["tmpfs"] == {"/tmp": "size=16m,mode=1777"}
    assert kw["ports"] == {"9812/tcp": ("127.0.0.1", 9812)}
    assert kw["mem_limit"] == "256m"
    assert kw["restart_policy"] == {"Name": "unless-stopped"}
    assert kw["environment"]["TRADEWATCH_JOURNAL_PATH"] == "/var/lib/tradewatch/journal"
    assert kw["networking_config"] == {"tradewatch_default": {"Aliases": ["trading-exporter"]}}
    (mount,) = kw["mounts"]
    assert (mount["Type"], mount["Source"], mount["Target"]) == ("volume", "tradewatch_trading-journal",
                                                                 "/var/lib/tradewatch")  # fmt: skip
    hc = kw["healthcheck"]
    assert hc["test"][:2] == ["CMD", "python"]
    assert (hc["interval"], hc["timeout"], hc["start_period"], hc["retries"]) == (15e9, 5e9, 30e9, 5)
    assert kw["log_config"]["Type"] == "json-file" and kw["log_config"]["Config"]["max-file"] == "3"


def test_binds_secrets_and_propagation(doc: dict) -> None:
    am = compose.plan(doc, "alertmanager")
    assert am["entrypoint"] == ["/bin/sh", "/etc/alertmanager/entrypoint.sh"]
    targets = {m["Target"]: m for m in am["mounts"]}
    assert targets["/etc/alertmanager"]["Source"] == str(ROOT / "alertmanager")
    assert targets["/etc/alertmanager"]["ReadOnly"] is True
    assert targets["/run/secrets/slack_webhook_url"]["Type"] == "bind"
    system = {m["Target"]: m for m in compose.plan(doc, "system-exporter")["mounts"]}
    assert system["/host/root"]["BindOptions"] == {"Propagation": "rslave"}


def test_start_order_follows_depends_on(doc: dict) -> None:
    names = compose.order(doc, TIER)
    assert sorted(names) == sorted(TIER)
    for before, after in [("mailpit", "alertmanager"), ("alertmanager", "prometheus"),
                          ("prometheus", "report-scheduler"), ("trading-exporter", "simulator")]:  # fmt: skip
        assert names.index(before) < names.index(after)
    assert compose.depends_on(compose.service_config(doc, "simulator")) == {
        "trading-exporter": "service_healthy", "model-exporter": "service_healthy"}  # fmt: skip
    with pytest.raises(compose.ComposeError, match="depends on mailpit"):
        compose.order(doc, ["alertmanager"])


def test_replicas_follow_the_variable(tmp_path: Path) -> None:
    doc = compose.load([ROOT / "docker-compose.yml"], None, {"SIMULATOR_REPLICAS": "0"})
    assert compose.replicas(compose.service_config(doc, "simulator")) == 0
    doc = compose.load([ROOT / "docker-compose.yml"], None, {})
    assert compose.replicas(compose.service_config(doc, "simulator")) == 1


def test_override_file_merges_environment(tmp_path: Path) -> None:
    override = tmp_path / "override.yml"
    override.write_text("services:\n  report-scheduler:\n    environment:\n      TRADEWATCH_REPORTS: '[]'\n")
    doc = compose.load([ROOT / "docker-compose.yml", override], None, {})
    env = compose.service_config(doc, "report-scheduler")["environment"]
    assert env["TRADEWATCH_REPORTS"] == "[]" and env["TRADEWATCH_REPORT_OUT_DIR"] == "/var/lib/tradewatch/reports"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("    networks: [other]\n", "key not implemented: networks"),
        ("    healthcheck:\n      test: [CMD, x]\n      start_interval: 1s\n", "start_interval"),
        ("    deploy:\n      resources:\n        limits:\n          cpus: '1'\n", "limits.memory"),
        ("    ports:\n      - target: 80\n", "short port syntax"),
        ("    volumes:\n      - nowhere:/x\n", "not declared"),
    ],
)
def test_unimplemented_keys_are_refused(tmp_path: Path, extra: str, match: str) -> None:
    path = tmp_path / "c.yml"
    path.write_text("name: t\nservices:\n  s:\n    image: i\n" + extra)
    doc = compose.load([path], None, {})
    with pytest.raises(compose.ComposeError, match=match):
        compose.plan(doc, "s", project_dir=tmp_path)


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("name: t\nconfigs: {}\nservices: {}\n")
    with pytest.raises(compose.ComposeError, match="configs"):
        compose.load([path], None, {})


def test_durations() -> None:
    assert compose.duration_ns("1m30s") == 90e9
    assert compose.duration_ns("500ms") == 5e8
    with pytest.raises(compose.ComposeError):
        compose.duration_ns("15 seconds")


def test_every_tier_service_plans(doc: dict) -> None:
    """The whole file as the tier runs it: no key the driver would drop."""
    for name in TIER:
        compose.plan(doc, name)
