"""Configuration of the system exporter: defaults, every bad value named, exit status 2, nothing bound."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from localservers import free_port

from tradewatch.core import config as cfg
from tradewatch.system import settings


def load(overrides=None, environ=None, path=None) -> cfg.Config:
    return cfg.load(settings.settings(), path, environ=environ or {}, overrides=overrides)


def problems(**kwargs) -> str:
    with pytest.raises(cfg.ConfigError) as info:
        load(**kwargs)
    return str(info.value)


def test_defaults_start_without_a_config_file():
    config = load()
    assert config["http.port"] == 9811 and config["http.listen_address"] == "127.0.0.1"
    assert config["filesystem.fstypes_exclude"].search("tmpfs")
    assert not config["filesystem.fstypes_exclude"].search("ext4")
    assert config["probes"] == [] and config["components.watch"] == []


def test_regex_filters_are_settings_and_can_be_emptied():
    config = load(environ={"TRADEWATCH_FILESYSTEM_FSTYPES_EXCLUDE": "", "TRADEWATCH_DISKIO_DEVICES_INCLUDE": "^sd"})
    assert config["filesystem.fstypes_exclude"] is None
    assert config["diskio.devices_include"].pattern == "^sd"


def test_probe_defaults_and_env_given_as_json():
    probes = json.dumps([{"name": "db", "kind": "tcp", "target": "db:5432"}])
    probe = load(environ={"TRADEWATCH_PROBES": probes})["probes"][0]
    assert probe == {
        "name": "db",
        "kind": "tcp",
        "target": "db:5432",
        "interval": 15.0,
        "timeout": 5.0,
        "expect_status": [],
        "required": False,
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"filesystem.fstypes_exclude": "^(tmpfs"}, "filesystem.fstypes_exclude"),
        ({"network.interfaces_include": "[eth"}, "expected a valid regular expression"),
        ({"collectors.disabled": "cpu,gpu"}, "expected one of cpu, memory"),
        ({"processes.scan_interval": "soon"}, "expected a duration"),
        ({"components.watch": [{"component": "bot"}]}, "give name (exact process name) or cmdline"),
        ({"components.watch": [{"component": "bot bad", "name": "x"}]}, "component: expected a string matching"),
        ({"components.watch": [{"component": "bot", "name": "x", "pid": 3}]}, "unknown key(s) pid"),
        ({"probes": [{"name": "db", "kind": "icmp", "target": "db:1"}]}, "kind: expected one of tcp, http"),
        ({"probes": [{"name": "db", "kind": "tcp", "target": "db"}]}, "target: expected host:port"),
        ({"probes": [{"name": "api", "kind": "http", "target": "ftp://x"}]}, "expected an http:// or https:// URL"),
        (
            {"probes": [{"name": "db", "kind": "tcp", "target": "db:1", "interval": "1s", "timeout": "5s"}]},
            "timeout (5.0s) must not exceed interval (1.0s)",
        ),
        (
            {
                "probes": [
                    {"name": "db", "kind": "tcp", "target": "db:1"},
                    {"name": "db", "kind": "tcp", "target": "x:2"},
                ]
            },
            "item 1: duplicate name 'db'",
        ),
        (
            {"probes": [{"name": "api", "kind": "http", "target": "http://x/", "expect_status": [200, 999]}]},
            "expected a value <= 599",
        ),
        ({"probes": [{"kind": "tcp", "target": "db:1"}]}, "missing required key 'name'"),
    ],
)
def test_each_bad_value_is_named(overrides, expected):
    message = problems(overrides=overrides)
    key = next(iter(overrides))
    assert key in message and expected in message


def test_every_problem_reported_at_once(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        "http: {port: 70000}\n"
        "filesystem: {fstypes_exclude: '^(tmpfs'}\n"
        "probes: [{name: db, kind: icmp, target: 'db:1'}]\n"
        "interfaces_exclude: lo\n"
    )
    message = problems(path=path, environ={"TRADEWATCH_COMPONENTS_RESCAN_INTERVAL": "often"})
    for expected in (
        "http.port",
        "70000",
        "filesystem.fstypes_exclude",
        "probes",
        "icmp",
        "interfaces_exclude: unknown setting",
        "did you mean network.interfaces_exclude",
        "components.rescan_interval",
        "TRADEWATCH_COMPONENTS_RESCAN_INTERVAL",
    ):
        assert expected in message
    assert "(5 problem(s))" in message


def test_bad_config_exits_2_naming_every_problem_and_binds_nothing(tmp_path, root):
    port = free_port()
    path = tmp_path / "bad.yml"
    path.write_text("probes: [{name: db, kind: tcp, target: nowhere}]\ncomponents: {watch: [{component: bot}]}\n")
    env = dict(os.environ, TRADEWATCH_LOG_LEVEL="loud")
    result = subprocess.run(
        [sys.executable, "-m", "tradewatch", "system-exporter", "--config", str(path), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    for expected in (
        "probes",
        "expected host:port",
        "components.watch",
        "give name",
        "log.level",
        "TRADEWATCH_LOG_LEVEL",
        "'loud'",
    ):
        assert expected in result.stderr
    assert "exporter listening" not in result.stdout
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_check_config_and_print_settings(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("probes: [{name: db, kind: tcp, target: 'db:5432', required: true}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "tradewatch", "system-exporter", "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["probes"][0]["required"] is True and shown["http.port"] == 9811
    result = subprocess.run(
        [sys.executable, "-m", "tradewatch", "system-exporter", "--print-settings"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for setting in settings.settings():
        assert f"`{setting.key}`" in result.stdout and f"`{setting.env}`" in result.stdout
