"""Settings: a YAML file plus one environment variable per setting, validated once.

Every exporter declares its settings as a list of :class:`Setting`. :func:`load` merges, in
increasing precedence, the defaults, the YAML file, the environment and explicit overrides (CLI
flags), checks every value, and raises :class:`ConfigError` listing *all* problems at once, so an
operator fixes a config in one round trip (the pve-exporter habit).

The environment variable of a setting is ``TRADEWATCH_`` plus its dotted key upper-cased with
dots replaced by underscores: ``http.port`` -> ``TRADEWATCH_HTTP_PORT``. Structured values
(lists, mappings) are given in the environment as YAML or JSON text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "TRADEWATCH_"

Parser = Callable[[Any], Any]


class ConfigError(Exception):
    """All the problems found in a configuration, reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"invalid configuration: {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


class Invalid(ValueError):
    """Raised by a parser; the message says what was expected."""


@dataclass(frozen=True)
class Setting:
    key: str
    parser: Parser
    default: Any = None
    help: str = ""
    required: bool = False
    secret: bool = False

    @property
    def env(self) -> str:
        return env_name(self.key)


def env_name(key: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


# --------------------------------------------------------------------------- parsers


def _from_text(value: Any) -> Any:
    """Environment values arrive as text; structured values are YAML."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise Invalid(f"could not parse {value!r} as YAML ({exc.__class__.__name__})") from None
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid(f"expected an integer, got {value!r}")
        if isinstance(value, str):
            value = value.strip()
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise Invalid(f"expected an integer, got {value!r}") from None
        if isinstance(value, float) and value != out:
            raise Invalid(f"expected an integer, got {value!r}")
        _check_range(out, minimum, maximum)
        return out

    return parse


def number(minimum: float | None = None, maximum: float | None = None, *, exclusive_min: bool = False) -> Parser:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise Invalid(f"expected a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise Invalid(f"expected a number, got {value!r}") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise Invalid(f"expected a finite number, got {value!r}")
        if exclusive_min and minimum is not None and out <= minimum:
            raise Invalid(f"expected a number greater than {minimum}, got {out}")
        _check_range(out, minimum, maximum)
        return out

    return parse


def _check_range(out: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and out < minimum:
        raise Invalid(f"expected a value >= {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise Invalid(f"expected a value <= {maximum}, got {out}")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def duration(minimum: float = 0.0, maximum: float | None = None) -> Parser:
    """Seconds, given as a number or a string such as ``500ms``, ``15s``, ``5m``, ``1h``."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise Invalid(f"expected a duration such as 15s or 5m, got {value!r}")
        if isinstance(value, int | float):
            out = float(value)
        else:
            match = _DURATION.match(str(value))
            if not match:
                raise Invalid(f"expected a duration such as 500ms, 15s, 5m or 1h, got {value!r}")
            out = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        _check_range(out, minimum, maximum)
        return out

    return parse


def boolean() -> Parser:
    truthy = {"1", "true", "yes", "on"}
    falsy = {"0", "false", "no", "off"}

    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in truthy:
            return True
        if text in falsy:
            return False
        raise Invalid(f"expected true or false, got {value!r}")

    return parse


def string(*, allow_empty: bool = True, pattern: str | None = None) -> Parser:
    compiled = re.compile(pattern) if pattern else None

    def parse(value: Any) -> str:
        if value is None:
            value = ""
        if isinstance(value, dict | list):
            raise Invalid(f"expected a string, got a {type(value).__name__}")
        out = str(value)
        if not allow_empty and not out.strip():
            raise Invalid("expected a non-empty string")
        if compiled and out and not compiled.fullmatch(out):
            raise Invalid(f"expected a string matching {pattern}, got {out!r}")
        return out

    return parse


def choice(*options: str) -> Parser:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise Invalid(f"expected one of {', '.join(options)}, got {value!r}")
        return text

    return parse


def regex() -> Parser:
    def parse(value: Any) -> re.Pattern[str]:
        if isinstance(value, re.Pattern):
            return value
        try:
            return re.compile(str(value))
        except re.error as exc:
            raise Invalid(f"expected a valid regular expression, got {value!r} ({exc})") from None

    return parse


def optional_regex() -> Parser:
    inner = regex()

    def parse(value: Any) -> re.Pattern[str] | None:
        if value is None or value == "":
            return None
        return inner(value)

    return parse


def list_of(item: Parser) -> Parser:
    def parse(value: Any) -> list[Any]:
        value = _from_text(value)
        if value is None:
            return []
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list):
            raise Invalid(f"expected a list, got a {type(value).__name__}")
        out = []
        for i, entry in enumerate(value):
            try:
                out.append(item(entry))
            except Invalid as exc:
                raise Invalid(f"item {i}: {exc}") from None
        return out

    return parse


def csv_list(item: Parser | None = None) -> Parser:
    """A list given as YAML or as comma-separated text (``BTC,ETH``)."""

    def parse(value: Any) -> list[Any]:
        if isinstance(value, str) and not value.strip().startswith("["):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return list_of(item or string(allow_empty=False))(value)

    return parse


