"""`copier update` the way users live with it: from local git repositories, offline.

The template is copied at 1.0.0, the user edits and commits, the template changes and
is tagged 2.0.0, the user updates. Template-owned files take the template's changes
and keep the user's; conflicts show; samples and schema.py are the user's alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from generated_suite import clean_environment, run_suite
from rendering import (
    REPO_ROOT,
    SUITE_TEMPLATE,
    commit_all,
    git,
    init_repository,
    release,
    render,
    template_repository,
)

pytestmark = pytest.mark.slow

IT = "tests/integration"
SAMPLES = f"{SUITE_TEMPLATE}/{{% if include_samples %}}samples{{% endif %}}"
PG_SAMPLE = "{% if sql_services %}test_user_repository.py{% endif %}"

# Template changes in 2.0.0: one line the user also edits, one the user leaves alone,
# and a change to a sample (which must not reach the user).
TEMPLATE_2_0_0 = {
    f"{SUITE_TEMPLATE}/harness/readiness.py": ("_MAX_INTERVAL = 1.0", "_MAX_INTERVAL = 0.5"),
    f"{SUITE_TEMPLATE}/harness/settings.py": (
        "_DEFAULT_STARTUP_TIMEOUT = 90.0",
        "_DEFAULT_STARTUP_TIMEOUT = 120.0",
    ),
    f"{SAMPLES}/{PG_SAMPLE}": (
        "def test_unknown_id_is_none(",
        "def test_added_in_template_2(users: UserRepository) -> None:\n"
        "    assert users.count() == 0\n\n\ndef test_unknown_id_is_none(",
    ),
}

USER_TEST = """
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_the_users_own(db_session: Session) -> None:
    assert db_session.execute(text("SELECT 1")).scalar_one() == 1
"""

USER_REDIS_TEST = """
import redis

from .harness.redis.namespace import RedisNamespace


def test_the_new_service_works(redis_client: redis.Redis, redis_namespace: RedisNamespace) -> None:
    redis_client.set(redis_namespace.key("k"), "v")
    assert redis_client.get(redis_namespace.key("k")) == "v"
"""

USER_FIXTURE = '''

@pytest.fixture
def answer() -> int:
    """The user's own fixture, added to a template-owned file."""
    return 42
