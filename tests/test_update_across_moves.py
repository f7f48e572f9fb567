"""`copier update` across the release that moved template-owned files (issue 33, item
2): copied at 0.3.0, a user's edit of a file that 0.4.0 folded into another lands in
its new place, once, and the suite is green. With the template's release tags, as
users have them, copier's migration (hooks/carry_edits.py) carries the edit. Without
tags (a clone or mirror made without them) copier cannot tell which releases the
update crosses and runs no migration: it then says which files moved and how to get
the edits back from git, instead of losing them silently.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from generated_suite import clean_environment, run_suite
from rendering import REPO_ROOT, commit_all, git, render
from server_state import drop_postgres_databases, postgres_databases

pytestmark = pytest.mark.slow

IT = "tests/integration"
PROJECT = "moved"
PREFIX = f"test_{PROJECT}_"
ANSWERS_FILE = ".copier-answers.integration-tests.yml"
PREVIOUS, RELEASE = "0.3.0", "0.4.0"
# What 0.4.0 moved, as copier.yml's _migrations lists it (old path -> new path).
MOVED = {
    f"{IT}/docker-compose.yml": f"{IT}/compose.yaml",
    f"{IT}/harness/sql/layers.py": f"{IT}/harness/sql/fixtures.py",
}
# The user's edit: a service of their own in the compose file.
EDITED = f"{IT}/docker-compose.yml"
USERS_SERVICE = "  mailpit:\n    image: axllent/mailpit\n"


def release_commit(version: str) -> str:
    """The commit a release is (or will be) tagged on: its tag, else the release
    workflow's own plan (.github/scripts/release_tags.py)."""
    tagged = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"refs/tags/{version}^{{commit}}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if tagged.returncode == 0:
        return tagged.stdout.strip()
    sys.path.insert(0, str(REPO_ROOT / ".github/scripts"))
    from release_tags import plan  # a script: found once its folder is on the path

    commits = {str(release.entry.version): release.commit for release in plan(REPO_ROOT)}
    return commits[version]


def template_with_releases(dst: Path, *, tags: bool) -> tuple[Path, str]:
    """This repository's history with the working tree committed on top as 0.4.0;
    tagged 0.3.0 and 0.4.0, or not tagged at all. Returns it and 0.3.0's ref."""
    previous = release_commit(PREVIOUS)
    git(dst.parent, "clone", "-q", "--no-tags", str(REPO_ROOT), dst.name)
    git(dst, "config", "user.email", "tests@example.test")
    git(dst, "config", "user.name", "Template Tests")
    for path in dst.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"
    )
    shutil.copytree(REPO_ROOT, dst, ignore=ignored, dirs_exist_ok=True)
    commit_all(dst, f"template {RELEASE}")
    if not tags:
        return dst, previous
    git(dst, "tag", PREVIOUS, previous)
    git(dst, "tag", RELEASE)
    return dst, PREVIOUS


def copy_and_edit(template: Path, project: Path, ref: str) -> None:
    render(project, src=template, vcs_ref=ref, services=["postgres"], project_name=PROJECT)
    edited = project / EDITED
    edited.write_text(edited.read_text() + USERS_SERVICE)
    commit_all(project, "the user's own service in the compose file")


def copier_update(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`copier update` as the README says, from the command line (its messages)."""
    return subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults", "--skip-answered",
         "--answers-file", ANSWERS_FILE, *options],
        cwd=project, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_with_tags_the_edit_is_carried_to_its_new_place_and_the_suite_is_green(
    tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    template, ref = template_with_releases(tmp_path / "template", tags=True)
    project = tmp_path / PROJECT
    copy_and_edit(template, project, ref)

    updated = copier_update(project, "--trust")  # a migration needs it (CHANGELOG)

    assert updated.returncode == 0, updated.stderr
    assert yaml.safe_load((project / ANSWERS_FILE).read_text())["_commit"] == RELEASE
    for old, new in MOVED.items():
        assert not (project / old).exists(), old
        assert "<<<<<<<" not in (project / new).read_text(), new
    merged = (project / MOVED[EDITED]).read_text()
    assert merged.count(USERS_SERVICE) == 1, merged
    services = subprocess.run(
        ["docker-compose", "-f", str(project / MOVED[EDITED]), "config", "--services"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert set(services.stdout.split()) == {"postgres", "mailpit"}
    url = native_urls["IT_POSTGRES_URL"]
    try:
        result = run_suite(
            project, [str(suite_python), "-m", "pytest"], "-n", "2",
            env=clean_environment(IT_POSTGRES_URL=url),
        )  # fmt: skip
        result.assert_all_passed(at_least=20)
    finally:
        drop_postgres_databases(url, PREFIX)
    assert postgres_databases(url, PREFIX) == set()


def test_without_tags_the_update_says_where_the_edit_is(tmp_path: Path) -> None:
    template, ref = template_with_releases(tmp_path / "template", tags=False)
    project = tmp_path / PROJECT
    copy_and_edit(template, project, ref)

    updated = copier_update(project)  # no migration can run: no --trust needed

    assert updated.returncode == 0, updated.stderr
    said = updated.stdout + updated.stderr
    assert "No git tags found in template" in said
    # One message: which files moved, and the command that shows the edits.
    assert "has no release tags" in said, said
    for old, new in MOVED.items():
        assert f"{old} -> {new}" in said, said
    assert f"git diff HEAD -- {EDITED}" in said, said
    # Never a silent loss: the edit is where the message says.
    shown = git(project, "diff", "HEAD", "--", EDITED)
    assert "mailpit" in shown, shown


def test_without_trust_the_update_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    template, ref = template_with_releases(tmp_path / "template", tags=True)
    project = tmp_path / PROJECT
    copy_and_edit(template, project, ref)

    updated = copier_update(project)

    assert updated.returncode != 0
    assert "--trust" in updated.stderr, updated.stderr
    assert git(project, "status", "--porcelain") == ""
    assert yaml.safe_load((project / ANSWERS_FILE).read_text())["_commit"] == PREVIOUS


def test_an_edit_of_the_folded_module_is_kept_beside_its_new_home(tmp_path: Path) -> None:
    """sql/layers.py was rewritten into sql/fixtures.py, not moved: a 3-way merge would
    mark the whole file as one conflict, so the user's version is kept beside it."""
    template, ref = template_with_releases(tmp_path / "template", tags=True)
    project = tmp_path / PROJECT
    render(project, src=template, vcs_ref=ref, services=["postgres"], project_name=PROJECT)
    layers, fixtures = f"{IT}/harness/sql/layers.py", MOVED[f"{IT}/harness/sql/layers.py"]
    note = "# the user's tweak of the layers\n"
    (project / layers).write_text((project / layers).read_text() + note)
    commit_all(project, "the user's edit of a module 0.4.0 folds into another")

    updated = copier_update(project, "--trust")

    assert updated.returncode == 0, updated.stderr
    assert not (project / layers).exists()
    assert (project / f"{layers}.yours").read_text().endswith(note)
    assert note not in (project / fixtures).read_text()
    assert "<<<<<<<" not in (project / fixtures).read_text()
    said = updated.stdout + updated.stderr
    assert f"{layers} was folded into {fixtures}" in said, said
    assert f"your version is kept as {layers}.yours" in said, said
