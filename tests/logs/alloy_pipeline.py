"""The field mapping of loki/config.alloy, read out of the file and applied in Python.

:func:`parse_alloy` reads the subset of the Alloy configuration syntax the file uses (blocks with
optional string labels, attributes whose values are strings, booleans, numbers, lists, objects or
other expressions kept as text). :class:`Pipeline` takes the ``loki.process`` component's
``stage.json``, ``stage.regex``, ``stage.template``, ``stage.replace``, ``stage.labels``,
``stage.structured_metadata`` and ``stage.timestamp`` blocks and does to one log line what Alloy
does: the tests feed it real exporter output and other programs' logfmt and plain-text lines, so a
change on either side (the config or the log shape) breaks them.

As in Alloy, the extracted map starts with the entry's stream labels (``container``,
``compose_service``), a template that renders empty removes its key, and ``stage.labels`` sets only
keys present. Only the forms the config uses are modelled; anything else raises NotImplementedError.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ALLOY_FILE = Path(__file__).resolve().parents[2] / "loki" / "config.alloy"

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}\[\](),=+\-*/<>!&|:?.])
""",
    re.VERBOSE | re.DOTALL,
)


class AlloySyntaxError(ValueError):
    pass


@dataclass
class Expr:
    """An expression the parser does not evaluate (function call, reference, concatenation)."""

    text: str


@dataclass
class Block:
    name: str
    label: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def block(self, name: str) -> Block:
        found = [b for b in self.blocks if b.name == name]
        if len(found) != 1:
            raise KeyError(f"{self.name}: expected one {name} block, found {len(found)}")
        return found[0]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise AlloySyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        kind = match.lastgroup
        if kind == "comment" and "\n" in match.group():
            out.append(("nl", "\n"))
        elif kind not in ("ws", "comment"):
            out.append((kind, match.group()))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise AlloySyntaxError(f"expected {value!r}, got {token[1]!r} (token {self.i})")
        self.i += 1
        return token

    def skip_newlines(self) -> None:
        while self.peek()[0] == "nl":
            self.i += 1

    def body(self, closing: str | None) -> Block:
        block = Block("", None)
        while True:
            self.skip_newlines()
            kind, value = self.peek()
            if kind == "eof" or value == closing:
                if closing and kind == "eof":
                    raise AlloySyntaxError("unclosed block")
                return block
            if kind != "ident":
                raise AlloySyntaxError(f"expected a name, got {value!r}")
            self.take()
            if self.peek()[1] == "=":
                self.take("=")
                if value in block.attributes:
                    raise AlloySyntaxError(f"attribute {value} set twice")
                block.attributes[value] = self.expression(stop_at_newline=True)
                continue
            label = None
            if self.peek()[0] == "string":
                label = json.loads(self.take()[1])
            self.take("{")
            inner = self.body("}")
            self.take("}")
            block.blocks.append(Block(value, label, inner.attributes, inner.blocks))

    def expression(self, stop_at_newline: bool) -> Any:
        kind, value = self.peek()
        following = self.peek(1)[1] if self.peek(1)[0] != "nl" else "\n"
        simple_end = ("\n", ",", "}", "]", "")
        if kind == "string" and following in simple_end:
            self.take()
            return json.loads(value)
        if kind == "raw" and following in simple_end:
            self.take()
            return value[1:-1]
        if kind == "number" and following in simple_end:
            self.take()
            return float(value) if "." in value else int(value)
        if kind == "ident" and value in ("true", "false") and following in simple_end:
            self.take()
            return value == "true"
        if value == "{":
            return self.object()
        if value == "[":
            return self.list()
        return self.raw_expression(stop_at_newline)

    def object(self) -> dict[str, Any]:
        self.take("{")
        out: dict[str, Any] = {}
        while True:
            self.skip_newlines()
            if self.peek()[1] == "}":
                self.take()
                return out
            kind, key = self.take()
            if kind not in ("ident", "string"):
                raise AlloySyntaxError(f"bad object key {key!r}")
            key = json.loads(key) if kind == "string" else key
            self.take("=")
            if key in out:
                raise AlloySyntaxError(f"key {key} set twice")
            out[key] = self.expression(stop_at_newline=False)
            self.skip_newlines()
            if self.peek()[1] == ",":
                self.take()

    def list(self) -> list[Any]:
        self.take("[")
        out: list[Any] = []
        while True:
            self.skip_newlines()
            if self.peek()[1] == "]":
                self.take()
                return out
            out.append(self.expression(stop_at_newline=False))
            self.skip_newlines()
            if self.peek()[1] == ",":
                self.take()

    def raw_expression(self, stop_at_newline: bool) -> Expr:
        parts, depth = [], 0
        while True:
            kind, value = self.peek()
            if kind == "eof":
                break
            if depth == 0 and (value in (",", "}", "]") or (kind == "nl" and stop_at_newline)):
                break
            if value in ("(", "[", "{"):
                depth += 1
            elif value in (")", "]", "}"):
                depth -= 1
            self.take()
            if kind != "nl":
                parts.append(value)
        if not parts:
            raise AlloySyntaxError("empty expression")
        return Expr(" ".join(parts))


