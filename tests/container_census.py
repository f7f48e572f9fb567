"""Watch Docker while a generated suite runs: how many containers of each image exist."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType

import docker

# What the generated suites put on the containers they start (harness/janitor.py).
LABEL = "io.github.copier-integration-tests"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


def checkout_id(project: Path) -> str:
    """The id the generated suite of `project` gives its checkout (harness/run_state.py:
    a hash of its tests/integration folder): on the labels of each container it starts
    and in the name of each compose project it runs."""
    suite = (project / "tests" / "integration").resolve()
    return hashlib.sha256(str(suite).encode()).hexdigest()[:8]


def started_by(labels: dict[str, str], checkout: str) -> bool:
    """Whether a container with these labels was started by the suite of `checkout`
    (testcontainers: the checkout label; compose: the compose project's name)."""
    compose_project = labels.get(COMPOSE_PROJECT_LABEL, "").split("-")
    return labels.get(f"{LABEL}.checkout") == checkout or checkout in compose_project


class ContainerCensus:
    """Polls the engine in a thread; `peak[image]` is the most containers seen at once.

    Only the containers that `project`'s suite started count: other tests run suites
    with the same images on the same engine at the same time.
    """

    def __init__(self, images: list[str], *, project: Path, interval: float = 0.2) -> None:
        self.images = images
        self.checkout = checkout_id(project)
        self.interval = interval
        self.peak: Counter[str] = Counter()
        self._client = docker.from_env()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._networks_before: set[str] = set()

    def count(self) -> Counter[str]:
        """Containers per watched image right now, running or not."""
        counts: Counter[str] = Counter()
        for container in self._client.containers.list(all=True, ignore_removed=True):
            config = container.attrs["Config"]
            image = config["Image"]
            if image in self.images and started_by(config.get("Labels") or {}, self.checkout):
                counts[image] += 1
        return counts

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            for image, count in self.count().items():
                self.peak[image] = max(self.peak[image], count)

    def __enter__(self) -> ContainerCensus:
        self._networks_before = set(self._network_names())
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def new_networks(self, name_part: str) -> list[str]:
        """Networks named with `name_part` that did not exist when the census began.

        Only new ones: a network an earlier, killed run left on this engine is not
        the watched run's doing.
        """
        names = self._network_names()
        return [n for n in names if name_part in n and n not in self._networks_before]

    def _network_names(self) -> list[str]:
        return [network.name or "" for network in self._client.networks.list()]
