"""The container tier's fixtures. Tests marked ``containers`` need the private engine that
tools/containers/run.sh (``make test-containers``) starts and the images it builds; elsewhere they
are skipped with that reason."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.containers.stack_helpers import (
    PORT_VARS,
    PROJECT,
    ROOT,
    SERVICES,
    Stack,
    compose,
    free_port,
    secret_env,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "containers: needs the engine of `make test-containers`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TRADEWATCH_CONTAINERS") == "1":
        return
    skip = pytest.mark.skip(reason="container tier: run `make test-containers` (its own dockerd, as root)")
    for item in items:
        if item.get_closest_marker("containers"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import docker

    tmp = tmp_path_factory.mktemp("stack")
    tmp.chmod(0o755)  # the secrets in it are read by the containers' non-root users
    env = {var: str(free_port()) for var in PORT_VARS}
    env |= secret_env(tmp, {"slack_webhook_url": f"http://slack:8080/services/{PROJECT}"})
    env |= {"COMPOSE_PROJECT_NAME": PROJECT, "TRADEWATCH_INGEST_TOKEN": "ci-" + os.urandom(12).hex()}
    (tmp / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    # One override, the way a user would add docker-compose.override.yml: a report due every minute
    # for the next 15 (the scheduler only runs times after its start, which depends on the machine).
    now = datetime.now(UTC)
    override = tmp / "docker-compose.ci.yml"
    reports = json.dumps(
        [{"name": f"ci{i}", "period": "daily", "at": (now + timedelta(minutes=i)).strftime("%H:%M"), "timezone": "UTC"}
         for i in range(1, 16)]
    )  # fmt: skip
    override.write_text(f"services:\n  report-scheduler:\n    environment:\n      TRADEWATCH_REPORTS: '{reports}'\n")
    doc = compose.load([ROOT / "docker-compose.yml", override], tmp / ".env", {})
    client = docker.from_env(timeout=120)
    project = compose.Project(doc, client)
    project.down()
    client.containers.run(  # the Slack stand-in answers as "slack" on the project network
        "tradewatch-ci/slack:latest", name=f"{PROJECT}-slack-standin", detach=True, read_only=True,
        cap_drop=["ALL"], security_opt=["no-new-privileges:true"], labels={compose.LABEL: PROJECT},
        network=project.ensure_network(), networking_config={project.network: {"Aliases": ["slack"]}},
    )  # fmt: skip
    t0 = time.monotonic()
    try:
        started = project.up(SERVICES, timeout=300)
    except Exception:  # show why, leave nothing behind
        for c in project.containers():
            print(f"--- {c.name} ({c.status})\n{c.logs(tail=40).decode(errors='replace')}")
        project.down()
        raise
    print(
        f"stack healthy after {time.monotonic() - t0:.0f}s: " + ", ".join(f"{k} {v:.0f}s" for k, v in started.items())
    )
    yield Stack(project, env, started, t0)
    if os.environ.get("TRADEWATCH_CONTAINERS_KEEP") != "1":
        project.down()
