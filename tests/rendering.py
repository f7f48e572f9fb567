"""Render the template with copier's Python API, the way users run `copier copy`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import copier

REPO_ROOT = Path(__file__).resolve().parents[1]
ALL_SERVICES = ["postgres", "mysql", "redis", "rabbitmq"]
# Where the suite lives in the template repository.
SUITE_TEMPLATE = "template/{{ project_dir }}/tests/integration"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def init_repository(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "tests@example.test")
    git(path, "config", "user.name", "Template Tests")
    return path


def commit_all(path: Path, message: str) -> None:
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)


def render(dst: Path, *, src: Path = REPO_ROOT, vcs_ref: str = "HEAD", **answers: Any) -> Path:
    """Render into a git repository at `dst` (created if needed) and commit the result.

    vcs_ref=HEAD makes copier use the working tree, uncommitted changes included.
    """
    if not (dst / ".git").exists():
        init_repository(dst)
    copier.run_copy(
        str(src),
        dst,
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    commit_all(dst, "copier copy")
    return dst


def rendered_files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and "__pycache__" not in path.parts
    }


def template_repository(dst: Path, tag: str) -> Path:
    """A git repository of this template's working tree (uncommitted changes too), tagged."""
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"
    )
    shutil.copytree(REPO_ROOT, dst, ignore=ignored)
    init_repository(dst)
    commit_all(dst, f"template {tag}")
    git(dst, "tag", tag)
    return dst


def release(template: Path, tag: str, edits: dict[str, tuple[str, str]]) -> None:
    """Edit template files (path: (old, new) text replacements), commit and tag."""
    for relative, (old, new) in edits.items():
        path = template / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new))
    commit_all(template, f"template {tag}")
    git(template, "tag", tag)
