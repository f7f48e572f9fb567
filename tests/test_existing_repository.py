"""Copying into a repository that already has pyproject.toml, tests/ and a conftest."""

from __future__ import annotations

from pathlib import Path

from generated_suite import clean_environment, run_suite
from rendering import commit_all, init_repository, render

USER_FILES = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "1.0"\n\n'
    '[tool.pytest.ini_options]\naddopts = "--strict-markers"\n',
    "tests/__init__.py": "",
    "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n",
    "tests/test_unit.py": "def test_unit(answer):\n    assert answer == 42\n",
    "README.md": "# shop\n",
}


def existing_repository(root: Path) -> Path:
    init_repository(root)
    for name, content in USER_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    commit_all(root, "the user's project")
    return root


def test_users_files_stay_byte_identical(tmp_path: Path) -> None:
    project = existing_repository(tmp_path / "shop")
    before = {name: (project / name).read_bytes() for name in USER_FILES}
    render(project)
    after = {name: (project / name).read_bytes() for name in USER_FILES}
    assert after == before
    assert (project / "tests/integration/conftest.py").exists()


def test_generated_suite_runs_inside_a_tests_package_next_to_unit_tests(
    tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    # tests/__init__.py makes the suite import as tests.integration, not integration:
    # relative imports must work both ways, next to the user's own conftest.
    project = render(existing_repository(tmp_path / "shop"))
    env = clean_environment(IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"])
    pytest = [str(suite_python), "-m", "pytest"]
    run_suite(project, pytest, env=env).assert_all_passed(at_least=15)
    # The whole tests/ tree at once: the user's unit test and ours, with their
    # --strict-markers, and our conftest loaded late (not an initial conftest).
    everything = run_suite(project, pytest, env=env, paths=("tests",))
    everything.assert_all_passed(at_least=16)
    assert "tests.test_unit::test_unit" in everything.passed
