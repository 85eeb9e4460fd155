"""Hypothesis strategies for the fuzz suite: events generated from the shipped JSON Schemas, plus junk.

``schema_event("trading")`` draws schema-valid documents (one sub-schema per event type, built from
the shipped file itself, so the fuzzer follows every schema change); ``near_event`` mutates one into
something that is often invalid (a field replaced by junk or an edge value, a field dropped);
``junk_value`` is any JSON value. ``body`` turns items into request bytes the way real producers
do (``json.dumps`` writes a lone surrogate as ``\\ud800``; NDJSON; now and then raw garbage).

Sizes come from the hypothesis profile: ``ci`` (the default, in ``make test``) or ``fuzz``
(``make fuzz``; ``FUZZ_EXAMPLES`` sets the examples per test).
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import tradewatch

SCHEMAS = Path(tradewatch.__file__).parent / "schemas"
SCHEMA = {
    "trading": json.loads((SCHEMAS / "trading-events-v1.schema.json").read_text()),
    "model": json.loads((SCHEMAS / "model-events-v1.json").read_text()),
}

_common = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None, print_blob=True)
settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "0") or 0) or 100, **_common)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "0") or 0) or 2000, **_common)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))


def examples(ci: int) -> int:
    """Examples for one test: ``ci`` in make test, FUZZ_EXAMPLES (or 20 x ci) under make fuzz."""
    if os.environ.get("FUZZ_EXAMPLES"):
        return int(os.environ["FUZZ_EXAMPLES"])
    return ci * 20 if os.environ.get("FUZZ_PROFILE") == "fuzz" else ci


def type_schemas(exporter: str) -> dict[str, dict[str, Any]]:
    """One self-contained schema per event type, merged from the shipped file (envelope + branch)."""
    schema = SCHEMA[exporter]
    out = {}
    if exporter == "trading":
        top = {k: v for k, v in schema.items() if k not in ("oneOf", "$defs", "$schema", "$id")}
        for branch in schema["oneOf"]:
            name = branch["properties"]["type"]["const"]
            out[name] = {
                "$defs": schema["$defs"],
                "type": "object",
                "required": sorted(set(top["required"]) | set(branch["required"])),
                "properties": {**top["properties"], **branch["properties"]},
            }
    else:
        envelope = schema["$defs"]["envelope"]
        for ref in schema["oneOf"]:
            branch = schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]
            name = branch["properties"]["type"]["const"]
            out[name] = {
                "$defs": schema["$defs"],
                "type": "object",
                "required": sorted(set(envelope["required"]) | set(branch["required"])),
                "properties": {**envelope["properties"], **branch["properties"]},
            }
    return out


_TYPE_SCHEMAS = {name: type_schemas(name) for name in SCHEMA}
_STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {}


def strategy_for(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``: objects, anyOf/oneOf and $refs walked here, leaves by
    hypothesis-jsonschema (its own object drawing costs ~100 ms a document; this ~10 ms)."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[1]]
        return strategy_for({**{k: v for k, v in schema.items() if k != "$ref"}, **target}, defs)
    for key in ("anyOf", "oneOf"):  # the shipped schemas' alternatives are disjoint
        if key in schema:
            return st.one_of(*(strategy_for(s, defs) for s in schema[key]))
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = st.fixed_dictionaries(
            {k: strategy_for(v, defs) for k, v in props.items() if k in required},
            optional={k: strategy_for(v, defs) for k, v in props.items() if k not in required},
        )
        if "additionalProperties" not in schema:
            return fixed
        names = strategy_for(schema.get("propertyNames", {"type": "string"}), defs)
        return st.dictionaries(
            names, strategy_for(schema["additionalProperties"], defs), max_size=min(schema.get("maxProperties", 8), 8)
        )
    return from_schema({"$defs": defs, **schema})


def schema_event(exporter: str) -> st.SearchStrategy[dict[str, Any]]:
    """A document valid against the shipped schema of ``exporter`` (any of its event types)."""
    if exporter not in _STRATEGIES:
        _STRATEGIES[exporter] = st.one_of(*(strategy_for(s, s["$defs"]) for s in _TYPE_SCHEMAS[exporter].values()))
    return _STRATEGIES[exporter]


# Values that broke something once, or sit on a boundary of the rules.
EDGE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -1,
    0.5,
    1.0000001,
    1e308,
    -1e308,
    5e-324,
    2**53,
    2**63,
    2**64,
    18446744073709551616,
    10**400,
    -(10**400),
    1e20,
    "1e20",
    "1e400",
    "5\u0660\u0660",
    "\u0665",
    "NaN",
    "Infinity",
    "-0",
    "0",
    "0.0",
    "1e-99",
    "",
    " ",
    "x" * 257,
    "x" * 5000,
    "\ud800",
    "a\udfffb",
    "\x00",
    "2026-03-02T14:30:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:30:00+01:00",
    "2026-02-30T00:00:00Z",
    "2016-12-31T23:59:60Z",
    "2026-03-02T14:30:00+0200",
    "20260302T143000Z",
    "4999-12-31T23:59:59.999999999Z",
    95617584000,
    95617584001,
    1772461800250,
    -5,
    "1772461800",
    [],
    {},
    [1],
    {"a": 1},
    {"\ud800": 1},
    {"": None},
]

_json_scalar = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
junk_value: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.recursive(
        _json_scalar,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=8,
    ),
)


@st.composite
def near_event(draw: Any, exporter: str) -> Any:
    """A schema-valid event with one or two fields broken (or, now and then, not an object at all)."""
    doc = copy.deepcopy(draw(schema_event(exporter)))
    fields = sorted(_TYPE_SCHEMAS[exporter][doc["type"]]["properties"])
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from([*fields, "type", "schema_version"]))
        action = draw(st.sampled_from(["junk", "junk", "drop"]))
        if action == "drop":
            doc.pop(name, None)
        else:
            doc[name] = draw(junk_value)
    return doc


def item(exporter: str) -> st.SearchStrategy[Any]:
    """One item of a request: mostly schema-valid events, many near-valid ones, some pure junk."""
    return st.one_of(schema_event(exporter), schema_event(exporter), near_event(exporter), junk_value)


# ----------------------------------------------------------------------------- fast amplification
# hypothesis-jsonschema draws ~15 ms per document; a fuzz run needs tens of thousands of inputs. Each
# example therefore draws a few schema documents and a seeded Random, and derives a batch from them:
# unchanged copies, copies with fields broken by edge values or junk, copies turned into another
# type, and pure junk. Every derived item is still checked against the schema (the oracle).

_JUNK_POOL = [v for v in EDGE_VALUES]


def _random_junk(rnd: Any, depth: int = 0) -> Any:
    kind = rnd.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return rnd.choice(_JUNK_POOL)
    if kind == 1:
        return rnd.randint(-(2**70), 2**70)
    if kind == 2:
        return rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-300, 300)
    if kind == 3:
        return "".join(
            chr(rnd.choice((rnd.randint(32, 126), rnd.randint(0, 0x10FFFF)))) for _ in range(rnd.randint(0, 12))
        )
    if kind == 4:
        return rnd.choice((None, True, False))
    if kind == 5:
        return str(rnd.choice((rnd.randint(0, 10**12), rnd.random(), -rnd.random())))
    if kind == 6:
        return [_random_junk(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return {
        rnd.choice(("type", "ts", "event_id", "a", "", "\ud800")): _random_junk(rnd, depth + 1)
        for _ in range(rnd.randint(0, 3))
    }


def mutate(doc: dict[str, Any], rnd: Any, exporter: str) -> Any:
    """A copy of ``doc`` with one to three fields broken, dropped or swapped with another type's."""
    doc = copy.deepcopy(doc)
    props = sorted(_TYPE_SCHEMAS[exporter][doc["type"]]["properties"])
    for _ in range(rnd.randint(1, 3)):
        name = rnd.choice([*props, "type", "ts", "schema_version"])
        action = rnd.randrange(6)
        if action == 0:
            doc.pop(name, None)
        elif action == 1:
            doc["type"] = rnd.choice(sorted(_TYPE_SCHEMAS[exporter]))
        else:
            doc[name] = _random_junk(rnd)
    return doc


@st.composite
def batch(draw: Any, exporter: str, min_size: int = 20, max_size: int = 60) -> list[Any]:
    """One request's items, derived from a few schema documents (see above)."""
    seeds = draw(st.lists(schema_event(exporter), min_size=1, max_size=3))
    extra = draw(st.lists(near_event(exporter) | junk_value, max_size=2))
    # A plain Random seeded by hypothesis: replayable, and cheaper than drawing every choice.
    rnd = random.Random(draw(st.integers(0, 2**64)))
    items: list[Any] = [*seeds, *extra]
    for _ in range(rnd.randint(min_size, max_size) - len(items)):
        pick = rnd.random()
        seed = rnd.choice(seeds)
        if pick < 0.4:
            items.append(copy.deepcopy(seed))
        elif pick < 0.9:
            items.append(mutate(seed, rnd, exporter))
        else:
            items.append(_random_junk(rnd))
    rnd.shuffle(items)
    return items
