"""Redaction corpus: no secret survives in messages, fields, exception text or Sentry events."""

from __future__ import annotations

import logging

import pytest
from coretools import json_logs

from tradewatch.core import logging as twlog
from tradewatch.core.errors import before_send
from tradewatch.core.redact import Redactor, set_redactor

ACCOUNT = "ACC-778899"
# (case, text as it might appear, the secret part that must not survive)
CORPUS = [
    ("openai key", "calling provider with key sk-proj-AbCdEfGhIjKlMnOpQrStUv123", "AbCdEfGhIjKlMnOpQrStUv123"),
    ("api_key param", "GET /v1/price?symbol=BTC&api_key=9f8e7d6c5b4a3210 failed", "9f8e7d6c5b4a3210"),
    ("bearer header", "Authorization: Bearer abc.DEF-ghi_jkl123456789", "abc.DEF-ghi_jkl123456789"),
    (
        "jwt",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    ("password kv", "login failed password=hunter2!x for user", "hunter2!x"),
    ("password json", '{"user": "bob", "password": "Tr0ub4dor&3"}', "Tr0ub4dor"),
    ("client secret", "client_secret: s3cr3t-VALUE-42", "s3cr3t-VALUE-42"),
    ("url credentials", "connect postgres://trader:s3cretPass@db.internal:5432/trades", "s3cretPass"),
    ("url user", "amqp://svc-user:pw123@mq:5672/", "pw123"),
    ("email", "report sent to alice.trader@example.com", "alice.trader@example.com"),
    ("account id", f"margin call on account {ACCOUNT} (equity low)", ACCOUNT),
    ("slack webhook", "posting to https://hooks.slack.com/services/T0001/B0002/XyZsecret123", "XyZsecret123"),
    ("slack token", "bot token xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("aws key", "aws key AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE"),
    ("github token", "clone with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
]
IDS = [c[0] for c in CORPUS]


@pytest.fixture
def logs():
    with json_logs(account_ids=[ACCOUNT]) as captured:
        yield captured


@pytest.mark.parametrize(("case", "text", "secret"), CORPUS, ids=IDS)
def test_secret_in_message(logs, case, text, secret):
    twlog.get_logger("x").info(text)
    (line,) = logs.lines()
    assert secret not in line["event"] and "***" in line["event"]


@pytest.mark.parametrize(("case", "text", "secret"), CORPUS, ids=IDS)
def test_secret_in_fields_nested_values_and_stdlib_args(logs, case, text, secret):
    log = twlog.get_logger("x")
    log.info("event", detail=text, nested={"items": [text, {"deeper": text}]}, args=(text,))
    logging.getLogger("lib").warning("library said: %s", text)
    assert secret not in logs.text()
    assert len(logs.lines()) == 2


@pytest.mark.parametrize(("case", "text", "secret"), CORPUS, ids=IDS)
def test_secret_in_exception_text(logs, case, text, secret):
    try:
        raise ConnectionError(text)
    except ConnectionError:
        twlog.get_logger("x").exception("request failed")
        logging.getLogger("lib").exception("lib request failed")
    lines = logs.lines()
    assert len(lines) == 2 and all("ConnectionError" in line["exception"] for line in lines)
    assert secret not in logs.text()


@pytest.mark.parametrize(("case", "text", "secret"), CORPUS, ids=IDS)
def test_secret_in_sentry_event(case, text, secret):
    set_redactor(Redactor([ACCOUNT]))
    try:
        event = {
            "message": text,
            "logentry": {"message": "failed: %s", "params": [text]},
            "exception": {
                "values": [
                    {
                        "type": "ValueError",
                        "value": text,
                        "stacktrace": {"frames": [{"vars": {"url": text, "password": "pw"}}]},
                    }
                ]
            },
            "breadcrumbs": {"values": [{"message": text, "data": {"detail": text}}]},
            "extra": {"context": text},
            "request": {"url": "https://api.example/x", "headers": {"Authorization": "Bearer zzzzzzzzzzzz"}},
            "tags": {"service": "trading-exporter"},
        }
        out = before_send(event, {})
    finally:
        set_redactor(Redactor())
    rendered = repr(out)
    assert secret not in rendered and "zzzzzzzzzzzz" not in rendered
    assert out["tags"] == {"service": "trading-exporter"}  # harmless data passes
    assert out["exception"]["values"][0]["type"] == "ValueError"


def test_sensitive_field_names_mask_the_whole_value(logs):
    twlog.get_logger("x").info(
        "cfg",
        password="plain words here",
        api_key="k",
        token="t0k",
        webhook_url="https://example/x",
        dsn="https://pub@sentry.example/1",
        quantity=5,
    )
    (line,) = logs.lines()
    for key in ("password", "api_key", "token", "webhook_url", "dsn"):
        assert line[key] == "***", key
    assert line["quantity"] == 5


def test_ordinary_text_is_left_alone(logs):
    message = "order filled: BTC-USD buy 0.5 @ 64000 on venue binance, latency 12 ms"
    twlog.get_logger("x").info(message, symbol="BTC-USD", account_type="margin")
    (line,) = logs.lines()
    assert line["event"] == message and line["symbol"] == "BTC-USD"
