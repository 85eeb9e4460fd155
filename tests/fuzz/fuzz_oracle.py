"""The fuzz suite's oracle: is an item valid against a shipped JSON Schema (jsonschema's verdict)?

Validating against the whole schema tries every branch of its ``oneOf`` (20 event types in the
trading schema), which was half of tests/fuzz's time. The branches are told apart by their ``type``
const, so for an item whose ``type`` names a branch the verdict of the schema with ``oneOf`` narrowed
to that branch is the same: every other branch fails on the const, and "exactly one" is that one.
Anything else (no ``type``, an unknown one, not a string) gets the whole schema.
"""

from __future__ import annotations

from typing import Any

import jsonschema


class SchemaOracle:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.whole = jsonschema.Draft202012Validator(schema)
        self.by_type: dict[str, jsonschema.Draft202012Validator] = {}
        for branch in schema["oneOf"]:
            target = branch
            if "$ref" in branch:  # "#/$defs/<name>"
                target = schema["$defs"][branch["$ref"].rsplit("/", 1)[1]]
            const = target["properties"]["type"]["const"]  # a branch without one: this shortcut is wrong
            assert const not in self.by_type, f"two branches for type {const!r}"
            self.by_type[const] = jsonschema.Draft202012Validator({**schema, "oneOf": [branch]})

    def is_valid(self, item: Any) -> bool:
        kind = item.get("type") if item.__class__ is dict else None
        narrowed = self.by_type.get(kind) if kind.__class__ is str else None
        return (narrowed or self.whole).is_valid(item)
