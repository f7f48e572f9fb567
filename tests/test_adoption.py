"""Adopted into a realistic existing project, the suite is a good guest.

The host: a hatchling-built package with its own pytest settings (addopts,
filterwarnings=error, strict config), tests with a conftest at the root and in tests/,
and its own CI workflow. Its conftest files hold autouse fixtures that would wipe a
database; they record every time they run to a canary file outside the repository.

Then: the host's files stay byte-identical and the copy only adds files; the host's
`pytest` passes as before (in a venv with pytest only, and in one with the suite's
requirements too) and says in one line how the suite runs; the documented command
runs the suite green without loading anything of the host's; and an update whose
change meets the user's edit is listed by git, refused by the suite and named by doctor.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite, uv_executable
from rendering import (
    SUITE_TEMPLATE,
    commit_all,
    git,
    init_repository,
    release,
    render,
    template_repository,
)

# A group of its own (its venvs are built once): its one run on the machine's servers
# makes only test_adopt_* databases, which no other test counts.
pytestmark = [pytest.mark.slow]

ANSWERS_FILE = ".copier-answers.integration-tests.yml"
SETTINGS = "tests/integration/harness/settings.py"
NOT_COLLECTED = "tests/integration: not collected here"
# What _message_after_copy tells a project that uv does not manage (hatch here).
DOCUMENTED_COMMAND = (
    "uv run --no-project --with-editable . "
    "--with-requirements tests/integration/requirements.txt pytest tests/integration"
)

CANARY_CODE = '''
import os

import pytest


def record(event: str) -> None:
    if os.environ.get("SHOP_CANARY"):
        with open(os.environ["SHOP_CANARY"], "a") as canary:
            canary.write(event + "\\n")


record("imported " + __file__)


@pytest.fixture(autouse=True)
def {name}(request: pytest.FixtureRequest) -> None:
    """Stands for a fixture that drops every table: never for tests/integration."""
    record("{name} " + request.node.nodeid)
    if "integration" in request.node.path.parts:
        pytest.fail("the shop's {name} ran for an integration test")
'''

HOST_FILES = {
    "pyproject.toml": """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "shop"
version = "1.0.0"
requires-python = ">=3.10"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]
addopts = ["-ra", "--strict-markers", "--strict-config"]
filterwarnings = ["error"]
xfail_strict = true
markers = ["slow: takes long"]
""",
    ".gitignore": "__pycache__/\n.pytest_cache/\n.venv/\ndist/\n",
    "README.md": "# shop\n",
    "src/shop/__init__.py": "",
    "src/shop/pricing.py": "def total(prices: list[int]) -> int:\n    return sum(prices)\n",
    "conftest.py": CANARY_CODE.format(name="reset_everything"),
    "tests/__init__.py": "",
    "tests/conftest.py": CANARY_CODE.format(name="reset_database")
    + "\n\n@pytest.fixture\ndef prices() -> list[int]:\n    return [2, 3]\n",
    "tests/test_pricing.py": """\
import pytest

from shop.pricing import total


def test_total(prices: list[int]) -> None:
    assert total(prices) == 5


def test_the_integration_fixtures_are_not_here(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue("db_session")
    assert request.config.pluginmanager.get_plugin("integration-services") is None


@pytest.mark.slow
def test_slow() -> None:
    assert total([]) == 0
""",
    ".github/workflows/ci.yml": """\
name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install pytest && pytest
""",
}
HOST_TESTS = {
    "tests.test_pricing::test_total",
    "tests.test_pricing::test_the_integration_fixtures_are_not_here",
    "tests.test_pricing::test_slow",
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in HOST_FILES}


def host_pytest(project: Path, python: Path, canary: Path) -> SuiteResult:
    """The host's own `pytest`, no arguments, from the repository root."""
    env = clean_environment(SHOP_CANARY=str(canary))
    result = run_suite(project, [str(python), "-m", "pytest"], env=env, paths=())
    (project / "junit.xml").unlink()  # run_suite's report, not the host's
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_repository(tmp_path_factory.mktemp("template") / "template", "1.0.0")


@pytest.fixture(scope="module")
def pytest_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's environment: pytest, none of the suite's requirements."""
    venv = tmp_path_factory.mktemp("host-venv") / "venv"
    uv = uv_executable()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv), "pytest"], check=True, timeout=300
    )
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, pytest_only: Path) -> Path:
    # The folder names the suite's databases (project_name): one of this module's own.
    root = init_repository(tmp_path_factory.mktemp("host") / "adopt")
    for name, content in HOST_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    commit_all(root, "the shop")
    return root


@pytest.fixture(scope="module")
def before(host: Path, pytest_only: Path, tmp_path_factory: pytest.TempPathFactory) -> SuiteResult:
    """The host's own pytest run before the copy: what 'as before' means."""
    result = host_pytest(host, pytest_only, tmp_path_factory.mktemp("canary") / "canary")
    assert result.returncode == 0, result.summary()
    assert set(result.passed) == HOST_TESTS, result.summary()
    return result


@pytest.fixture(scope="module")
def adopted(host: Path, before: SuiteResult, template: Path) -> Path:
    files = snapshot(host)
    render(host, src=template, vcs_ref="1.0.0", ci="github")
    assert snapshot(host) == files
    return host


def test_the_copy_only_adds_files(adopted: Path) -> None:
    changes = git(adopted, "diff", "--name-status", "HEAD~1", "HEAD").splitlines()
    assert changes
    assert [line for line in changes if not line.startswith("A\t")] == []
    added = {line.split("\t")[1] for line in changes}
    assert {ANSWERS_FILE, ".github/workflows/integration-tests.yml"} <= added
    assert all(name.startswith(("tests/integration/", ".github/", ANSWERS_FILE)) for name in added)


@pytest.fixture(scope="module")
def with_requirements(adopted: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's environment after `pip install -r tests/integration/requirements.txt`."""
    venv = tmp_path_factory.mktemp("host-venv-it") / "venv"
    uv = uv_executable()
    requirements = adopted / "tests/integration/requirements.txt"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv), "-r", str(requirements)],
        check=True, timeout=600,
    )  # fmt: skip
    return venv / "bin" / "python"


