"""Fixtures of the template's own tests: renders, real services, a venv for suites.

The run is spread over xdist workers (pyproject's addopts). What is made once for the
whole run (the suites' venvs, renders) lives in a folder the workers share, built by
the first worker that needs it under a file lock; what is cleaned up once, after the
last test, is cleaned up by the process that started the workers.
Tests that share the machine's servers or its Docker engine and look at them from the
outside (counts of databases, keys, containers) run one at a time, in a group of
their own per resource: see pytest_collection_modifyitems.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import uv_executable
from machine_services import container_images, native_service_urls
from rendering import ALL_SERVICES, render, use_render_cache
from server_state import (
    drop_spares_made_since,
    remove_run_state_made_since,
    run_state_entries,
    spare_databases,
)
from shared_run import machine_share, once_per_run

# One serial group for every test that touches the machine: its servers, its Docker
# engine, a generated suite's run (run-state folders, containers, spare databases).
# Such tests look at shared state from the outside (databases, keys, queues,
# containers of an image, run folders) that another of them would change at the same
# time: they run one after another on one worker, while the other workers take the
# fast tests (renders, lint, unit tests). Run on three workers, the machine group was
# seen to break: tests of other groups changed what a test counted.
MACHINE_GROUP = "machine"
MACHINE_FIXTURES = frozenset({"native_urls", "images", "suite_python", "world_readable_python"})
_RUN_STATE_BEFORE = pytest.StashKey[set[Path]]()
_SPARES_BEFORE = "postgres-spares-before"
_WORLD_READABLE = "world-readable-python"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _run_root(config: pytest.Config) -> Path:
    """The folder shared by every process of this run: the controller's basetemp,
    of which each xdist worker's basetemp is a subfolder."""
    factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]
    base = factory.getbasetemp()
    return base.parent if _is_xdist_worker(config) else base


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test that touches the machine (marked slow, or asking for one of
    MACHINE_FIXTURES) in the machine's serial group; first, so that xdist's own hook
    sees the mark. A test's own xdist_group mark (the generated code's mypy runs)
    wins."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("slow") or MACHINE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.xdist_group(MACHINE_GROUP))


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_xdist_worker(session.config):
        session.config.stash[_RUN_STATE_BEFORE] = run_state_entries()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Once, after every worker has finished."""
    config = session.config
    if _is_xdist_worker(config) or _RUN_STATE_BEFORE not in config.stash:
        return
    # The generated suites keep state for their project's next run (a killed run's
    # folder, to be swept; kept containers' records): these projects have none.
    remove_run_state_made_since(config.stash[_RUN_STATE_BEFORE])
    root = _run_root(config)
    spares = root / f"{_SPARES_BEFORE}.path"
    if spares.exists():
        # A generated suite leaves a spare database for its next run on a server it
        # did not start; the projects of these tests will have no next run.
        url, *before = Path(spares.read_text()).read_text().splitlines()
        drop_spares_made_since(url, set(before))
    readable = root / f"{_WORLD_READABLE}.path"
    if readable.exists():
        shutil.rmtree(Path(readable.read_text()).parents[2], ignore_errors=True)


@pytest.fixture(scope="session")
def run_root(request: pytest.FixtureRequest) -> Path:
    return _run_root(request.config)


@pytest.fixture(autouse=True)
def _machine_shared_or_alone(request: pytest.FixtureRequest, run_root: Path) -> Iterator[None]:
    """A test marked `alone` (a bound of a few seconds on a generated run, which other
    tests' load would stretch) runs while no other test runs; the others share."""
    if not _is_xdist_worker(request.config):
        yield
        return
    alone = request.node.get_closest_marker("alone") is not None
    with machine_share(run_root, alone=alone):
        yield


@pytest.fixture(scope="session", autouse=True)
def _shared_renders(run_root: Path) -> Iterator[None]:
    use_render_cache(run_root / "renders")
    yield
    use_render_cache(None)


@pytest.fixture(scope="session")
def native_urls(run_root: Path) -> dict[str, str]:
    urls = native_service_urls()
    postgres = urls["IT_POSTGRES_URL"]

    def record_spares(folder: Path) -> Path:
        record = folder.with_suffix(".txt")
        record.write_text("\n".join([postgres, *sorted(spare_databases(postgres))]))
        return record

    # Read once, before the first generated suite of the run uses the server.
    once_per_run(run_root, _SPARES_BEFORE, record_spares)
    return urls


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    return container_images()


def _build_suite_python(root: Path) -> Path:
    full = render(root / "full", project_name="full", services=ALL_SERVICES, async_tests=True)
    venv = root / "venv"
    uv = uv_executable()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([uv, "venv", "-q", "--python", python, str(venv)], check=True)
    requirements = full / "tests" / "integration" / "requirements.txt"
    # pytest-randomly is the template tests' own addition (random-order runs); it is
    # disabled unless a test asks for it, see generated_suite.run_suite.
    subprocess.run(
        [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv),
         "-r", str(requirements), "pytest-randomly"],
        check=True,
        timeout=900,
    )  # fmt: skip
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def suite_python(run_root: Path) -> Path:
    """A virtual environment holding what any rendered suite needs (full render's list)."""
    return once_per_run(run_root, "suite-venv", _build_suite_python)


def _build_world_readable_python(scratch: Path) -> Path:
    full = render(scratch / "full", services=ALL_SERVICES)
    root = Path(tempfile.mkdtemp(prefix="template-tests-venv-"))
    root.chmod(0o755)
    venv = root / "venv"
    uv = uv_executable()
    # A base interpreter outside /root (pyenv's lives there), so `nobody` can run it.
    system_python = Path("/usr/bin/python3")
    interpreter = str(system_python) if system_python.exists() else sys.executable
    subprocess.run([uv, "venv", "-q", "--python", interpreter, str(venv)], check=True)
    suite = full / "tests/integration"
    subprocess.run(
        [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv),
         "--link-mode", "copy",
         "-r", str(suite / "requirements.txt"), "-r", str(suite / "requirements-embedded.txt")],
        check=True, timeout=900,
    )  # fmt: skip
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def world_readable_python(run_root: Path) -> Path:
    """Every service's requirements plus requirements-embedded.txt, in a venv that an
    unprivileged user can run (pytest's temporary directories are root-only); removed
    at the end of the run (pytest_sessionfinish)."""
    return once_per_run(run_root, _WORLD_READABLE, _build_world_readable_python)
