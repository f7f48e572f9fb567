"""Releases: .github/scripts/release_tags.py tags what CHANGELOG.md names, for real.

Each test builds a throw-away repository whose `origin` is a bare repository here,
runs the script as the release workflow does, and reads the tags back with git.
GitHub is unreachable, so `gh release create` is the one stand-in (`--gh`): a script
that records its arguments and notes, and, as `--verify-tag` makes gh do, refuses a
tag that is not on the remote yet.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".github/scripts/release_tags.py"
WORKFLOW = ROOT / ".github/workflows/release.yml"
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}")
INTRO = "# Changelog\n\nReleases are git tags.\n\n```sh\ncopier update\n## not a heading\n```\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "bot@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
GH_STAND_IN = '''\
"""`gh release create`, recorded: GitHub is unreachable from the tests."""
import json, os, subprocess, sys

args = sys.argv[1:]
tag = args[2]
on_remote = subprocess.run(
    ["git", "--git-dir", os.environ["ORIGIN"], "rev-parse", "--verify", f"refs/tags/{tag}"],
    capture_output=True, check=False,
)
if on_remote.returncode != 0:  # what --verify-tag does
    sys.exit(f"tag {tag} doesn't exist in the repo")
with open(args[args.index("--notes-file") + 1]) as notes:
    record = {"args": args, "notes": notes.read()}
with open(os.environ["GH_RECORD"], "a") as out:
    out.write(json.dumps(record) + "\\n")
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV},
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def outside_github_actions() -> dict[str, str]:
    """The environment without GITHUB_ACTIONS, whose error annotation the tests do not read."""
    return {name: value for name, value in os.environ.items() if name != "GITHUB_ACTIONS"}


def changelog(*entries: tuple[str, str]) -> str:
    """CHANGELOG.md with these (heading, body) entries, newest first."""
    return INTRO + "".join(f"\n## {heading}\n\n{body}\n" for heading, body in entries)


class Published:
    """A developer's clone of the template and the remote it pushes to."""

    def __init__(self, root: Path) -> None:
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.gh = root / "gh"
        self.record = root / "gh-record.jsonl"
        git(root, "init", "--quiet", "--bare", str(self.origin))
        git(root, "init", "--quiet", "--initial-branch=main", str(self.work))
        git(self.work, "remote", "add", "origin", str(self.origin))
        self.gh.write_text(f"#!{sys.executable}\n{GH_STAND_IN}")
        self.gh.chmod(0o755)

    def commit(self, message: str, files: dict[str, str]) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.work, "add", "--all")
        git(self.work, "commit", "--quiet", "--message", message)
        return git(self.work, "rev-parse", "HEAD")

    def release(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The script as the workflow runs it, in the clone, pushing to origin."""
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--repo", str(self.work), "--gh", str(self.gh),
             "--remote", "origin", *args],
            env={**outside_github_actions(), **GIT_ENV, "ORIGIN": str(self.origin),
                 "GH_RECORD": str(self.record)},
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip

    def tags(self) -> dict[str, str]:
        """Tag -> commit, as the remote has them."""
        listed = git(self.origin, "tag", "--list")
        return {tag: git(self.origin, "rev-parse", f"{tag}^{{commit}}") for tag in listed.split()}

    def released(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


@pytest.fixture
def published(tmp_path: Path) -> Published:
    """0.1.0 released (tagged by the workflow's last run), then 0.2.0's code."""
    repo = Published(tmp_path)
    repo.commit("0.1.0", {"CHANGELOG.md": changelog(("0.1.0 — 2026-11-21", "- First.")),
                          "template/harness.py": "v1\n"})  # fmt: skip
    assert repo.release().returncode == 0
    repo.record.unlink()
    repo.commit("harness: faster", {"template/harness.py": "v2\n"})
    return repo


NEW_ENTRY = "`copier update` needs no `--trust`.\n\n- Faster: the harness.\n- ### not a heading"


def add_0_2_0(repo: Published) -> str:
    entries = (("0.2.0 — 2026-12-08", NEW_ENTRY), ("0.1.0 — 2026-11-21", "- First."))
    return repo.commit("CHANGELOG 0.2.0", {"CHANGELOG.md": changelog(*entries)})


def test_a_new_heading_is_tagged_on_its_commit_and_released(published: Published) -> None:
    before = published.tags()
    commit = add_0_2_0(published)

    result = published.release()

    assert result.returncode == 0, result.stderr
    assert published.tags() == {**before, "0.2.0": commit}
    assert git(published.origin, "cat-file", "-t", "0.2.0") == "tag"  # annotated
    message = git(published.origin, "tag", "--list", "--format=%(contents)", "0.2.0")
    assert message == f"0.2.0 — 2026-12-08\n\n{NEW_ENTRY}"
    tagger = git(published.origin, "tag", "--list", "--format=%(taggername)", "0.2.0")
    assert tagger == "Release Bot"
    [release] = published.released()
    assert release["notes"] == NEW_ENTRY + "\n"
    args = release["args"]
    notes_file = args[args.index("--notes-file") + 1]
    assert args == ["release", "create", "0.2.0", "--verify-tag", "--title",
                    "0.2.0 — 2026-12-08", "--notes-file", notes_file, "--latest"]  # fmt: skip
    assert not Path(notes_file).exists()


def test_a_pre_release_is_released_as_one_and_not_as_the_latest(published: Published) -> None:
    entries = (("0.2.0rc1 — 2026-12-08", "- Try it."), ("0.1.0 — 2026-11-21", "- First."))
    commit = published.commit("CHANGELOG 0.2.0rc1", {"CHANGELOG.md": changelog(*entries)})

    result = published.release()

    assert result.returncode == 0, result.stderr
    assert published.tags()["0.2.0rc1"] == commit
    [release] = published.released()
    assert release["args"][2] == "0.2.0rc1"
    assert release["args"][-2:] == ["--prerelease", "--latest=false"]


def test_dry_run_prints_the_tag_and_its_notes_and_changes_nothing(published: Published) -> None:
    before = published.tags()
    commit = add_0_2_0(published)

    result = published.release("--dry-run")

    assert result.returncode == 0, result.stderr
    assert f"would tag 0.2.0 on {commit[:7]} CHANGELOG 0.2.0\n" in result.stdout
    assert "release '0.2.0 — 2026-12-08' with notes:\n" in result.stdout
    assert "\n    - Faster: the harness.\n" in result.stdout
    assert published.tags() == before
    assert git(published.work, "tag", "--list") == "0.1.0"
    assert published.released() == []


def test_an_unchanged_changelog_releases_nothing_and_a_rerun_nothing_twice(
    published: Published,
) -> None:
    commit = add_0_2_0(published)
    assert published.release().returncode == 0
    tags = published.tags()

    again = published.release()
    published.commit("harness: after 0.2.0", {"template/harness.py": "v3\n"})
    later = published.release()

    for result in again, later:
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout == "CHANGELOG.md's newest version, 0.2.0, is tagged: nothing to release\n"
        )
    assert published.tags() == tags
    assert tags["0.2.0"] == commit
    assert [release["args"][2] for release in published.released()] == ["0.2.0"]


@pytest.mark.parametrize(
    ("heading", "says"),
    [
        ("Unreleased", "'## Unreleased' is not a release heading; every '## ' heading"),
        ("0.2.0 - 2026-12-08", "'## 0.2.0 - 2026-12-08' is not a release heading"),
        ("0.2.0 — 8 Dec 2026", "'## 0.2.0 — 8 Dec 2026' is not a release heading"),
        ("0.2.x — 2026-12-08", "'0.2.x' is not a canonical PEP 440 version; Copier"),
        ("v0.2.0 — 2026-12-08", "'v0.2.0' is not a canonical PEP 440 version (write 0.2.0)"),
    ],
)
def test_a_heading_that_is_not_a_release_is_refused(
    published: Published, heading: str, says: str
) -> None:
    before = published.tags()
    entries = ((heading, "- Faster."), ("0.1.0 — 2026-11-21", "- First."))
    published.commit("CHANGELOG", {"CHANGELOG.md": changelog(*entries)})

    for result in published.release("--dry-run"), published.release():
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith(f"release: CHANGELOG.md line 10: {says}")
        assert len(result.stderr.splitlines()) == 1
    assert published.tags() == before
    assert published.released() == []


@pytest.mark.parametrize(
    ("newest", "says"),
    [
        (
            "0.2.0",
            "0.2.0 has no tag and is lower than the highest tag, 0.3.0: a new release "
            "must be higher; give its heading a version above 0.3.0",
        ),
        ("0.0.9", "line 14: 0.1.0 comes after 0.0.9 but is not lower: headings go from the"),
        ("0.1.0", "line 14: 0.1.0 comes after 0.1.0 but is not lower: headings go from the"),
    ],
)
def test_a_version_that_goes_backwards_is_refused(
    published: Published, newest: str, says: str
) -> None:
    git(published.work, "tag", "--annotate", "--message=made by hand", "0.3.0")
    git(published.work, "push", "--quiet", "origin", "0.3.0")
    before = published.tags()
    entries = ((f"{newest} — 2026-12-08", "- Faster."), ("0.1.0 — 2026-11-21", "- First."))
    published.commit("CHANGELOG", {"CHANGELOG.md": changelog(*entries)})

    result = published.release()

    assert result.returncode == 1
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert published.tags() == before
    assert published.released() == []


def test_an_older_release_that_lost_its_tag_is_refused_with_what_to_do(
    published: Published,
) -> None:
    add_0_2_0(published)
    assert published.release().returncode == 0
    for repo in published.work, published.origin:
        git(repo, "tag", "--delete", "0.1.0")
    before = published.tags()

    result = published.release()

    assert result.returncode == 1
    assert result.stderr == (
        "release: CHANGELOG.md: 0.1.0 has no tag and is lower than the highest tag, 0.2.0: "
        "an older release lost its tag; tag it again by hand on its release commit "
        "(git tag --annotate 0.1.0 <commit> && git push origin 0.1.0)\n"
    )
    assert published.tags() == before == {"0.2.0": before["0.2.0"]}


def test_the_first_run_tags_each_earlier_version_where_its_entry_was_finished(
    tmp_path: Path,
) -> None:
    repo = Published(tmp_path)
    first = ("0.1.0 — 2026-11-21", "- First.")
    repo.commit("0.1.0 heading", {"CHANGELOG.md": changelog(first), "template/h.py": "1\n"})
    repo.commit("0.1.0 code", {"template/h.py": "2\n"})
    first = ("0.1.0 — 2026-11-21", "- First.\n- Second, with its code.")
    finished_0_1_0 = repo.commit("0.1.0 complete", {"CHANGELOG.md": changelog(first),
                                                    "template/h.py": "3\n"})  # fmt: skip
    repo.commit("0.2.0 code", {"template/h.py": "4\n"})
    second = ("0.2.0 — 2026-12-01", "- Third.")
    finished_0_2_0 = repo.commit("CHANGELOG 0.2.0", {"CHANGELOG.md": changelog(second, first)})
    repo.commit("tests only", {"tests/test_h.py": "\n"})
    fixed = ("0.1.0 — 2026-11-21", "- First.\n- Second, with its code (typo fixed).")
    repo.commit("typo in 0.1.0's entry", {"CHANGELOG.md": changelog(second, fixed)})

    result = repo.release()

    assert result.returncode == 0, result.stderr
    assert repo.tags() == {"0.1.0": finished_0_1_0, "0.2.0": finished_0_2_0}
    old, new = repo.released()
    assert (old["args"][2], old["args"][-1], old["notes"]) == ("0.1.0", "--latest=false",
                                                               fixed[1] + "\n")  # fmt: skip
    assert (new["args"][2], new["args"][-1], new["notes"]) == ("0.2.0", "--latest", "- Third.\n")


def test_a_shallow_clone_is_refused_rather_than_tagged_on_the_wrong_commit(
    published: Published, tmp_path: Path
) -> None:
    """Its only commit looks as if it added the whole CHANGELOG: 0.2.0 would be tagged on
    a later commit than the one that finished its entry."""
    add_0_2_0(published)
    published.commit("tests only", {"tests/test_h.py": "\n"})
    git(published.work, "push", "--quiet", "origin", "HEAD:main")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth=1", "--branch=main",
        f"file://{published.origin}", str(shallow))  # fmt: skip
    git(shallow, "fetch", "--quiet", "--depth=1", "origin", "refs/tags/0.1.0:refs/tags/0.1.0")

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--repo", str(shallow), "--dry-run"],
        env={**outside_github_actions(), **GIT_ENV},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.startswith("release: a shallow clone cannot tell where each version")
    assert "fetch-depth: 0" in result.stderr


def test_this_repository_has_a_release_commit_for_every_changelog_version() -> None:
    """The real CHANGELOG.md and history: every heading parses and finds its commit."""
    if git(ROOT, "rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone has not the history the first release run reads")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--repo", str(ROOT), "--dry-run"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tagged = set(git(ROOT, "tag", "--list").split())
    versions = re.findall(r"^## (\S+) — ", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert "0.2.8" in versions
    untagged = [version for version in versions if version not in tagged]
    planned = re.findall(r"^would tag (\S+) on [0-9a-f]{7,} ", result.stdout, re.MULTILINE)
    assert planned == untagged[::-1]


def test_the_release_workflow_is_pinned_least_privileged_and_clean_under_zizmor() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert {name: job["permissions"] for name, job in jobs.items()} == {
        "check": {"contents": "read"},
        "release": {"contents": "write"},
    }
    steps = [step for job in jobs.values() for step in job["steps"]]
    uses = [f"uses: {step['uses']}" for step in steps if "uses" in step]
    pinned = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert len(pinned) == len(uses) == 4
    assert [line for line in pinned if not PINNED.search(line)] == []
    checkouts = [
        step["with"] for step in steps if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts == [{"fetch-depth": 0, "persist-credentials": False}] * 2
    runs = [step["run"] for step in steps if "run" in step]
    assert all(".github/scripts/release_tags.py" in run for run in runs)
    assert SCRIPT.is_file()
    schema = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    zizmor = Path(sys.executable).with_name("zizmor")
    if not zizmor.exists():
        pytest.skip("zizmor is a dev dependency on Python >= 3.11 only")
    audit = subprocess.run(
        [str(zizmor), "--offline", "--no-config", "--no-ignores", "--strict-collection",
         "--no-progress", "--color", "never", str(WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings" in audit.stdout, audit.stdout