@pytest.mark.parametrize("environment", ["pytest only", "with the suite's requirements"])
def test_the_hosts_pytest_runs_as_before(
    adopted: Path, before: SuiteResult, request: pytest.FixtureRequest, tmp_path: Path,
    environment: str,
) -> None:  # fmt: skip
    fixture = "pytest_only" if environment == "pytest only" else "with_requirements"
    python: Path = request.getfixturevalue(fixture)
    result = host_pytest(adopted, python, tmp_path / "canary")
    assert result.returncode == before.returncode, result.summary()
    assert sorted(result.passed) == sorted(before.passed), result.summary()
    assert not result.failed
    assert not result.skipped
    lines = [line for line in result.output.splitlines() if NOT_COLLECTED in line]
    assert len(lines) == 1, result.output
    assert "pytest tests/integration" in lines[0]


def test_the_suite_without_its_requirements_says_how_to_run_it(
    adopted: Path, pytest_only: Path
) -> None:
    result = run_suite(adopted, [str(pytest_only), "-m", "pytest"], env=clean_environment())
    assert result.returncode == 4, result.summary()
    assert "uv run --with-requirements tests/integration/requirements.txt" in result.output
    assert "Traceback" not in result.output


def test_the_documented_command_runs_the_suite_without_the_hosts_settings(
    adopted: Path, native_urls: dict[str, str], tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    env = clean_environment(SHOP_CANARY=str(canary), **native_urls)
    command = [uv_executable(), *DOCUMENTED_COMMAND.split()[1:-1]]  # path added by run_suite
    result = run_suite(adopted, command, env=env)
    result.assert_all_passed(at_least=15)
    assert not canary.exists(), canary.read_text()  # no host conftest imported, no fixture
    assert f"rootdir: {adopted / 'tests/integration'}" in result.output
    assert "configfile: pytest.ini" in result.output
    (adopted / "junit.xml").unlink()  # run_suite's report
    assert git(adopted, "status", "--porcelain", "--untracked-files=all") == ""


def test_an_update_that_meets_the_users_edit_is_listed_refused_and_named(
    adopted: Path, template: Path, suite_python: Path, tmp_path: Path
) -> None:
    project = tmp_path / "adopt"
    git(tmp_path, "clone", "-q", str(adopted), str(project))
    git(project, "config", "user.email", "tests@example.test")
    git(project, "config", "user.name", "Template Tests")
    settings = project / SETTINGS
    old = "_DEFAULT_STARTUP_TIMEOUT = 90.0"
    settings.write_text(settings.read_text().replace(old, "_DEFAULT_STARTUP_TIMEOUT = 60.0"))
    commit_all(project, "the user's slower machine")
    release(template, "2.0.0", {f"{SUITE_TEMPLATE}/harness/settings.py": (old, old[:-4] + "120.0")})

    copier = Path(sys.executable).with_name("copier")
    updated = subprocess.run(
        [str(copier), "update", "--defaults", "--answers-file", ANSWERS_FILE],
        cwd=project, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "git diff --name-only --diff-filter=U" in updated.stdout + updated.stderr

    assert git(project, "diff", "--name-only", "--diff-filter=U").split() == [SETTINGS]
    suite = run_suite(project, [str(suite_python), "-m", "pytest"], env=clean_environment())
    assert suite.returncode == 4, suite.summary()
    assert "copier update left these files with conflicts" in suite.output, suite.output
    assert listed_files(suite.output) == [SETTINGS], suite.output
    assert "Traceback" not in suite.output, suite.output
    doctor = subprocess.run(
        [str(suite_python), "tests/integration/doctor.py"],
        cwd=project, env=clean_environment(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert listed_files(doctor.stdout) == [SETTINGS], doctor.stdout


def listed_files(output: str) -> list[str]:
    """Files of the suite that a message lists, one per line."""
    return re.findall(r"(tests/integration/\S+)[ \t]*$", output, flags=re.MULTILINE)
