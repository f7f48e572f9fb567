"""copier.yml: defaults, the answers file, and a negative test for every validator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rendering import REPO_ROOT, render

ANSWERS_FILE = ".copier-answers.integration-tests.yml"


def copier_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    return loaded


def test_every_interface_question_exists_with_help_and_default() -> None:
    config = copier_config()
    for name in (
        "project_name",
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
    assert answers["services"] == ["postgres"]
    assert answers["default_provider"] == "testcontainers"
    assert answers["isolation"] == "rollback"
    assert answers["_src_path"]
    assert not (project / ".copier-answers.yml").exists()


def test_project_name_default_is_derived_from_the_folder(tmp_path: Path) -> None:
    project = render(tmp_path / "My Shop.v2")
    answers = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert answers["project_name"] == "my-shop-v2"


@pytest.mark.parametrize(
    "bad_name",
    ["", "1shop", "Shop", "my shop", "my.shop", "shop;drop", "x" * 31, "ünïcode"],
)
def test_project_name_validator_rejects(tmp_path: Path, bad_name: str) -> None:
    with pytest.raises(ValueError, match="project_name must start with a lowercase"):
        render(tmp_path / "p", project_name=bad_name)
    assert not (tmp_path / "p" / "tests").exists()


@pytest.mark.parametrize("good_name", ["shop", "my-shop_2", "a" * 30])
def test_project_name_validator_accepts(tmp_path: Path, good_name: str) -> None:
    render(tmp_path / "p", project_name=good_name)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("services", ["mysql"]),
        ("services", ["postgres", "oracle"]),
        ("default_provider", "docker"),
        ("isolation", "savepoint"),
        ("ci", "jenkins"),
    ],
)
def test_choice_questions_reject_unknown_values(tmp_path: Path, question: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"Invalid choice for '{question}'"):
        render(tmp_path / "p", **{question: value})


def test_message_after_copy_names_the_test_command() -> None:
    message = copier_config()["_message_after_copy"]
    assert "uv run --with-requirements tests/integration/requirements.txt" in message
    assert "pytest tests/integration" in message
