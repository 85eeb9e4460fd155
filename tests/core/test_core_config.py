"""tradewatch.core.config: precedence, parsers, unknown keys, every problem reported at once."""

from __future__ import annotations

import re

import pytest

from tradewatch.core import config as cfg

SETTINGS = [
    cfg.Setting("http.port", cfg.integer(0, 65535), 9000, "port"),
    cfg.Setting("http.listen_address", cfg.string(allow_empty=False), "127.0.0.1"),
    cfg.Setting("feature.enabled", cfg.boolean(), False),
    cfg.Setting("feature.interval", cfg.duration(0.1), 15.0),
    cfg.Setting("feature.symbols", cfg.csv_list(), []),
    cfg.Setting("feature.limits", cfg.mapping_of(cfg.number(0)), {}),
    cfg.Setting("api.token", cfg.string(), "", secret=True),
    cfg.Setting("api.mode", cfg.choice("paper", "live"), "paper"),
]


def test_env_name():
    assert cfg.env_name("http.listen_address") == "TRADEWATCH_HTTP_LISTEN_ADDRESS"
    assert SETTINGS[3].env == "TRADEWATCH_FEATURE_INTERVAL"


def test_precedence_default_file_env_override(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("http: {port: 9100, listen_address: 0.0.0.0}\nfeature:\n  enabled: true\n  interval: 1m\n")
    environ = {"TRADEWATCH_HTTP_PORT": "9200", "TRADEWATCH_FEATURE_INTERVAL": "500ms"}
    config = cfg.load(SETTINGS, path, environ=environ, overrides={"feature.interval": 2, "http.port": None})
    assert config["api.mode"] == "paper" and config.source("api.mode") == "default"
    assert config["http.listen_address"] == "0.0.0.0"
    assert config.source("http.listen_address") == f"file {path}"
    assert config["feature.enabled"] is True
    assert config["http.port"] == 9200 and config.source("http.port") == "environment TRADEWATCH_HTTP_PORT"
    assert config["feature.interval"] == 2.0 and config.source("feature.interval") == "command line"


def test_structured_values_from_environment_text():
    config = cfg.load(
        SETTINGS,
        None,
        environ={"TRADEWATCH_FEATURE_SYMBOLS": "BTC, ETH,", "TRADEWATCH_FEATURE_LIMITS": '{"BTC": 2.5, "ETH": 10}'},
    )
    assert config["feature.symbols"] == ["BTC", "ETH"]
    assert config["feature.limits"] == {"BTC": 2.5, "ETH": 10.0}
    listed = cfg.load(SETTINGS, None, environ={"TRADEWATCH_FEATURE_SYMBOLS": "[SOL]"})
    assert listed["feature.symbols"] == ["SOL"]


@pytest.mark.parametrize(
    ("parser", "raw", "value"),
    [
        (cfg.duration(), "500ms", 0.5),
        (cfg.duration(), "5m", 300.0),
        (cfg.duration(), "1.5h", 5400.0),
        (cfg.duration(), 7, 7.0),
        (cfg.integer(), " 42 ", 42),
        (cfg.integer(), 3.0, 3),
        (cfg.number(), "1e3", 1000.0),
        (cfg.boolean(), "YES", True),
        (cfg.boolean(), "off", False),
        (cfg.choice("a", "b"), " B ", "b"),
        (cfg.optional_regex(), "", None),
    ],
)
def test_parsers_accept(parser, raw, value):
    assert parser(raw) == value


@pytest.mark.parametrize(
    ("parser", "raw", "message"),
    [
        (cfg.integer(), True, "expected an integer"),
        (cfg.integer(), 1.5, "expected an integer"),
        (cfg.integer(0, 10), 11, "<= 10"),
        (cfg.number(), "nan", "finite"),
        (cfg.number(), "inf", "finite"),
        (cfg.duration(), "soon", "expected a duration"),
        (cfg.duration(), "-1s", "expected a duration"),
        (cfg.boolean(), "maybe", "true or false"),
        (cfg.choice("a", "b"), "c", "one of a, b"),
        (cfg.regex(), "(", "valid regular expression"),
        (cfg.string(allow_empty=False), " ", "non-empty"),
        (cfg.list_of(cfg.integer()), {"a": 1}, "expected a list"),
        (cfg.mapping_of(cfg.number()), [1], "mapping"),
        (cfg.list_of(cfg.integer()), [1, "x"], "item 1: expected an integer"),
    ],
)
def test_parsers_reject_with_what_was_expected(parser, raw, message):
    with pytest.raises(cfg.Invalid, match=re.escape(message)):
        parser(raw)


def test_record_fields_unknown_keys_and_required():
    record = cfg.Record({"name": (cfg.string(allow_empty=False), None, True), "n": (cfg.integer(), 3, False)})
    assert record({"name": "x"}) == {"name": "x", "n": 3}
    with pytest.raises(cfg.Invalid, match="unknown key"):
        record({"name": "x", "extra": 1})
    with pytest.raises(cfg.Invalid, match="missing required key 'name'"):
        record({"n": 1})
    with pytest.raises(cfg.Invalid, match="n: expected an integer"):
        record({"name": "x", "n": "many"})


def test_every_problem_reported_at_once(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("http: {port: 99999}\nfeature: {enabled: maybe, colour: red}\nport: 1\n")
    settings = [*SETTINGS, cfg.Setting("api.key", cfg.string(), required=True)]
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(settings, path, environ={"TRADEWATCH_API_MODE": "yolo"}, overrides={"nope": 1})
    problems = info.value.problems
    assert len(problems) == 7, problems
    text = str(info.value)
    for expected in (
        "http.port",
        "99999",
        "feature.enabled",
        "maybe",
        "feature.colour: unknown setting",
        "port: unknown setting",
        "did you mean http.port",
        "api.mode",
        "TRADEWATCH_API_MODE",
        "yolo",
        "api.key: required",
        "TRADEWATCH_API_KEY",
        "nope: unknown setting",
    ):
        assert expected in text, expected


def test_secret_values_never_appear_in_errors_or_public_view():
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(
            [cfg.Setting("api.token", cfg.integer(), 0, secret=True)],
            None,
            environ={"TRADEWATCH_API_TOKEN": "hunter2-secret"},
        )
    assert "hunter2-secret" not in str(info.value) and "***" in str(info.value)
    config = cfg.load(SETTINGS, None, environ={"TRADEWATCH_API_TOKEN": "hunter2-secret"})
    assert config.public()["api.token"] == "***"
    assert config.public()["http.port"] == 9000


def test_file_problems_are_reported(tmp_path):
    with pytest.raises(cfg.ConfigError, match="cannot read config file"):
        cfg.load(SETTINGS, tmp_path / "missing.yml", environ={})
    bad = tmp_path / "bad.yml"
    bad.write_text("http: [unclosed\n")
    with pytest.raises(cfg.ConfigError, match="not valid YAML"):
        cfg.load(SETTINGS, bad, environ={})
    top = tmp_path / "list.yml"
    top.write_text("- a\n- b\n")
    with pytest.raises(cfg.ConfigError, match="expected a mapping at the top level"):
        cfg.load(SETTINGS, top, environ={})


def test_empty_file_means_defaults(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("")
    assert cfg.load(SETTINGS, path, environ={})["http.port"] == 9000


def test_settings_doc_markdown():
    text = cfg.SettingsDoc.of(SETTINGS).markdown()
    assert text.splitlines()[0] == "| key | environment | default | meaning |"
    assert "| `http.port` | `TRADEWATCH_HTTP_PORT` | `9000` | port |" in text


def test_settings_doc_escapes_pipes_so_table_rows_keep_four_cells():
    text = cfg.SettingsDoc.of([cfg.Setting("f.exclude", cfg.regex(), "^(a|b)$", "either a|b")]).markdown()
    row = text.splitlines()[2]
    assert row == "| `f.exclude` | `TRADEWATCH_F_EXCLUDE` | `'^(a\\|b)$'` | either a\\|b |"
    assert len(re.split(r"(?<!\\)\|", row)) == 6
