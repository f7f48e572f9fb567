"""`pytest --collect-only` (what IDEs run on every save) starts no service.

With every IT_*_URL set, each points at a TCP listener of this test that counts the
connections it accepts: there must be none. With no URL and Docker answering, the
IT_*_IMAGE overrides are tags made for this module only, and Docker's event stream
must show no container created from them (however short-lived), for each provider
that starts containers. Serially and under xdist (there the workers collect); each
provider once, to keep the module short.
(That collection costs at most 1.5x a bare collection is a benchmark, not a test.)
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import ALL_SERVICES, render

pytestmark = pytest.mark.slow

PARALLEL = {"serial": (), "xdist": ("-n", "2")}
URL_FORMS = {
    "IT_POSTGRES_URL": "postgresql://test:test@127.0.0.1:{port}/test",
    "IT_MYSQL_URL": "mysql://root:root@127.0.0.1:{port}/test",
    "IT_REDIS_URL": "redis://127.0.0.1:{port}/0",
    "IT_AMQP_URL": "amqp://guest:guest@127.0.0.1:{port}/%2F",
}
IMAGE_TAG_REPOSITORY = "it-collect-only"


class CountingListener:
    """A TCP server on loopback that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self._server.accept()
                self.accepted += 1
                connection.close()

    def close(self) -> None:
        self._server.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collect") / "collectonly"
    return render(root, services=ALL_SERVICES, async_tests=True)


@pytest.fixture(scope="module")
def own_images(images: dict[str, str]) -> Iterator[dict[str, str]]:
    """IT_*_IMAGE values: this machine's images under tags that only this module uses."""
    client = docker.from_env()
    own = {}
    for variable, image in images.items():
        repository = f"{IMAGE_TAG_REPOSITORY}/{variable.lower()}"
        client.images.get(image).tag(repository, "1")
        own[variable] = f"{repository}:1"
    yield own
    for tag in own.values():
        client.images.remove(tag)  # only the tag: the image keeps its own name


def containers_created(images: list[str], since: int) -> list[str]:
    """Images of containers created since `since` from any of `images` (Docker events)."""
    client = docker.from_env()
    filters: dict[str, Any] = {"type": "container", "event": "create", "image": images}
    events = client.events(since=since, until=int(time.time()) + 2, filters=filters, decode=True)
    return [event["Actor"]["Attributes"]["image"] for event in events]


def collect(project: Path, python: Path, parallel: str, env: dict[str, str]) -> SuiteResult:
    result = run_suite(
        project, [str(python), "-m", "pytest"], "--collect-only", "-q", *PARALLEL[parallel],
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.summary()
    if parallel == "serial":  # xdist's workers collect; the controller prints no count
        collected = re.search(r"(\d+) tests? collected", result.output)
        assert collected, result.output
        assert int(collected.group(1)) >= 50, result.output
    return result


@pytest.mark.parametrize("parallel", PARALLEL)
def test_collect_only_connects_to_no_service_url(
    project: Path, suite_python: Path, parallel: str
) -> None:
    listeners = {variable: CountingListener() for variable in URL_FORMS}
    urls = {var: form.format(port=listeners[var].port) for var, form in URL_FORMS.items()}
    try:
        collect(project, suite_python, parallel, clean_environment(CI="true", **urls))
        time.sleep(0.2)  # let the accept threads count a late connection
        accepted = {variable: listener.accepted for variable, listener in listeners.items()}
    finally:
        for listener in listeners.values():
            listener.close()
    assert accepted == dict.fromkeys(URL_FORMS, 0)


def test_docker_events_see_a_container_of_our_images(own_images: dict[str, str]) -> None:
    # The control for the test below: the event filter does see a container we create.
    since = int(time.time()) - 1
    client = docker.from_env()
    image = own_images["IT_REDIS_IMAGE"]
    client.containers.create(image, command=["true"]).remove(force=True)
    assert containers_created(list(own_images.values()), since) == [image]


@pytest.mark.docker
@pytest.mark.parametrize(
    ("provider", "parallel"), [("testcontainers", "serial"), ("compose", "xdist")]
)
def test_collect_only_creates_no_container(
    project: Path, suite_python: Path, own_images: dict[str, str], provider: str, parallel: str
) -> None:
    since = int(time.time()) - 1
    env = clean_environment(CI="true", IT_PROVIDER=provider, **own_images)
    collect(project, suite_python, parallel, env)
    assert containers_created(list(own_images.values()), since) == []