def mapping_of(value_parser: Parser) -> Parser:
    def parse(value: Any) -> dict[str, Any]:
        value = _from_text(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise Invalid(f"expected a mapping, got a {type(value).__name__}")
        out = {}
        for k, v in value.items():
            try:
                out[str(k)] = value_parser(v)
            except Invalid as exc:
                raise Invalid(f"key {k!r}: {exc}") from None
        return out

    return parse


@dataclass(frozen=True)
class Record:
    """Schema for a mapping with known fields, used inside lists (probes, watched processes)."""

    fields: Mapping[str, tuple[Parser, Any, bool]]  # name -> (parser, default, required)
    check: Callable[[dict[str, Any]], None] | None = None

    def __call__(self, value: Any) -> dict[str, Any]:
        value = _from_text(value)
        if not isinstance(value, dict):
            raise Invalid(f"expected a mapping with keys {', '.join(self.fields)}, got {value!r}")
        unknown = sorted(set(map(str, value)) - set(self.fields))
        if unknown:
            raise Invalid(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(self.fields)}")
        out: dict[str, Any] = {}
        for name, (parser, default, required) in self.fields.items():
            if name in value and value[name] is not None:
                try:
                    out[name] = parser(value[name])
                except Invalid as exc:
                    raise Invalid(f"{name}: {exc}") from None
            elif required:
                raise Invalid(f"missing required key {name!r}")
            else:
                out[name] = default
        if self.check:
            self.check(out)
        return out


# --------------------------------------------------------------------------- loading


class Config(Mapping[str, Any]):
    """Validated settings, read by dotted key: ``cfg["http.port"]``."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str], settings: Iterable[Setting]):
        self._values = values
        self._sources = sources
        self._settings = {s.key: s for s in settings}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, key: str) -> str:
        """Where a value came from: default, file, env or override."""
        return self._sources[key]

    def section(self, prefix: str) -> dict[str, Any]:
        """Settings under ``prefix.`` with the prefix removed."""
        p = prefix + "."
        return {k[len(p) :]: v for k, v in self._values.items() if k.startswith(p)}

    def public(self) -> dict[str, Any]:
        """Values safe to log: secrets masked."""
        out = {}
        for key, value in self._values.items():
            setting = self._settings.get(key)
            out[key] = "***" if setting and setting.secret and value else _plain(value)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _flatten(data: Mapping[str, Any], known: set[str], prefix: str = "") -> dict[str, Any]:
    """Flatten nested YAML into dotted keys, stopping at keys that are settings themselves."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if dotted in known or not isinstance(value, dict):
            out[dotted] = value
        else:
            out.update(_flatten(value, known, dotted + "."))
    return out


def load(
    settings: Iterable[Setting],
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge defaults, YAML file, environment and overrides; raise ConfigError with every problem."""
    settings = list(settings)
    environ = os.environ if environ is None else environ
    known = {s.key for s in settings}
    problems: list[str] = []
    raw: dict[str, tuple[Any, str]] = {}

    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                problems.append(f"{path}: expected a mapping at the top level, got a {type(data).__name__}")
                data = {}
        except OSError as exc:
            problems.append(f"{path}: cannot read config file ({exc.strerror or exc})")
            data = {}
        except yaml.YAMLError as exc:
            problems.append(f"{path}: not valid YAML ({exc})")
            data = {}
        for key, value in _flatten(data, known).items():
            if key not in known:
                close = [k for k in known if k.split(".")[-1] == key.split(".")[-1]]
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{key}: unknown setting in {path}{hint}")
                continue
            raw[key] = (value, f"file {path}")

    for setting in settings:
        if setting.env in environ:
            raw[setting.key] = (environ[setting.env], f"environment {setting.env}")
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in known:
            problems.append(f"{key}: unknown setting")
            continue
        raw[key] = (value, "command line")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in settings:
        if setting.key in raw:
            value, origin = raw[setting.key]
            try:
                values[setting.key] = setting.parser(value)
                sources[setting.key] = origin
            except Invalid as exc:
                shown = "***" if setting.secret else repr(value)
                reason = str(exc)
                if setting.secret and str(value):
                    # parsers echo the value they reject ("got '...'"): keep a secret out of it
                    reason = reason.replace(repr(value), "***").replace(str(value), "***")
                problems.append(f"{setting.key} (from {origin}, value {shown}): {reason}")
        elif setting.required:
            problems.append(f"{setting.key}: required; set it in the config file or {setting.env}")
        else:
            values[setting.key] = setting.default
            sources[setting.key] = "default"

    if problems:
        raise ConfigError(problems)
    return Config(values, sources, settings)


@dataclass
class SettingsDoc:
    """Rows for the README's settings tables."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, settings: Iterable[Setting]) -> SettingsDoc:
        doc = cls()
        for s in settings:
            if s.required:
                default = "(required)"
            else:
                default = "(unset)" if s.default in (None, "", []) else repr(_plain(s.default))
            doc.rows.append((s.key, s.env, default, s.help))
        return doc

    def markdown(self) -> str:
        lines = ["| key | environment | default | meaning |", "|---|---|---|---|"]
        # GFM ends a table cell at any unescaped '|', even inside a code span (regex defaults).
        rows = [[c.replace("|", "\\|") for c in row] for row in self.rows]
        lines += [f"| `{k}` | `{e}` | `{d}` | {h} |" for k, e, d, h in rows]
        return "\n".join(lines)
