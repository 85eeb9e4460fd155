"""The exporters' /metrics writer: OpenMetrics 1.0 (with exemplars) and the Prometheus text format 0.0.4.

Written on prometheus_client's public API only (``registry.collect()``, the ``Metric``/``Sample``/
``Exemplar`` objects and ``floatToGoString``). The library's own OpenMetrics writer escapes every
name character by character (a third of a scrape's CPU); every TradeWatch name is a valid legacy
name, so names are written as they are, and a name that is not (only a third-party collector could
add one) has each invalid character replaced by ``_``, as the library's default "underscores"
escaping does. ``make bench BENCH=trading`` compares this writer with the library's.

Negotiation: any ``application/openmetrics-text`` in ``Accept`` (what Prometheus sends first)
gets OpenMetrics 1.0.0, exemplars included; anything else gets text 0.0.4, which has no exemplars.
"""

from __future__ import annotations

import re

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"

_LEGACY = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").fullmatch
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
# Samples the text format has no place for in their family; written as gauges after it.
_TEXT_APART = ("_created", "_gsum", "_gcount")
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


def choose(accept: str) -> tuple[bool, str]:
    """(OpenMetrics?, content type) for an ``Accept`` header."""
    for part in accept.split(","):
        if part.split(";", 1)[0].strip().lower() == "application/openmetrics-text":
            return True, OPENMETRICS
    return False, TEXT


def _name(name: str) -> str:
    if _LEGACY(name):
        return name
    out = _INVALID.sub("_", name)
    return out if out[:1] and not out[0].isdigit() else "_" + out


def _value(v: str) -> str:
    if "\\" in v or "\n" in v or '"' in v:
        return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return v


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{_name(k)}="{_value(v)}"' for k, v in sorted(labels.items())) + "}"


def _exemplar(ex: Exemplar) -> str:
    ts = "" if ex.timestamp is None else f" {floatToGoString(float(ex.timestamp))}"
    return f" # {_labels(ex.labels)} {floatToGoString(ex.value)}{ts}"


def _may_carry_exemplar(metric: Metric, sample: Sample) -> bool:
    if metric.type in ("histogram", "gaugehistogram"):
        return sample.name.endswith("_bucket")
    return metric.type == "counter" and sample.name.endswith("_total")


def openmetrics(registry: Collector) -> bytes:
    out: list[str] = []
    for metric in registry.collect():
        name = _name(metric.name)
        out.append(f"# HELP {name} {_value(metric.documentation)}\n# TYPE {name} {metric.type}\n")
        if metric.unit:
            out.append(f"# UNIT {name} {metric.unit}\n")
        for s in metric.samples:
            if s.native_histogram is not None:
                continue  # OpenMetrics 1.0 has no native histograms
            line = f"{_name(s.name)}{_labels(s.labels)} {floatToGoString(s.value)}"
            if s.timestamp is not None:
                line += f" {floatToGoString(float(s.timestamp))}"
            if s.exemplar is not None and _may_carry_exemplar(metric, s):
                line += _exemplar(s.exemplar)
            out.append(line + "\n")
    out.append("# EOF\n")
    return "".join(out).encode()


def _text_line(s: Sample) -> str:
    ts = "" if s.timestamp is None else f" {int(float(s.timestamp) * 1000):d}"
    return f"{_name(s.name)}{_labels(s.labels)} {floatToGoString(s.value)}{ts}\n"


def text(registry: Collector) -> bytes:
    out: list[str] = []
    for metric in registry.collect():
        name = metric.name + ("_total" if metric.type == "counter" else "_info" if metric.type == "info" else "")
        name = _name(name)
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {_TEXT_TYPES.get(metric.type, metric.type)}\n")
        apart: dict[str, list[str]] = {}
        for s in metric.samples:
            if s.native_histogram is not None:
                continue
            suffix = next((x for x in _TEXT_APART if s.name == metric.name + x), None)
            if suffix is None:
                out.append(_text_line(s))
            else:
                apart.setdefault(suffix, []).append(_text_line(s))
        for suffix, lines in apart.items():
            gauge = _name(metric.name + suffix)
            out.append(f"# HELP {gauge} {doc}\n# TYPE {gauge} gauge\n")
            out.extend(lines)
    return "".join(out).encode()


def expose(registry: Collector, accept: str) -> tuple[bytes, str]:
    """The registry in the format ``accept`` asks for, and its content type."""
    om, content_type = choose(accept)
    return (openmetrics(registry) if om else text(registry)), content_type