'''


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return template_repository(tmp_path / "template", "1.0.0")


def copy_and_edit(template: Path, project: Path, *, conflicting: bool = True) -> Path:
    render(project, src=template, vcs_ref="1.0.0", services=["postgres"])
    suite = project / IT
    (suite / "test_my_own.py").write_text(USER_TEST)
    sample = suite / "samples/test_user_repository.py"
    sample.write_text(
        sample.read_text() + "\n\ndef test_users_edit_of_a_sample() -> None:\n    pass\n"
    )
    (suite / "samples/test_order_repository.py").unlink()
    conftest = suite / "conftest.py"
    conftest.write_text(conftest.read_text() + USER_FIXTURE)
    schema = suite / "schema.py"
    schema.write_text(schema.read_text() + "\n# the user's note\n")
    if conflicting:
        readiness = suite / "harness/readiness.py"
        readiness.write_text(
            readiness.read_text().replace("_MAX_INTERVAL = 1.0", "_MAX_INTERVAL = 2.0")
        )
    commit_all(project, "the user's edits")
    return project


ANSWERS_FILE = ".copier-answers.integration-tests.yml"


def update(project: Path, **options: Any) -> None:
    """`copier update -a .copier-answers.integration-tests.yml`, as the README says."""
    copier.run_update(
        project,
        answers_file=ANSWERS_FILE,
        defaults=True,
        overwrite=True,
        quiet=True,
        skip_answered=True,
        **options,
    )


def answers(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((project / ANSWERS_FILE).read_text())
    return loaded


def test_update_merges_template_changes_and_keeps_the_users(template: Path, tmp_path: Path) -> None:
    project = copy_and_edit(template, tmp_path / "shop")
    release(template, "2.0.0", TEMPLATE_2_0_0)

    update(project, unsafe=False)  # no tasks, no migrations: no --trust needed

    suite = project / IT
    assert answers(project)["_commit"] == "2.0.0"
    # the template's change arrived
    assert "_DEFAULT_STARTUP_TIMEOUT = 120.0" in (suite / "harness/settings.py").read_text()
    # the user's edit inside a template-owned file survived
    conftest = (suite / "conftest.py").read_text()
    assert "def answer() -> int:" in conftest
    assert "guest.configure(config)" in conftest
    # a conflicting edit is shown, not dropped
    readiness = (suite / "harness/readiness.py").read_text()
    assert "<<<<<<< before updating" in readiness
    assert "_MAX_INTERVAL = 2.0" in readiness
    assert "_MAX_INTERVAL = 0.5" in readiness
    # samples and schema.py are the user's: edits kept, deletions kept, no template changes
    sample = (suite / "samples/test_user_repository.py").read_text()
    assert "test_users_edit_of_a_sample" in sample
    assert "test_added_in_template_2" not in sample
    assert not (suite / "samples/test_order_repository.py").exists()
    assert (suite / "schema.py").read_text().endswith("# the user's note\n")
    assert (suite / "test_my_own.py").read_text() == USER_TEST


def test_conflict_rej_writes_a_rej_file(template: Path, tmp_path: Path) -> None:
    project = copy_and_edit(template, tmp_path / "shop")
    release(template, "2.0.0", TEMPLATE_2_0_0)
    update(project, conflict="rej")
    # The file takes the template's line; the user's edit waits in the .rej, not lost.
    rejected = (project / IT / "harness/readiness.py.rej").read_text()
    assert "+_MAX_INTERVAL = 2.0" in rejected
    assert "_MAX_INTERVAL = 0.5" in (project / IT / "harness/readiness.py").read_text()


@pytest.mark.parametrize("mode", ["inline", "rej"])
def test_a_conflict_left_unresolved_is_named_before_anything_runs(
    template: Path, tmp_path: Path, suite_python: Path, mode: str
) -> None:
    project = copy_and_edit(template, tmp_path / "shop")
    release(template, "2.0.0", TEMPLATE_2_0_0)
    update(project, conflict=mode)
    conflicted = f"{IT}/harness/readiness.py" + (".rej" if mode == "rej" else "")
    if mode == "inline":  # what the message after update tells users to run
        assert git(project, "diff", "--name-only", "--diff-filter=U").split() == [conflicted]
    doctor = subprocess.run(
        [str(suite_python), f"{IT}/doctor.py"], cwd=project, capture_output=True, text=True
    )
    assert doctor.returncode == 1
    assert conflicted in doctor.stdout
    suite = subprocess.run(
        [str(suite_python), "-m", "pytest", IT], cwd=project, env=clean_environment(),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert suite.returncode == 4, suite.stdout + suite.stderr
    assert "copier update left these files with conflicts" in suite.stderr
    assert conflicted in suite.stderr


# The user's edits and the template's 2.0.0 meet on the same lines: of conftest.py (the
# file users edit most) and of a harness module. Both are code lines, so the markers
# make both files fail to import.
CONFTEST_IMPORT = "from pathlib import Path\n"
MEETING_EDITS = {
    "conftest.py": (CONFTEST_IMPORT, "from pathlib import Path, PurePath\n"),
    "harness/readiness.py": ("_MAX_INTERVAL = 1.0", "_MAX_INTERVAL = 2.0"),
}
MEETING_TEMPLATE_2_0_0 = {
    "conftest.py": (CONFTEST_IMPORT, "from pathlib import Path  # the suite's folder\n"),
    "harness/readiness.py": ("_MAX_INTERVAL = 1.0", "_MAX_INTERVAL = 0.5"),
}


@pytest.mark.slow
@pytest.mark.parametrize("project_dir", [".", "backend"])
def test_a_conflict_in_conftest_py_is_named_before_pytest_imports_it(
    template: Path, tmp_path: Path, suite_python: Path, project_dir: str
) -> None:
    project = render(
        tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["postgres"],
        project_dir=project_dir,
    )  # fmt: skip
    python_project = project / project_dir
    for relative, (old, new) in MEETING_EDITS.items():
        path = python_project / IT / relative
        assert old in path.read_text(), relative
        path.write_text(path.read_text().replace(old, new, 1))
    commit_all(project, "the user's edits")
    release(template, "2.0.0", {
        f"{SUITE_TEMPLATE}/{relative}": change
        for relative, change in MEETING_TEMPLATE_2_0_0.items()
    })  # fmt: skip
    update(project)
    in_conflict = sorted(git(project, "diff", "--name-only", "--diff-filter=U").split())
    prefix = "" if project_dir == "." else f"{project_dir}/"
    assert in_conflict == [f"{prefix}{IT}/{relative}" for relative in MEETING_EDITS]

    # Run as the README says, serial and with xdist, and in pytest's importlib mode.
    for options in ([], ["-n", "2"], ["--import-mode=importlib"]):
        run = subprocess.run(
            [str(suite_python), "-m", "pytest", IT, "-p", "no:randomly", *options],
            cwd=python_project, env=clean_environment(), capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode == 4, output
        assert output.startswith("copier update left these files with conflicts"), output
        listed = [line.strip() for line in output.splitlines() if line.startswith("    ")]
        assert listed == [str(project / path) for path in in_conflict], output
        assert "Traceback" not in output, output
        assert "Error" not in output, output

    # The host's own run is not refused by that check: it fails as before, on the
    # conftest.py it imports, as a collection error (no internal error of pytest).
    host = subprocess.run(
        [str(suite_python), "-m", "pytest", "-p", "no:randomly"],
        cwd=python_project, env=clean_environment(), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert host.returncode == 2, host.stdout + host.stderr
    assert "INTERNALERROR" not in host.stdout + host.stderr
    assert "conflicts" not in host.stdout + host.stderr


def test_updated_project_runs_green_with_the_users_own_test(
    template: Path,
    tmp_path: Path,
    suite_python: Path,
    native_urls: dict[str, str],
) -> None:
    project = copy_and_edit(template, tmp_path / "shop", conflicting=False)
    release(template, "2.0.0", TEMPLATE_2_0_0)
    update(project)
    assert "<<<<<<<" not in git(project, "diff")
    env = clean_environment(IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"])
    result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    result.assert_all_passed(at_least=15)
    assert "test_my_own::test_the_users_own" in result.passed
    assert "samples.test_user_repository::test_users_edit_of_a_sample" in (result.passed)


USER_DATABASE_TEST = """
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_the_new_database_works(db_session: Session) -> None:
    assert db_session.execute(text("SELECT 1")).scalar_one() == 1
"""


def test_adding_a_database_later_gives_a_green_suite(
    template: Path, tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    # Copied with Redis only: no schema.py, no SQL harness, no database samples.
    project = render(tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["redis"])
    suite = project / IT
    (suite / "test_my_cache.py").write_text(USER_REDIS_TEST)
    commit_all(project, "the user's redis test")
    assert not (suite / "schema.py").exists()

    update(project, data={"services": ["redis", "postgres"]}, vcs_ref="1.0.0")

    added = git(project, "ls-files", "--others", "--exclude-standard").split()
    assert f"{IT}/schema.py" in added  # created: the new fixtures need it
    assert any(path.startswith(f"{IT}/harness/sql/") for path in added)
    assert not any(path.startswith(f"{IT}/samples/") for path in added)  # samples are yours
    (suite / "test_my_database.py").write_text(USER_DATABASE_TEST)
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], env=clean_environment(**native_urls)
    )
    result.assert_all_passed(at_least=10)
    assert "test_my_database::test_the_new_database_works" in result.passed
    assert "test_my_cache::test_the_new_service_works" in result.passed


def test_removing_a_service_later_leaves_its_samples_out_of_the_run(
    template: Path, tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = render(
        tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["postgres", "redis"]
    )

    update(project, data={"services": ["postgres"]}, vcs_ref="1.0.0")

    suite = project / IT
    assert not (suite / "harness/redis").exists()
    assert (suite / "samples/test_cache.py").exists()  # the user's, kept
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], env=clean_environment(**native_urls)
    )
    result.assert_all_passed(at_least=15)
    assert not any("test_cache" in name for name in result.passed)


def test_deleting_the_samples_leaves_a_smaller_green_suite(
    template: Path, tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["postgres"])
    shutil.rmtree(project / IT / "samples")
    (project / IT / "test_my_own.py").write_text(USER_TEST)
    commit_all(project, "no samples")
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], env=clean_environment(**native_urls)
    )
    result.assert_all_passed(at_least=1)
    assert result.passed == ["test_my_own::test_the_users_own"]


MISSING_TABLE_TEST = """
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_reads_a_table_nobody_declared(db_session: Session) -> None:
    db_session.execute(text("SELECT * FROM invoices"))
"""


def test_a_missing_table_names_schema_py(
    template: Path, tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["postgres"])
    (project / IT / "test_invoices.py").write_text(MISSING_TABLE_TEST)
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], "-k", "invoices",
        env=clean_environment(**native_urls),
    )  # fmt: skip
    assert result.failed == ["test_invoices::test_reads_a_table_nobody_declared"]
    assert "tests/integration/schema.py" in result.output


def test_recopy_renders_everything_again_with_the_same_answers(
    template: Path, tmp_path: Path
) -> None:
    project = copy_and_edit(template, tmp_path / "shop", conflicting=False)
    copier.run_recopy(
        project,
        answers_file=ANSWERS_FILE,
        defaults=True,
        overwrite=True,
        quiet=True,
        skip_answered=True,
    )
    assert answers(project)["services"] == ["postgres"]
    assert (project / IT / "samples/test_order_repository.py").exists()  # recopy: all back
    assert (project / IT / "test_my_own.py").exists()  # files the template never had stay


# A release that moves a file, for real (0.3.0 -> 0.4.0, docker-compose.yml ->
# compose.yaml): tests/test_update_across_moves.py.


def test_copy_needs_no_trust(template: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    copier.run_copy(str(template), project, defaults=True, quiet=True, unsafe=False)
    assert (project / IT / "conftest.py").exists()


# The last release before this one; its samples import what 0.2.0 moved.
RELEASE_0_1_0 = "561f67b73e05e3f16b5d17c6f30afa051a384a92"


def keep_both_sides(text: str) -> str:
    """Resolve copier's inline conflicts by keeping the template's lines, then yours."""
    ours: list[str] = []
    theirs: list[str] = []
    out: list[str] = []
    side = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<< before updating"):
            side = "ours"
        elif line.startswith("=======") and side:
            side = "theirs"
        elif line.startswith(">>>>>>> after updating"):
            out += theirs + ours
            ours, theirs, side = [], [], ""
        elif side == "ours":
            ours.append(line)
        elif side == "theirs":
            theirs.append(line)
        else:
            out.append(line)
    return "".join(out)


def template_at(commit: str, dst: Path, tag: str) -> Path:
    """A template repository holding this repository's tree at `commit`, tagged."""
    dst.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    init_repository(dst)
    commit_all(dst, f"template {tag}")
    git(dst, "tag", tag)
    return dst


def test_a_project_made_with_0_1_0_updates_to_this_release_and_stays_green(
    tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    template = template_at(RELEASE_0_1_0, tmp_path / "template", "0.1.0")
    project = render(tmp_path / "shop", src=template, vcs_ref="0.1.0", services=["postgres"])
    suite = project / IT
    (suite / "test_my_own.py").write_text(USER_TEST)
    conftest = suite / "conftest.py"
    conftest.write_text(conftest.read_text() + USER_FIXTURE)
    commit_all(project, "the user's edits")
    # This working tree becomes 0.2.0 of the same template repository.
    shutil.rmtree(template / "template")
    shutil.copytree(REPO_ROOT / "template", template / "template")
    shutil.copy(REPO_ROOT / "copier.yml", template / "copier.yml")
    commit_all(template, "template 0.2.0")
    git(template, "tag", "0.2.0")

    update(project)

    assert answers(project)["_commit"] == "0.2.0"
    # 0.2.0 rewrote the end of conftest.py, where the user added a fixture: the one
    # conflict, named; the user keeps both sides, as the markers show.
    assert git(project, "diff", "--name-only", "--diff-filter=U").split() == [f"{IT}/conftest.py"]
    conftest.write_text(keep_both_sides(conftest.read_text()))
    git(project, "add", "-A")
    assert "def answer() -> int:" in conftest.read_text()  # the user's fixture survived
    assert (suite / "pytest.ini").exists()
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], "-n", "2",
        env=clean_environment(**native_urls),
    )  # fmt: skip
    result.assert_all_passed(at_least=15)
    assert "test_my_own::test_the_users_own" in result.passed
    # 0.1.0's samples import the old module paths: they work, and say where they moved.
    assert "harness.postgres.factories.SessionFactory moved to" in result.output
