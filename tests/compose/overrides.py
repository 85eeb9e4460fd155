"""docker-compose.ha.yml read the way ``docker compose -f docker-compose.yml -f docker-compose.ha.yml``
combines them, without Docker.

:func:`merge` follows the Compose Specification's merge rules for the keys our files use: mappings
merge key by key (``environment``, ``depends_on``, ``deploy``, ``healthcheck``), ``command``,
``entrypoint`` and ``healthcheck.test`` are replaced, ``volumes`` merge by container path, ``ports``
and ``secrets`` are appended without duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml
from composefile import ROOT, interpolate_tree

HA_FILE = ROOT / "docker-compose.ha.yml"

_REPLACED = {"command", "entrypoint", "test", "image"}
_BY_TARGET = {"volumes"}
_APPENDED = {"ports", "secrets", "cap_drop", "security_opt", "tmpfs"}


def raw_override() -> dict[str, Any]:
    return yaml.safe_load(HA_FILE.read_text())


def load_override(env: Mapping[str, str]) -> dict[str, Any]:
    return interpolate_tree(raw_override(), env)


def _target(spec: Any) -> str:
    if isinstance(spec, dict):
        return str(spec["target"])
    return str(spec).split(":")[1] if ":" in str(spec) else str(spec)


def _merge_value(key: str, base: Any, over: Any) -> Any:
    if key in _REPLACED or not isinstance(over, dict | list) or type(base) is not type(over):
        return copy.deepcopy(over)
    if isinstance(over, dict):
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = _merge_value(k, out[k], v) if k in out else copy.deepcopy(v)
        return out
    if key in _BY_TARGET:
        kept = [item for item in base if _target(item) not in {_target(o) for o in over}]
        return copy.deepcopy(kept + over)
    if key in _APPENDED:
        return copy.deepcopy(base + [item for item in over if item not in base])
    return copy.deepcopy(over)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The project Compose builds from ``base`` then ``override`` (both already interpolated)."""
    out = copy.deepcopy(base)
    for section, content in override.items():
        if section.startswith("x-"):
            continue
        if section not in out:
            out[section] = copy.deepcopy(content)
            continue
        for name, value in (content or {}).items():
            current = out[section].get(name)
            out[section][name] = _merge_value(section, current, value) if current else copy.deepcopy(value)
    return out
