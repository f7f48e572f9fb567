"""Fixtures of the template's own tests: renders, real services, a venv for suites.

The run is spread over xdist workers (pyproject's addopts). What is made once for the
whole run (the suites' venvs, renders) lives in a folder the workers share, built by
the first worker that needs it under a file lock; what is cleaned up once, after the
last test, is cleaned up by the process that started the workers.
Slow tests (generated suites, for real) run a module at a time per worker, modules
beside each other: each counts only what its own project's runs made on the shared
servers and Docker engine. See pytest_collection_modifyitems.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator
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
from shared_run import MachineHold, once_per_run
from xdist_groups import GroupsInNodeIds

# One serial group for the fast tests that touch the machine: its servers, its Docker
# engine (doctor, janitor: they look at containers and run folders of the project
# name every render has by default); the other workers take the rest of the fast tier.
MACHINE_GROUP = "machine"
# A slow test runs in its module's group: one module's tests one after another on one
# worker (they share a render, a kept container, a spare database), modules beside
# each other. Each module runs suites under a project name of its own and counts only
# what they made: databases named after its project, keys and queues named after its
# runs (server_state.RunWatch), containers of its checkout (container_census); a test
# that bounds a run to a few seconds is marked `alone`.
SLOW_GROUP = "slow:{module}"
MACHINE_FIXTURES = frozenset({"native_urls", "images", "suite_python", "world_readable_python"})
_RUN_STATE_BEFORE = pytest.StashKey[set[Path]]()
_MACHINE_HOLD = pytest.StashKey[MachineHold]()
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
    """Put each slow test in its module's serial group, and each other test that
    touches the machine (asking for one of MACHINE_FIXTURES) in the machine's; first,
    so that xdist's own hook sees the mark. A test's own xdist_group mark (the
    generated code's mypy runs) wins."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("slow"):
            group = SLOW_GROUP.format(module=item.path.stem)
            item.add_marker(pytest.mark.xdist_group(group))
        elif MACHINE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.xdist_group(MACHINE_GROUP))
    # Within a module, its tests alone first: kept from one to the next, the machine
    # is waited for once (pytest_runtest_protocol). Stable: the rest keep their order.
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)
    items.sort(key=lambda item: (first[item.path], not _is_alone(item)))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(GroupsInNodeIds(), "template-tests-xdist-groups")


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


def _is_alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """A test marked `alone` (a bound of a few seconds on a generated run, which other
    tests' load would stretch) runs while no other test runs, its fixtures' set-up
    included; the others share. Tests alone one after another on a worker keep the
    machine between them: the others wait once, not once per test."""
    config = item.config
    if not _is_xdist_worker(config):
        return (yield)
    hold = config.stash.setdefault(_MACHINE_HOLD, MachineHold(_run_root(config)))
    hold.take(alone=_is_alone(item))
    try:
        result = yield
    except BaseException:
        hold.release()
        raise
    hold.let_go(keep_alone=_is_alone(item) and _is_alone(nextitem))
    return result


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
