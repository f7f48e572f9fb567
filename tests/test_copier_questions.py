"""copier.yml: defaults, the answers file, and one clear message for every bad answer.

A bad answer must stop `copier copy` before anything is written, with one line that
names the question and says what is allowed. Copier raises it as a ValueError, which
its command line prints as the last line of a traceback
(`ValueError: Validation error for question ...`): checked once from the command line,
and for every bad answer in process (faster).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from rendering import REPO_ROOT, commit_all, git, init_repository, render

ANSWERS_FILE = ".copier-answers.integration-tests.yml"
# The rule project_name's validator enforces (it names databases and the compose project).
VALID_PROJECT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,29}")


def copier_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    return loaded


def test_every_interface_question_exists_with_help_and_default() -> None:
    config = copier_config()
    for name in (
        "project_name",
        "project_dir",
        "services",
        "async_tests",
        "default_provider",
        "isolation",
        "include_samples",
        "ci",
    ):
        assert config[name]["help"], name
        assert "default" in config[name], name


def test_defaults_render_and_record_answers_in_their_own_file(tmp_path: Path) -> None:
    project = render(tmp_path / "shop")
    answers = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert answers["project_name"] == "shop"
    assert answers["project_dir"] == "."
    assert answers["services"] == ["postgres"]
    assert answers["default_provider"] == "testcontainers"
    assert answers["isolation"] == "rollback"
    assert answers["_src_path"]
    assert not (project / ".copier-answers.yml").exists()


# Folder name -> the default project_name: a slug that starts with a letter, at most
# 30 characters, never empty.
FOLDER_NAMES = {
    "2024-project": "project",
    "My Project (copy)": "my-project-copy",
    "café-app": "caf-app",
    "_private": "private",
    "2fa-service": "fa-service",
    "My Shop.v2": "my-shop-v2",
    "---": "project",
    "Ünïcode Tools": "n-code-tools",
    "customer-notification-service-api": "customer-notification-service",  # 33 chars
}


@pytest.mark.parametrize(("folder", "expected"), FOLDER_NAMES.items(), ids=repr)
def test_any_folder_name_gives_a_valid_default_project_name(
    tmp_path: Path, folder: str, expected: str
) -> None:
    project = render(tmp_path / folder)
    name = yaml.safe_load((project / ANSWERS_FILE).read_text())["project_name"]
    assert VALID_PROJECT_NAME.fullmatch(name), name
    assert name == expected


@pytest.mark.parametrize("good_name", ["shop", "my-shop_2", "a" * 30])
def test_project_name_validator_accepts(tmp_path: Path, good_name: str) -> None:
    render(tmp_path / "p", project_name=good_name)


PROJECT_NAME = "Validation error for question 'project_name': project_name must start with"
PROJECT_DIR = "Validation error for question 'project_dir': project_dir must be a relative"
BOOLEAN = "Validation error for question '{0}': {0} must be true or false, got {1}"
SERVICES = "Validation error for question 'services': choose at least one service"
SERVICES_REST = " (postgres, mysql, redis, rabbitmq): the suite is about real services"
CHOICE = "Invalid choice for '{0}': '{1}' is not in"

# --data name=value as a user types it -> the one line they must see.
BAD_ANSWERS = [
    ("project_name=", PROJECT_NAME),
    ("project_name=1shop", PROJECT_NAME),
    ("project_name=Shop", PROJECT_NAME),
    ("project_name=my shop", PROJECT_NAME),
    ("project_name=shop;drop", PROJECT_NAME),
    ("project_name=" + "x" * 31, PROJECT_NAME),
    ("project_name=ünïcode", PROJECT_NAME),
    ("project_dir=", PROJECT_DIR),
    ("project_dir=/srv/app", PROJECT_DIR),
    ("project_dir=../elsewhere", PROJECT_DIR),
    ("project_dir=backend/../..", PROJECT_DIR),
    ("project_dir=back\\end", PROJECT_DIR),
    ("services=[]", SERVICES),
    ("services=[postgres, oracle]", CHOICE.format("services", "oracle")),
    ("async_tests=maybe", BOOLEAN.format("async_tests", "maybe")),
    ("async_tests=2", BOOLEAN.format("async_tests", "2")),
    ("include_samples=maybe", BOOLEAN.format("include_samples", "maybe")),
    ("default_provider=docker", CHOICE.format("default_provider", "docker")),
    ("isolation=savepoint", CHOICE.format("isolation", "savepoint")),
    ("ci=jenkins", CHOICE.format("ci", "jenkins")),
]


@pytest.fixture
def existing_project(tmp_path: Path) -> Path:
    project = init_repository(tmp_path / "shop")
    (project / "README.md").write_text("# shop\n")
    commit_all(project, "the user's project")
    return project


@pytest.mark.parametrize(("data", "message"), BAD_ANSWERS, ids=[d for d, _ in BAD_ANSWERS])
def test_a_bad_answer_gets_one_message_and_nothing_is_written(
    existing_project: Path, data: str, message: str
) -> None:
    name, value = data.split("=", 1)  # as `--data` hands it to copier: a string
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        copier.run_copy(
            str(REPO_ROOT), existing_project, data={name: value}, defaults=True,
            unsafe=True, vcs_ref="HEAD", quiet=True,
        )  # fmt: skip
    assert str(raised.value).count(message) == 1
    assert git(existing_project, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_command_line_ends_with_that_one_message(existing_project: Path) -> None:
    copier_cli = Path(sys.executable).with_name("copier")
    result = subprocess.run(
        [str(copier_cli), "copy", "--quiet", "--defaults", "--trust", "--vcs-ref", "HEAD",
         "--data", "services=[]", str(REPO_ROOT), str(existing_project)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert output.strip().splitlines()[-1] == f"ValueError: {SERVICES}{SERVICES_REST}", output
    assert output.count(SERVICES) == 1, output
    assert git(existing_project, "status", "--porcelain", "--untracked-files=all") == ""


def test_message_after_copy_names_the_test_command() -> None:
    message = copier_config()["_message_after_copy"]
    assert "uv run --with-requirements tests/integration/requirements.txt" in message
    assert "pytest tests/integration" in message


@pytest.mark.slow
@pytest.mark.parametrize(("services", "shown"), [(["postgres"], True), (["redis"], False)])
def test_message_after_copy_shows_the_env_py_change_alembic_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], services: list[str], shown: bool
) -> None:
    copier.run_copy(
        str(REPO_ROOT), init_repository(tmp_path / "shop"), data={"services": services},
        defaults=True, unsafe=True, vcs_ref="HEAD",
    )  # fmt: skip
    message = capsys.readouterr().err
    assert "uv run --with-requirements tests/integration/requirements.txt" in message
    lines = [
        "Alembic: name your alembic.ini in tests/integration/schema.py (ALEMBIC_INI).",
        '    connection = config.attributes.get("connection")',
        "    if connection is not None:  # handed one: the integration suite's database",
        "        do_run_migrations(connection)",
    ]
    assert [line in message for line in lines] == [shown] * len(lines), message
