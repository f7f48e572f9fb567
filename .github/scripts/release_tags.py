# /// script
# requires-python = ">=3.10"
# dependencies = ["packaging>=24,<27"]
# ///
"""Tag the versions that CHANGELOG.md names and publish each as a GitHub release.

Copier reads a template's versions from its git tags (PEP 440): `copier copy` and
`copier update` take the newest, `--vcs-ref 0.2.8` pins one, and `_migrations` run by
comparing them. Without tags Copier falls back to HEAD and calls it
`0.0.0.post<N>.dev0+<sha>`. So the repository tags itself: .github/workflows/release.yml
runs this script on every push to the default branch.

Each `## <version> — <YYYY-MM-DD>` heading of CHANGELOG.md is a release. A version
with no tag yet gets an annotated tag (its message: the heading and the entry) on its
release commit, pushed to the remote, then a GitHub release whose notes are the entry
(`gh release create`). The release commit of a version is the last commit on the
first-parent history that changed its entry while it was the newest one: the commit
that completes the release. For a heading that a push adds, that is the pushed commit
(or the last pushed one that touched the entry); for the versions written before this
workflow existed, it is where their entry was finished, not where the heading first
appeared (0.2.8's heading came with fb01594; its entry and code were completed in
ab90f7c). The notes are the entry as CHANGELOG.md has it now, later corrections included.

Refused, with one message and nothing tagged: a heading that is not in that form or
whose version is not canonical PEP 440, headings not in descending order, and a
version without a tag that is lower than the highest tag (a version must go up).
Running it again tags nothing twice: a version that has a tag is done.

    uv run .github/scripts/release_tags.py --dry-run    # prints what it would do
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

CHANGELOG = "CHANGELOG.md"
HEADING = re.compile(r"## (?P<version>\S+) — (?P<date>\d{4}-\d{2}-\d{2})")
HEADING_FORM = "## <version> — <YYYY-MM-DD> (PEP 440 version, em dash, ISO date)"


class ReleaseError(Exception):
    """What is wrong and what to do, in one message; nothing was tagged."""


@dataclass(frozen=True)
class Entry:
    """One release as CHANGELOG.md describes it."""

    version: Version
    date: str
    notes: str

    @property
    def tag(self) -> str:
        return str(self.version)

    @property
    def title(self) -> str:
        return f"{self.version} — {self.date}"


@dataclass(frozen=True)
class Release:
    """A version to tag: its entry and the commit the tag goes on."""

    entry: Entry
    commit: str


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def sections(text: str) -> list[tuple[int, str, str]]:
    """(line number, heading line, body) of each `## ` section; fenced code is skipped."""
    found: list[tuple[int, str, list[str]]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            found.append((number, line.rstrip(), []))
        elif found:
            found[-1][2].append(line)
    return [(number, line, "\n".join(body).strip()) for number, line, body in found]


def parse_heading(number: int, line: str) -> tuple[Version, str]:
    matched = HEADING.fullmatch(line)
    if matched is None:
        raise ReleaseError(
            f"{CHANGELOG} line {number}: {line!r} is not a release heading; "
            f"every '## ' heading must read {HEADING_FORM}, e.g. '## 0.3.0 — 2026-12-08'"
        )
    text = matched["version"]
    try:
        version = Version(text)
    except InvalidVersion:
        version = None
    if version is None or str(version) != text:
        canonical = f" (write {version})" if version is not None else ""
        raise ReleaseError(
            f"{CHANGELOG} line {number}: {text!r} is not a canonical PEP 440 version"
            f"{canonical}; Copier only sees tags such as 0.3.0, 0.3.0rc1, 1.0.0.post1"
        )
    return version, matched["date"]


def parse_changelog(text: str) -> list[Entry]:
    """The releases, newest first; refuses a bad heading or an order that goes up."""
    entries: list[Entry] = []
    for number, line, body in sections(text):
        version, date = parse_heading(number, line)
        if entries and version >= entries[-1].version:
            raise ReleaseError(
                f"{CHANGELOG} line {number}: {version} comes after {entries[-1].version} but is "
                "not lower: headings go from the newest version down, each version once"
            )
        entries.append(Entry(version, date, body))
    if not entries:
        raise ReleaseError(f"{CHANGELOG} has no release heading ({HEADING_FORM})")
    return entries


def existing_tags(repo: Path) -> dict[Version, str]:
    """The repository's PEP 440 tags by version; other tags are not releases."""
    tags: dict[Version, str] = {}
    for name in git(repo, "tag", "--list").split():
        try:
            tags[Version(name)] = name
        except InvalidVersion:
            continue
    return tags


def newest_section(text: str) -> tuple[str, str] | None:
    """(version as written, heading and body) of the top section, leniently read:
    old commits are history, not something to refuse."""
    found = sections(text)
    if not found:
        return None
    _, line, body = found[0]
    return line.removeprefix("## ").split(" ", 1)[0], f"{line}\n{body}"