def parse_alloy(text: str) -> list[Block]:
    """Top-level components of an Alloy configuration."""
    return _Parser(text).body(None).blocks


def component(blocks: list[Block], name: str, label: str | None = None) -> Block:
    found = [b for b in blocks if b.name == name and (label is None or b.label == label)]
    if len(found) != 1:
        raise KeyError(f"expected one {name} {label or ''} component, found {len(found)}")
    return found[0]


# ------------------------------------------------------------------ the pipeline

# Go's time.RFC3339 layout as time.Parse accepts it: fractional seconds allowed, zone Z or +hh:mm.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_FORMATS = {"RFC3339", "RFC3339Nano"}


def parse_timestamp(value: str, layout: str) -> datetime:
    if layout not in _FORMATS:
        raise NotImplementedError(f"timestamp format {layout} is not modelled by this test")
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(f"{value!r} is not RFC 3339")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Entry:
    line: str
    labels: dict[str, str]
    metadata: dict[str, str]
    timestamp: datetime | None  # None: Alloy keeps the time Docker recorded


# {{ or .a .b "" }} or {{ or .a .b "" | ToLower }}: the first non-empty value, else nothing.
_TEMPLATE_OR = re.compile(r'^\{\{ or ((?:\.[A-Za-z_][A-Za-z0-9_]* )+)"" (\| ToLower )?\}\}$')
# Stages between stage.json and stage.labels that transform the extracted map, in file order.
_TRANSFORMS = ("stage.regex", "stage.template", "stage.replace")


@dataclass
class Step:
    """One stage.regex / stage.template / stage.replace block."""

    kind: str
    source: str | None = None
    pattern: re.Pattern[str] | None = None
    names: tuple[str, ...] = ()  # template: the keys tried in order
    lower: bool = False
    replace: str = ""

    @classmethod
    def of(cls, block: Block) -> Step:
        a = block.attributes
        if block.name == "stage.regex":
            if a.get("source"):
                raise NotImplementedError("stage.regex on an extracted value")
            return cls("regex", pattern=re.compile(a["expression"]))
        if block.name == "stage.template":
            m = _TEMPLATE_OR.match(a["template"])
            if not m:
                raise NotImplementedError(f"template {a['template']!r} is not modelled")
            names = tuple(n.lstrip(".") for n in m.group(1).split())
            return cls("template", source=a["source"], names=names, lower=bool(m.group(2)))
        pattern = re.compile(a["expression"])
        if pattern.groups != 1 or "{{" in a["replace"]:
            raise NotImplementedError("stage.replace: one group and a literal replacement are modelled")
        return cls("replace", source=a.get("source") or None, pattern=pattern, replace=a["replace"])

    def run(self, extracted: dict[str, Any], line: str) -> None:
        if self.kind == "regex":
            m = self.pattern.search(line)
            if m:  # Alloy sets every named group of a match, "" for one that did not take part
                extracted.update({k: v or "" for k, v in m.groupdict().items()})
        elif self.kind == "template":
            value = next((str(extracted[n]) for n in self.names if extracted.get(n) not in (None, "")), "")
            value = value.lower() if self.lower else value
            if value:
                extracted[self.source] = value
            else:
                extracted.pop(self.source, None)
        else:
            if self.source is None:
                raise NotImplementedError("stage.replace on the line")
            if self.source in extracted:
                value = str(extracted[self.source])
                out, pos = [], 0
                for m in self.pattern.finditer(value):
                    out += [value[pos : m.start(1)], self.replace]
                    pos = m.end(1)
                extracted[self.source] = "".join(out) + value[pos:]


