"""Render the template with copier's Python API, the way users run `copier copy`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import copier
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
ALL_SERVICES = ["postgres", "mysql", "redis", "rabbitmq"]
# Where the suite lives in the template repository.
SUITE_TEMPLATE = "template/{{ project_dir }}/tests/integration"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write each `files` entry (a path relative to `root`: its text), folders too."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def init_repository(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "tests@example.test")
    git(path, "config", "user.name", "Template Tests")
    return path


def commit_all(path: Path, message: str) -> None:
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)


# Where renders of this working tree are kept for the session (tests/conftest.py sets
# it): many modules render the same answers into a folder of the same name.
_render_cache: Path | None = None


def use_render_cache(folder: Path | None) -> Path | None:
    """Keep renders in `folder` from now on (None: render every time); the previous."""
    global _render_cache  # one cache per test session, set by conftest
    previous, _render_cache = _render_cache, folder
    return previous


def render(dst: Path, *, src: Path = REPO_ROOT, vcs_ref: str = "HEAD", **answers: Any) -> Path:
    """Render into a git repository at `dst` (created if needed) and commit the result.

    vcs_ref=HEAD makes copier use the working tree, uncommitted changes included.
    A new folder gets a copy of the session's render of the same answers into a
    folder of the same name (the name is the default project_name), made once.
    """
    if _render_cache is not None and src == REPO_ROOT and vcs_ref == "HEAD" and not dst.exists():
        return _copy_of_cached_render(_render_cache, dst, answers)
    return _render(dst, src=src, vcs_ref=vcs_ref, answers=answers)


def _copy_of_cached_render(cache: Path, dst: Path, answers: dict[str, Any]) -> Path:
    key = json.dumps([dst.name, answers], sort_keys=True)
    rendered = cache / hashlib.sha256(key.encode()).hexdigest()[:16] / dst.name
    cache.mkdir(parents=True, exist_ok=True)
    # xdist workers share the cache: the first renders, the others wait and copy.
    with FileLock(str(rendered.parent) + ".lock", timeout=600):
        if not rendered.exists():
            partial = rendered.parent / "partial" / dst.name
            shutil.rmtree(partial.parent, ignore_errors=True)
            _render(partial, src=REPO_ROOT, vcs_ref="HEAD", answers=answers)
            partial.rename(rendered)
            partial.parent.rmdir()
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(rendered, dst, symlinks=True)
    return dst


def _render(dst: Path, *, src: Path, vcs_ref: str, answers: dict[str, Any]) -> Path:
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
