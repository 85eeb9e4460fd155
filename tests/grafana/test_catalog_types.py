"""The catalog's type and labels columns against the exporters' golden expositions.

The other catalog tests compare names only: a row whose type or label list went stale (a label
added in code, a gauge turned counter) passes them. The three golden files are the exporters'
real /metrics bodies over fixed event streams, so every family with samples there is checked.
"""

from __future__ import annotations

import re
from pathlib import Path

from grafana_model import METRICS_DOC
from prometheus_client.parser import text_string_to_metric_families

TESTS = Path(__file__).resolve().parents[1]
GOLDEN = (
    TESTS / "system" / "fixtures" / "golden.prom",
    TESTS / "trading" / "golden" / "exposition.prom",
    TESTS / "model" / "golden" / "model-metrics.prom",
)
ROW = re.compile(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (\w+) \|[^|]*\| ([^|]*)\|", re.M)
# Library series documented upstream, and the _created gauge prometheus_client writes beside a
# Counter of its own (tradewatch_errors_total) in the text format.
NOT_IN_CATALOG = re.compile(r"process_\w+|\w+_created")


def _row_labels(cell: str) -> frozenset[str]:
    """'strategy, direction (adverse, favourable)' -> {'strategy', 'direction'}."""
    return frozenset(part.strip() for part in re.sub(r"\([^)]*\)", "", cell).split(",") if part.strip())


def _catalog() -> dict[str, tuple[str, frozenset[str]]]:
    return {name: (kind, _row_labels(labels)) for name, kind, labels in ROW.findall(METRICS_DOC.read_text("utf-8"))}


def _exposed() -> dict[str, tuple[str, frozenset[str]]]:
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for path in GOLDEN:
        text = re.sub(r"<[a-z_]+>", "0", path.read_text("utf-8"))  # placeholders of varying values
        for family in text_string_to_metric_families(text):
            if not family.samples or NOT_IN_CATALOG.fullmatch(family.name):
                continue
            labels = frozenset().union(*(s.labels for s in family.samples)) - {"le", "quantile"}
            name = family.name + ("_total" if family.type == "counter" else "")
            out[name] = (family.type, labels)
    return out


def test_golden_families_match_their_catalog_rows() -> None:
    catalog = _catalog()
    exposed = _exposed()
    assert len(exposed) > 150, "golden files lost most of their families"
    wrong = {
        name: {"catalog": catalog.get(name), "exposed": (kind, sorted(labels))}
        for name, (kind, labels) in sorted(exposed.items())
        if catalog.get(name) != (kind, labels)
    }
    assert not wrong, f"docs/metrics.md type or labels differ from the exposition: {wrong}"
