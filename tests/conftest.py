"""Fixtures of the template's own tests: renders, real services, a venv for suites."""

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
from rendering import ALL_SERVICES, render
from server_state import (
    drop_spares_made_since,
    remove_run_state_made_since,
    run_state_entries,
    spare_databases,
)


@pytest.fixture(scope="session", autouse=True)
def _run_state_left_for_no_next_run() -> Iterator[None]:
    """The generated suites keep state for their project's next run (a killed run's
    folder, to be swept; kept containers' records): these projects have none."""
    before = run_state_entries()
    yield
    remove_run_state_made_since(before)


@pytest.fixture(scope="session")
def native_urls() -> Iterator[dict[str, str]]:
    urls = native_service_urls()
    postgres = urls["IT_POSTGRES_URL"]
    spares = spare_databases(postgres)
    yield urls
    # A generated suite leaves a spare database for its next run on a server it did
    # not start; the projects of these tests will have no next run.
    drop_spares_made_since(postgres, spares)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    return container_images()


@pytest.fixture(scope="session")
def suite_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding what any rendered suite needs (full render's list)."""
    root = tmp_path_factory.mktemp("suite-venv")
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
def world_readable_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every service's requirements plus requirements-embedded.txt, in a venv that an
    unprivileged user can run (pytest's temporary directories are root-only)."""
    full = render(tmp_path_factory.mktemp("readable") / "full", services=ALL_SERVICES)
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
    yield venv / "bin" / "python"
    shutil.rmtree(root, ignore_errors=True)
