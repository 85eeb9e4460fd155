"""Doctor checks of the model exporter's versions: a production version without a drift reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradewatch.doctor.checks import FAIL, OK, WARN, Check, Unreachable

QUERY_MISSING = "tradewatch_model_reference_missing == 1"
QUERY_VERSIONS = "tradewatch_model_production_info"
ADVICE = (
    "give the version a reference file (reference.version_files: {model: {version: path}} on the model "
    "exporter) or let it capture one (reference.size > 0); see docs/runbooks/ModelReferenceMissing.md"
)


def check_model_references(query: Callable[[str], list[dict[str, Any]]], prometheus_ready: bool) -> list[Check]:
    """WARN for every model whose version in production has no reference of its own (after a change)."""
    if not prometheus_ready:
        return []
    try:
        missing = query(QUERY_MISSING)
        versions = query(QUERY_VERSIONS)
    except (Unreachable, ValueError) as exc:
        return [Check("model", "references", FAIL, f"cannot query the model references: {exc}")]
    if not versions:
        return []  # no model exporter or no model yet: nothing to say
    if missing:
        details = [f"{r['metric'].get('model', '?')} {r['metric'].get('model_version', '?')}" for r in missing]
        return [
            Check(
                "model",
                "references",
                WARN,
                f"{len(missing)} production model version(s) without a drift reference: drift not computed",
                sorted(details),
                advice=ADVICE,
            )
        ]
    return [Check("model", "references", OK, f"{len(versions)} production model version(s) have a reference")]
