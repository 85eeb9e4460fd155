"""Read docker-compose.yml the way Docker Compose does, without Docker.

Compose parses the YAML, then interpolates every string value from the environment (the shell plus
``.env``). :func:`interpolate` implements the Compose Specification's forms: ``$VAR``, ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``,
``${VAR+alt}`` (defaults may nest) and ``$$`` for a literal ``$``.

compose-spec.json next to this file is the Compose Specification's JSON schema (draft-07) from
compose-spec/compose-spec, schema/compose-spec.json at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6
(2026-06-23), Apache-2.0, vendored so the check runs in CI without network access.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A required variable is missing (``${VAR:?message}``) or the syntax is invalid."""


def interpolate(text: str, env: Mapping[str, str], used: set[str] | None = None) -> str:
    """Expand Compose variables in ``text``; names looked up are added to ``used``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 1)
            out.append(_expand(text[i + 2 : end], env, used))
            i = end + 1
        else:
            match = _NAME.match(text, i + 1)
            if not match:
                raise InterpolationError(f"invalid interpolation format for {text!r} at offset {i}")
            if used is not None:
                used.add(match.group())
            out.append(env.get(match.group(), ""))
            i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise InterpolationError(f"unclosed ${{ in {text!r}")


def _expand(body: str, env: Mapping[str, str], used: set[str] | None) -> str:
    match = _NAME.match(body)
    if not match:
        raise InterpolationError(f"invalid variable name in ${{{body}}}")
    name, rest = match.group(), body[match.end() :]
    if used is not None:
        used.add(name)
    value = env.get(name)
    if not rest:
        return value or ""
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f"invalid interpolation format for ${{{body}}}")
    arg = rest[len(operator) :]
    unset_or_empty = not value
    missing = unset_or_empty if operator.startswith(":") else value is None
    if operator in (":-", "-"):
        return interpolate(arg, env, used) if missing else value or ""
    if operator in (":?", "?"):
        if missing:
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        return value or ""
    return "" if missing else interpolate(arg, env, used)  # :+ and +


def interpolate_tree(node: Any, env: Mapping[str, str], used: set[str] | None = None) -> Any:
    """Interpolate every string value (not keys) of a parsed YAML document."""
    if isinstance(node, str):
        return interpolate(node, env, used)
    if isinstance(node, list):
        return [interpolate_tree(item, env, used) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, used) for key, value in node.items()}
    return node


def parse_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of a Compose .env file (comments and blank lines skipped, quotes removed)."""
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """docker-compose.yml parsed and interpolated with ``env``."""
    return interpolate_tree(raw_compose(), env)


def example_env(**overrides: str) -> dict[str, str]:
    """.env.example with a Grafana password filled in (the one value it leaves blank on purpose)."""
    env = parse_env_file()
    env["GRAFANA_ADMIN_PASSWORD"] = "test-only-password"
    env.update(overrides)
    return env


def published_ports(service: dict[str, Any]) -> list[dict[str, str]]:
    """Short-syntax port strings split into host_ip, published and target."""
    ports = []
    for spec in service.get("ports", []):
        if isinstance(spec, dict):
            ports.append(
                {
                    "host_ip": spec.get("host_ip", ""),
                    "published": str(spec.get("published", "")),
                    "target": str(spec["target"]),
                }
            )
            continue
        parts = str(spec).rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            host_ip, (published, target) = "", parts
        else:
            host_ip, published, target = "", "", parts[0]
        ports.append({"host_ip": host_ip, "published": published, "target": target.split("/")[0]})
    return ports


def container_port(service: dict[str, Any]) -> set[int]:
    """Ports a service listens on inside the network (published targets, exporters' HTTP port)."""
    ports = {int(p["target"]) for p in published_ports(service)}
    env = service.get("environment") or {}
    if isinstance(env, dict) and "TRADEWATCH_HTTP_PORT" in env:
        ports.add(int(env["TRADEWATCH_HTTP_PORT"]))
    return ports


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, options) of the short-syntax bind mounts (sources starting with . or /)."""
    mounts = []
    for spec in service.get("volumes", []):
        if isinstance(spec, dict):
            if spec.get("type") == "bind":
                mounts.append((spec["source"], spec["target"], "ro" if spec.get("read_only") else ""))
            continue
        source, _, rest = spec.partition(":")
        target, _, options = rest.partition(":")
        if source.startswith((".", "/")):
            mounts.append((source, target, options))
    return mounts


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> volume name of the named-volume mounts."""
    mounts = {}
    for spec in service.get("volumes", []):
        if isinstance(spec, str):
            source, _, rest = spec.partition(":")
            if not source.startswith((".", "/")):
                mounts[rest.partition(":")[0]] = source
    return mounts


def host_path_for(compose: dict[str, Any], service: str, container_path: str) -> Path | None:
    """The repository file a container path of ``service`` comes from, via its bind mounts."""
    for source, target, _ in bind_mounts(compose["services"][service]):
        target = target.rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            if not source.startswith("."):
                return None
            return (ROOT / source).resolve() / container_path[len(target) :].lstrip("/")
    return None