def release_commits(repo: Path) -> dict[str, str]:
    """Version -> the last first-parent commit that changed its entry while it was newest."""
    history = git(repo, "rev-list", "--reverse", "--first-parent", "HEAD", "--", CHANGELOG)
    commits: dict[str, str] = {}
    previous: tuple[str, str] | None = None
    for commit in history.split():
        newest = newest_section(git(repo, "show", f"{commit}:{CHANGELOG}"))
        if newest is not None and newest != previous:
            commits[newest[0]] = commit
        previous = newest
    return commits


def backwards_message(entry: Entry, newest: Entry, highest: str) -> str:
    said = f"{CHANGELOG}: {entry.version} has no tag and is lower than the highest tag, {highest}"
    if entry is newest:
        return f"{said}: a new release must be higher; give its heading a version above {highest}"
    return (
        f"{said}: an older release lost its tag; tag it again by hand on its release commit "
        f"(git tag --annotate {entry.tag} <commit> && git push origin {entry.tag})"
    )


def plan(repo: Path) -> list[Release]:
    """The versions to tag, oldest first; refuses a version that goes backwards."""
    entries = parse_changelog((repo / CHANGELOG).read_text(encoding="utf-8"))
    tags = existing_tags(repo)
    untagged = [entry for entry in entries if entry.version not in tags]
    if tags and untagged:
        highest = max(tags)
        backwards = [entry for entry in untagged if entry.version < highest]
        if backwards:
            raise ReleaseError(backwards_message(backwards[0], entries[0], tags[highest]))
    if untagged and git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise ReleaseError(
            "a shallow clone cannot tell where each version's entry was finished: fetch the "
            "whole history (actions/checkout with fetch-depth: 0, or git fetch --unshallow)"
        )
    commits = release_commits(repo) if untagged else {}
    missing = [entry.tag for entry in untagged if entry.tag not in commits]
    if missing:
        raise ReleaseError(
            f"no commit on HEAD's first-parent history has {', '.join(missing)} as the newest "
            f"{CHANGELOG} entry: a heading added below the newest one must be tagged by hand"
        )
    return [Release(entry, commits[entry.tag]) for entry in reversed(untagged)]


def describe(repo: Path, release: Release) -> str:
    subject = git(repo, "log", "-1", "--format=%h %s", release.commit).strip()
    notes = "\n".join(f"    {line}".rstrip() for line in release.entry.notes.splitlines())
    return (
        f"tag {release.entry.tag} on {subject}\n"
        f"release {release.entry.title!r} with notes:\n{notes}"
    )


def tag_and_push(repo: Path, releases: Sequence[Release], remote: str) -> None:
    """Annotated tags, pushed all or none (another run's tag makes the push fail)."""
    for release in releases:
        message = f"{release.entry.title}\n\n{release.entry.notes}\n"
        git(repo, "tag", "--annotate", "--cleanup=verbatim", f"--message={message}",
            release.entry.tag, release.commit)  # fmt: skip
    refs = [f"refs/tags/{release.entry.tag}" for release in releases]
    git(repo, "push", "--atomic", remote, *refs)


def publish(repo: Path, releases: Sequence[Release], gh: str) -> None:
    """A GitHub release per new tag, oldest first. Only the newest final release is marked
    latest; a pre-release is marked as one (Copier, too, skips them without --prereleases)."""
    finals = [release for release in releases if not release.entry.version.is_prerelease]
    for release in releases:
        kind = ["--prerelease"] if release.entry.version.is_prerelease else []
        kind.append("--latest" if finals and release is finals[-1] else "--latest=false")
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as notes:
            notes.write(release.entry.notes + "\n")
        try:
            created = subprocess.run(
                [gh, "release", "create", release.entry.tag, "--verify-tag",
                 "--title", release.entry.title, "--notes-file", notes.name, *kind],
                cwd=repo, capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            Path(notes.name).unlink()
        if created.returncode != 0:
            raise ReleaseError(
                f"tag {release.entry.tag} is pushed but its GitHub release was not created "
                f"({created.stderr.strip()}); create it with: gh release create "
                f"{release.entry.tag} --verify-tag --notes-from-tag"
            )


def run(repo: Path, *, dry_run: bool, remote: str, gh: str) -> None:
    releases = plan(repo)
    if not releases:
        newest = parse_changelog((repo / CHANGELOG).read_text(encoding="utf-8"))[0]
        print(f"{CHANGELOG}'s newest version, {newest.version}, is tagged: nothing to release")
        return
    for release in releases:
        print(("would " if dry_run else "") + describe(repo, release))
    if dry_run:
        return
    tag_and_push(repo, releases, remote)
    publish(repo, releases, gh)
    print(f"tagged and released: {', '.join(release.entry.tag for release in releases)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the repository's root")
    parser.add_argument("--dry-run", action="store_true", help="print what it would do")
    parser.add_argument("--remote", default="origin", help="where the new tags are pushed")
    parser.add_argument("--gh", default="gh", help="the GitHub CLI to create releases with")
    args = parser.parse_args(argv)
    try:
        run(args.repo, dry_run=args.dry_run, remote=args.remote, gh=args.gh)
    except ReleaseError as error:
        annotation = "::error title=release::" if os.environ.get("GITHUB_ACTIONS") else ""
        print(f"{annotation}release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
