"""Just enough LogQL to run a log query's selector and pipeline over one entry, in Python.

Models what the shipped queries use: a stream selector, line filters (``|=``, ``!=``, ``|~``,
``!~``), ``| json`` (all fields, or the named ones) and label filters (``=``, ``!=``, ``=~``, ``!~``)
on stream labels, structured metadata and parsed fields. A metric query's inner log query is found
by its ``[range]``. Anything else raises NotImplementedError, so a new construct cannot be waved through.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SELECTOR = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"\s*,?')
_STAGE = re.compile(
    r"""\s*(?:
    (?P<line_op>\|=|!=|\|~|!~)\s*"(?P<line_arg>(?:\\.|[^"\\])*)"
  | \|\s*json(?P<json_args>(?:\s+[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)?)(?=\s*(?:\||$))
  | \|\s*(?P<name>[A-Za-z_]\w*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<arg>(?:\\.|[^"\\])*)"
)""",
    re.VERBOSE,
)


def _unquote(text: str) -> str:
    return json.loads(f'"{text}"')


def _match(op: str, value: str, arg: str) -> bool:
    if op == "=":
        return value == arg
    if op == "!=":
        return value != arg
    hit = re.fullmatch(arg, value) is not None  # label regexes are anchored
    return hit if op == "=~" else not hit


def log_query(expr: str) -> str:
    """The log query inside a metric query (the text before its ``[range]``), or ``expr`` itself."""
    m = re.search(r"count_over_time\((.*)\[[^\]]+\]\)", expr, re.S)
    return m.group(1).strip() if m else expr.strip()


def matches(
    expr: str,
    line: str,
    labels: dict[str, str],
    metadata: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
) -> bool:
    """Does the entry (line, stream labels, structured metadata) come out of the query's pipeline?"""
    query = log_query(expr)
    for name, value in (variables or {}).items():
        query = query.replace(f"${name}", value)
    selector = _SELECTOR.match(query)
    if not selector:
        raise NotImplementedError(f"no stream selector at the start of {query!r}")
    for name, op, arg in _MATCHER.findall(selector.group(1)):
        if not _match(op, labels.get(name, ""), _unquote(arg)):
            return False
    fields: dict[str, Any] = {**(metadata or {}), **labels}
    rest, pos = query[selector.end() :], 0
    while rest[pos:].strip():
        m = _STAGE.match(rest, pos)
        if not m:
            raise NotImplementedError(f"LogQL stage not modelled: {rest[pos:]!r}")
        pos = m.end()
        if m.group("line_op"):
            op, arg = m.group("line_op"), _unquote(m.group("line_arg"))
            hit = (arg in line) if op in ("|=", "!=") else re.search(arg, line) is not None
            if hit != (op in ("|=", "|~")):
                return False
        elif m.group("name") is None:
            try:
                document = json.loads(line)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                fields["__error__"] = "JSONParserErr"
                continue
            wanted = [n.strip() for n in m.group("json_args").split(",") if n.strip()] or list(document)
            fields.update({k: str(document[k]) for k in wanted if k in document and document[k] is not None})
        elif not _match(m.group("op"), str(fields.get(m.group("name"), "")), _unquote(m.group("arg"))):
            return False
    return True
