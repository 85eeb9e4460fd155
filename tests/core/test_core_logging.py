"""tradewatch.core.logging: JSON shape, levels, correlation IDs across threads, stdlib records."""

from __future__ import annotations

import logging
import re
import threading

from coretools import json_logs

from tradewatch.core import logging as twlog

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_one_json_object_per_line_with_the_required_fields():
    with json_logs("svc") as logs:
        twlog.get_logger("tradewatch.test").info("order sent", symbol="BTC", quantity=2)
        twlog.get_logger("tradewatch.test").debug("dropped at info level")
    (line,) = logs.lines()
    assert set(twlog.LOG_FIELDS) <= set(line)
    assert TIMESTAMP.match(line["timestamp"])
    assert (line["level"], line["service"], line["logger"], line["event"]) == (
        "info",
        "svc",
        "tradewatch.test",
        "order sent",
    )
    assert (line["symbol"], line["quantity"]) == ("BTC", 2)
    assert "correlation_id" not in line


def test_levels_are_lower_case_and_filtered():
    with json_logs(level="warning") as logs:
        log = twlog.get_logger("x")
        log.info("no")
        log.warning("w")
        log.error("e")
    assert [(line["level"], line["event"]) for line in logs.lines()] == [("warning", "w"), ("error", "e")]


def test_correlation_scope_and_nesting():
    with json_logs() as logs:
        log = twlog.get_logger("x")
        with twlog.correlation("outer-1") as cid:
            assert cid == "outer-1"
            log.info("a")
            with twlog.correlation("inner-2", batch=7):
                log.info("b")
            log.info("c")
        log.info("d")
    got = [(line["event"], line.get("correlation_id"), line.get("batch")) for line in logs.lines()]
    assert got == [("a", "outer-1", None), ("b", "inner-2", 7), ("c", "outer-1", None), ("d", None, None)]


def test_correlation_ids_do_not_leak_between_threads():
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        with twlog.correlation(f"cid-{n}"):
            for i in range(20):
                if i == 5:
                    barrier.wait()  # all four threads inside their scopes at once
                twlog.get_logger("worker").info("step", worker=n, i=i)

    with json_logs() as logs:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        twlog.get_logger("main").info("after")
    lines = logs.lines()
    assert len(lines) == 81
    for line in lines[:-1]:
        assert line["correlation_id"] == f"cid-{line['worker']}"
    assert "correlation_id" not in lines[-1]


def test_with_correlation_gives_each_call_an_id_and_keeps_a_bound_one():
    @twlog.with_correlation
    def handle() -> None:
        twlog.get_logger("h").info("handled")

    with json_logs() as logs:
        handle()
        handle()
        with twlog.correlation("request-9"):
            handle()
    ids = [line["correlation_id"] for line in logs.lines()]
    assert len(ids[0]) == 32 and ids[0] != ids[1] and ids[2] == "request-9"


def test_stdlib_records_have_the_same_shape():
    with json_logs("svc") as logs:
        with twlog.correlation("lib-cid"):
            logging.getLogger("some.library").warning("retrying %s in %ds", "GET", 3)
        twlog.get_logger("tradewatch.x").warning("ours")
    lib, ours = logs.lines()
    assert set(lib) - {"correlation_id"} == set(ours)
    assert (lib["logger"], lib["level"], lib["event"], lib["service"], lib["correlation_id"]) == (
        "some.library",
        "warning",
        "retrying GET in 3s",
        "svc",
        "lib-cid",
    )
    assert TIMESTAMP.match(lib["timestamp"])


def test_exceptions_are_rendered_into_the_line():
    with json_logs() as logs:
        try:
            raise RuntimeError("venue timeout")
        except RuntimeError:
            twlog.get_logger("x").exception("call failed")
            logging.getLogger("lib").exception("lib call failed")
    ours, lib = logs.lines()
    for line in (ours, lib):
        assert line["level"] == "error"
        assert "RuntimeError: venue timeout" in line["exception"] and "Traceback" in line["exception"]
