"""A small Compose driver for the container tier: docker-compose.yml stays the one source.

Debian's docker-compose 1.29 rejects the file's top-level ``name`` and the Compose v2 plugin cannot
be installed here, so this reads the file itself and calls the Docker API (docker-py) for the
services whose images can be built on this machine. It implements the part of the Compose
specification the file uses and refuses everything else: a key it does not know makes ``plan()``
raise, so the file cannot grow a setting the tier silently ignores.

    python tools/containers/compose.py [-f FILE]... [--env-file FILE] [-p NAME] up [SERVICE...]
    python tools/containers/compose.py ... down | ps | plan [SERVICE...] | image SERVICE | build SERVICE

Supported (docs/containers.md lists which services exercise which):
  interpolation  $VAR ${VAR} ${VAR:-d} ${VAR-d} ${VAR:?msg} ${VAR?msg} ${VAR:+v} ${VAR+v} $$ (not nested)
                 from the process environment, then the env file (the environment wins)
  top level      name, services, volumes, secrets (file:), x-* extensions; several -f files merge
                 (mappings recursively, environment by variable, other lists replaced)
  services       image, command, entrypoint, environment, volumes (bind with ro/rslave..., named),
                 tmpfs, user, read_only, cap_drop, cap_add, security_opt, healthcheck, ports (short
                 syntax), depends_on (service_started/service_healthy), deploy.replicas,
                 deploy.resources.limits.memory, restart, logging, secrets, build (context and
                 dockerfile, for ``build``; images are built by tools/containers/run.sh)
Networks: each project gets ``<project>_default``; a container is reachable by its service name.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

TOP_KEYS = {"name", "services", "volumes", "secrets"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "volumes", "tmpfs", "user", "read_only",
    "cap_drop", "cap_add", "security_opt", "healthcheck", "ports", "depends_on", "deploy", "restart",
    "logging", "secrets",
}  # fmt: skip
HEALTH_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
DEPLOY_KEYS = {"replicas", "resources"}
LABEL = "com.docker.compose.project"


class ComposeError(Exception):
    """The file uses something this driver does not implement, or a required variable is unset."""


# ----------------------------------------------------------------------------- loading
_VAR = re.compile(
    r"\$(?:(?P<esc>\$)|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})"
)


def read_env_file(path: Path | None) -> dict[str, str]:
    """KEY=VALUE lines (# comments, optional quotes), as Compose reads ``.env``."""
    env: dict[str, str] = {}
    if path is None or not path.exists():
        return env
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[key.strip()] = value
    return env


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Substitute variables in every string of a parsed document, Compose style."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m["esc"]:
            return "$"
        name = m["plain"] or m["name"]
        op, arg = m["op"], m["arg"] or ""
        present = name in env
        unset_or_empty = not env.get(name)
        missing = unset_or_empty if op and op.startswith(":") else not present
        if op in (":-", "-"):
            return interpolate(arg, env) if missing else env[name]
        if op in (":?", "?"):
            if missing:
                raise ComposeError(f"required variable {name} is missing a value: {arg}")
            return env[name]
        if op in (":+", "+"):
            return "" if missing else interpolate(arg, env)
        return env.get(name, "")

    return _VAR.sub(sub, value)


def _merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if key == "environment":
        return {**_env_dict(base), **_env_dict(override)}
    return override


def load(
    files: Iterable[Path], env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The merged, interpolated Compose document (YAML anchors and ``<<`` merge keys resolved)."""
    env = {**read_env_file(env_file), **(os.environ if environ is None else environ)}
    doc: dict[str, Any] = {}
    for path in files:
        doc = _merge(doc, yaml.safe_load(Path(path).read_text()) or {})
    unknown = {k for k in doc if k not in TOP_KEYS and not k.startswith("x-")}
    if unknown:
        raise ComposeError(f"top-level keys not implemented: {sorted(unknown)}")
    doc = {k: v for k, v in doc.items() if not k.startswith("x-")}
    # Services this run does not start may need variables it does not set (Grafana's password):
    # interpolate per service, lazily, so only the services used must resolve.
    doc["_env"] = env
    return doc


# ----------------------------------------------------------------------------- translation
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def duration_ns(text: str | int) -> int:
    """Compose/Go durations (``1m30s``, ``500ms``) in nanoseconds, as the Docker API wants them."""
    text = str(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ComposeError(f"not a duration: {text!r}")
    return int(sum(float(n) * _UNIT[u] for n, u in parts))


def _env_dict(env: Any) -> dict[str, str | None]:
    if env is None:
        return {}
    if isinstance(env, dict):
        return {k: None if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}
    out: dict[str, str | None] = {}
    for item in env:
        k, sep, v = str(item).partition("=")
        out[k] = v if sep else None
    return out


def _ports(ports: list[Any]) -> dict[str, tuple[str, int] | int]:
    out: dict[str, tuple[str, int] | int] = {}
    for spec in ports:
        if not isinstance(spec, str | int):
            raise ComposeError(f"only the short port syntax is implemented: {spec!r}")
        spec, _, proto = str(spec).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            ip, host, container = parts
        elif len(parts) == 2:
            ip, (host, container) = "", parts
        else:
            raise ComposeError(f"a port must be published explicitly (host:container): {spec!r}")
        key = f"{container}/{proto or 'tcp'}"
        out[key] = (ip, int(host)) if ip else int(host)
    return out


def service_config(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """One service's interpolated definition, checked against the implemented keys."""
    try:
        raw = doc["services"][name]
    except KeyError:
        raise ComposeError(f"no service {name!r} in the file") from None
    svc = interpolate(raw, doc["_env"])
    problems = [f"{name}: key not implemented: {k}" for k in svc if k not in SERVICE_KEYS]
    problems += [f"{name}: healthcheck.{k} not implemented" for k in svc.get("healthcheck", {}) if k not in HEALTH_KEYS]
    deploy = svc.get("deploy", {})
    problems += [f"{name}: deploy.{k} not implemented" for k in deploy if k not in DEPLOY_KEYS]
    resources = deploy.get("resources", {})
    if set(resources) - {"limits"} or set(resources.get("limits", {})) - {"memory"}:
        problems.append(f"{name}: only deploy.resources.limits.memory is implemented")
    if problems:
        raise ComposeError("; ".join(problems))
    return svc


def project_name(doc: dict[str, Any]) -> str:
    return doc["_env"].get("COMPOSE_PROJECT_NAME") or interpolate(doc.get("name") or ROOT.name, doc["_env"])


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    out = {}
    for dep, spec in deps.items():
        condition = (spec or {}).get("condition", "service_started")
        if condition not in ("service_started", "service_healthy"):
            raise ComposeError(f"depends_on condition not implemented: {condition}")
        out[dep] = condition
    return out


def replicas(svc: dict[str, Any]) -> int:
    return int(svc.get("deploy", {}).get("replicas", 1))


def plan(doc: dict[str, Any], name: str, number: int = 1, project_dir: Path = ROOT) -> dict[str, Any]:
    """Keyword arguments of ``docker.containers.create`` for replica ``number`` of service ``name``."""
    from docker.types import LogConfig, Mount

    svc = service_config(doc, name)
    project = project_name(doc)
    network = f"{project}_default"
    mounts: list[Mount] = []
    for spec in svc.get("volumes", []):
        if not isinstance(spec, str):
            raise ComposeError(f"{name}: only the short volume syntax is implemented: {spec!r}")
        source, target, *rest = spec.split(":")
        options = rest[0].split(",") if rest else []
        read_only = "ro" in options
        propagation = next((o for o in options if o.endswith(("shared", "slave", "private"))), None)
        unknown = set(options) - {"ro", "rw"} - ({propagation} if propagation else set())
        if unknown:
            raise ComposeError(f"{name}: volume options not implemented: {sorted(unknown)}")
        if source.startswith((".", "/", "~")):
            path = (project_dir / os.path.expanduser(source)).resolve()
            mounts.append(Mount(target, str(path), type="bind", read_only=read_only, propagation=propagation))
        else:
            if source not in (doc.get("volumes") or {}):
                raise ComposeError(f"{name}: volume {source!r} is not declared at the top level")
            mounts.append(Mount(target, f"{project}_{source}", type="volume", read_only=read_only))
    for secret in svc.get("secrets", []):
        if not isinstance(secret, str):
            raise ComposeError(f"{name}: only the short secrets syntax is implemented")
        spec = interpolate((doc.get("secrets") or {}).get(secret), doc["_env"])
        if not spec or set(spec) != {"file"}:
            raise ComposeError(f"{name}: secret {secret!r} must be declared with file:")
        path = (project_dir / spec["file"]).resolve()
        if not path.is_file():
            raise ComposeError(f"{name}: secret file {path} does not exist (run `make secrets`)")
        mounts.append(Mount(f"/run/secrets/{secret}", str(path), type="bind", read_only=True))
    tmpfs = {}
    for spec in svc.get("tmpfs", []):
        target, _, options = spec.partition(":")
        tmpfs[target] = options
    environment = _env_dict(svc.get("environment"))
    kwargs: dict[str, Any] = {
        "image": svc["image"],
        "name": f"{project}-{name}-{number}",
        "hostname": None,
        "labels": {
            LABEL: project,
            "com.docker.compose.service": name,
            "com.docker.compose.container-number": str(number),
        },
        "command": svc.get("command"),
        "entrypoint": svc.get("entrypoint"),
        # KEY without a value takes the variable from the environment, as Compose does.
        "environment": {k: doc["_env"].get(k, "") if v is None else v for k, v in environment.items()},
        "user": svc.get("user"),
        "read_only": bool(svc.get("read_only", False)),
        "tmpfs": tmpfs or None,
        "cap_drop": svc.get("cap_drop"),
        "cap_add": svc.get("cap_add"),
        "security_opt": svc.get("security_opt"),
        "mounts": mounts,
        "ports": _ports(svc.get("ports", [])) or None,
        "network": network,
        "networking_config": {network: {"Aliases": [name]}},
        "detach": True,
    }
    if "restart" in svc:
        policy = svc["restart"]
        kwargs["restart_policy"] = {"Name": "" if policy == "no" else policy}
    if "logging" in svc:
        log = svc["logging"]
        kwargs["log_config"] = LogConfig(type=log.get("driver", "json-file"), config=log.get("options") or {})
    memory = svc.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
    if memory:
        kwargs["mem_limit"] = str(memory).lower().removesuffix("b")
    health = svc.get("healthcheck")
    if health:
        if health.get("disable"):
            kwargs["healthcheck"] = {"test": ["NONE"]}
        else:
            test = health["test"]
            kwargs["healthcheck"] = {
                "test": ["CMD-SHELL", test] if isinstance(test, str) else test,
                **{k: duration_ns(health[k]) for k in ("interval", "timeout", "start_period") if k in health},
                **({"retries": int(health["retries"])} if "retries" in health else {}),
            }
    return {k: v for k, v in kwargs.items() if v is not None}


def order(doc: dict[str, Any], names: Iterable[str]) -> list[str]:
    """Services in start order (dependencies first); every dependency must be among ``names``."""
    wanted = list(names)
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise ComposeError(f"dependency cycle: {' -> '.join((*path, name))}")
        for dep in depends_on(service_config(doc, name)):
            if dep not in wanted:
                raise ComposeError(f"{name} depends on {dep}, which this run does not start")
            visit(dep, (*path, name))
        done.append(name)

    for name in wanted:
        visit(name, ())
    return done


# ----------------------------------------------------------------------------- the engine side
class Project:
    """Starts and stops one project's services on a Docker engine."""

    def __init__(self, doc: dict[str, Any], client: Any, project_dir: Path = ROOT):
        self.doc, self.client, self.project_dir = doc, client, project_dir
        self.name = project_name(doc)
        self.network = f"{self.name}_default"

    def containers(self, service: str | None = None) -> list[Any]:
        filters = [f"{LABEL}={self.name}"] + ([f"com.docker.compose.service={service}"] if service else [])
        return self.client.containers.list(all=True, filters={"label": filters})

    def container(self, service: str, number: int = 1) -> Any:
        return self.client.containers.get(f"{self.name}-{service}-{number}")

    def ensure_network(self) -> str:
        """The project's default network (created on first use); returns its name."""
        if not self.client.networks.list(names=[self.network]):
            self.client.networks.create(self.network, driver="bridge", labels={LABEL: self.name})
        return self.network

    def up(self, services: Iterable[str], timeout: float = 240.0, log: Any = print) -> dict[str, float]:
        """Create the network, volumes and containers; wait for each dependency's condition.
        Returns seconds from start until each service was healthy (or started, without a check)."""
        names = order(self.doc, services)
        labels = {LABEL: self.name}
        self.ensure_network()
        for volume in self.doc.get("volumes") or {}:
            full = f"{self.name}_{volume}"
            if not self.client.volumes.list(filters={"name": full}):
                self.client.volumes.create(full, labels={**labels, "com.docker.compose.volume": volume})
        t0 = time.monotonic()
        ready: dict[str, float] = {}
        for name in names:
            svc = service_config(self.doc, name)
            for dep, condition in depends_on(svc).items():
                if dep not in ready:
                    self.wait(dep, healthy=condition == "service_healthy", timeout=timeout)
                    ready[dep] = time.monotonic() - t0
            for number in range(1, replicas(svc) + 1):
                container = self.client.containers.create(**plan(self.doc, name, number, self.project_dir))
                container.start()
                log(f"compose: started {container.name}")
        for name in names:
            if name not in ready:
                self.wait(name, healthy=True, timeout=timeout)
                ready[name] = time.monotonic() - t0
        return ready

    def wait(self, service: str, healthy: bool = True, timeout: float = 240.0) -> None:
        """Until every replica runs (and, with a healthcheck, reports healthy)."""
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for c in self.containers(service):
                c.reload()
                state = c.attrs["State"]
                if state["Status"] in ("exited", "dead") and not state.get("Restarting"):
                    raise ComposeError(f"{c.name} exited ({state.get('ExitCode')}): {c.logs(tail=30).decode()}")
                health = state.get("Health", {}).get("Status")
                states.append(state["Running"] and (not healthy or health in (None, "healthy")))
                if health == "unhealthy":
                    raise ComposeError(f"{c.name} is unhealthy: {state['Health']['Log'][-1:]}")
            if states and all(states):
                return
            if time.monotonic() > deadline:
                raise ComposeError(f"{service} not {'healthy' if healthy else 'running'} after {timeout:.0f}s")
            time.sleep(1.0)

    def down(self, volumes: bool = True) -> None:
        for c in self.containers():
            c.remove(force=True, v=True)
        for n in self.client.networks.list(filters={"label": f"{LABEL}={self.name}"}):
            n.remove()
        if volumes:
            for v in self.client.volumes.list(filters={"label": f"{LABEL}={self.name}"}):
                v.remove(force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compose.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--file", action="append", type=Path, help="compose file(s); default docker-compose.yml")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    parser.add_argument("-p", "--project-name")
    parser.add_argument("action", choices=["up", "down", "ps", "plan", "image", "build"])
    parser.add_argument("services", nargs="*")
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    if args.project_name:
        environ["COMPOSE_PROJECT_NAME"] = args.project_name
    try:
        doc = load(args.file or [ROOT / "docker-compose.yml"], args.env_file, environ)
        if args.action == "image":
            print(service_config(doc, args.services[0])["image"])
            return 0
        if args.action == "build":  # "context<TAB>dockerfile" of a service that has build:
            build = service_config(doc, args.services[0])["build"]
            print(f"{(ROOT / build.get('context', '.')).resolve()}\t{build.get('dockerfile', 'Dockerfile')}")
            return 0
        if args.action == "plan":
            for name in order(doc, args.services):
                print(name, plan(doc, name))
            return 0
        import docker

        project = Project(doc, docker.from_env())
        if args.action == "up":
            print(project.up(args.services))
        elif args.action == "down":
            project.down()
        else:
            for c in project.containers():
                print(c.name, c.status, c.attrs["State"].get("Health", {}).get("Status", "-"))
    except ComposeError as exc:
        print(f"compose.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