@dataclass
class Pipeline:
    expressions: dict[str, str]
    drop_malformed: bool
    labels: dict[str, str]
    metadata: dict[str, str]
    timestamp_source: str
    timestamp_format: str
    timestamp_on_failure: str
    steps: list[Step] = field(default_factory=list)

    @classmethod
    def from_config(cls, text: str | None = None, component_label: str | None = None) -> Pipeline:
        blocks = parse_alloy(text if text is not None else ALLOY_FILE.read_text())
        process = component(blocks, "loki.process", component_label)
        stage_json = process.block("stage.json")
        timestamp = process.block("stage.timestamp")
        expressions = stage_json.attributes["expressions"]
        for key, expression in expressions.items():
            if not isinstance(expression, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|", expression):
                raise NotImplementedError(f"{key}: only plain field names are modelled, not {expression!r}")
        labels = process.block("stage.labels").attributes["values"]
        metadata = process.block("stage.structured_metadata").attributes["values"]
        order = [b.name for b in process.blocks]
        between = order[order.index("stage.json") + 1 : order.index("stage.labels")]
        if any(name not in _TRANSFORMS for name in between) or any(
            b.name in _TRANSFORMS for b in process.blocks[order.index("stage.labels") :]
        ):
            raise NotImplementedError(f"only {_TRANSFORMS} between stage.json and stage.labels are modelled")
        steps = [Step.of(b) for b in process.blocks if b.name in _TRANSFORMS]
        return cls(
            expressions={k: (v or k) for k, v in expressions.items()},
            drop_malformed=stage_json.attributes.get("drop_malformed", False),
            labels={k: (v or k) for k, v in labels.items()},
            metadata={k: (v or k) for k, v in metadata.items()},
            timestamp_source=timestamp.attributes["source"],
            timestamp_format=timestamp.attributes["format"],
            timestamp_on_failure=timestamp.attributes.get("action_on_failure", "fudge"),
            steps=steps,
        )

    def apply(self, line: str, stream: dict[str, str] | None = None) -> Entry | None:
        """What reaches Loki for one line (None: dropped); ``stream``: the labels the entry arrives
        with (``container``, ``compose_service`` from the relabel rules). ``labels`` of the result
        are the ones this component sets."""
        extracted: dict[str, Any] = dict(stream or {})
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if isinstance(document, dict):
            extracted.update(
                {key: document[path] for key, path in self.expressions.items() if document.get(path) is not None}
            )
        elif self.drop_malformed:
            return None
        for step in self.steps:
            step.run(extracted, line)
        labels = {name: str(extracted[src]) for name, src in self.labels.items() if src in extracted}
        metadata = {name: str(extracted[src]) for name, src in self.metadata.items() if src in extracted}
        timestamp = None
        if self.timestamp_source in extracted:
            try:
                timestamp = parse_timestamp(extracted[self.timestamp_source], self.timestamp_format)
            except ValueError:
                if self.timestamp_on_failure != "skip":
                    raise
        return Entry(line, labels, metadata, timestamp)
