"""Carry a user's edits of a template-owned file over to its new path after a rename.

Copier runs this as an `after` migration of the template version that moved a file:

    _migrations:
      - version: "X.Y.Z"
        command: "{{ _copier_python }} {{ _copier_conf.src_path }}/hooks/carry_edits.py OLD NEW"

`copier update` does not know that OLD became NEW: it deletes OLD, with the user's
edits, and writes NEW as the template has it. This script 3-way merges the edits into
NEW, the way copier merges an unrenamed file:

    yours     OLD as committed in the project (git HEAD)
    base      OLD as the previous template version rendered it (rendered again here)
    template  NEW as the update just wrote it

Where both changed the same lines, NEW gets conflict markers, never a silent loss.
Needs `copier update --trust`, like every migration.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import copier
import yaml

ANSWERS_FILE = ".copier-answers.integration-tests.yml"


def committed(path: str) -> str | None:
    """`path` as the project's HEAD has it, or None when it is not there."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def previous_render(path: str) -> str | None:
    """`path` as the template version recorded at HEAD rendered it, with the same answers."""
    recorded = committed(ANSWERS_FILE)
    if recorded is None:
        return None
    answers: dict[str, Any] = yaml.safe_load(recorded)
    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory() as scratch:
        copier.run_copy(
            answers["_src_path"],
            scratch,
            data=data,
            vcs_ref=answers["_commit"],
            defaults=True,
            quiet=True,
        )
        rendered = Path(scratch, path)
        return rendered.read_text() if rendered.exists() else None


# Below this share of lines in common, NEW is not OLD moved but OLD rewritten into
# something else (a module folded into another): a 3-way merge would mark the whole
# file as one conflict, so your version is set beside it instead.
_MOVED_NOT_REWRITTEN = 0.5


def carry(old: str, new: str) -> int:
    yours = committed(old)
    if yours is None:
        return 0  # not in the project (another answer, or deleted by you)
    base = previous_render(old)
    target = Path(new)
    if base is None or yours == base or not target.exists():
        return 0  # unknown, or never edited: nothing to carry
    if _similarity(base, target.read_text()) < _MOVED_NOT_REWRITTEN:
        kept = Path(f"{old}.yours")
        kept.write_text(yours)
        print(
            f"carry_edits: {old} was folded into {new} and rewritten, so your edits "
            f"of it cannot be merged there: your version is kept as {kept} "
            f"(`git diff HEAD -- {old}` shows your changes); port them by hand, then "
            f"delete {kept}."
        )
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        yours_file = Path(scratch, "yours")
        base_file = Path(scratch, "base")
        yours_file.write_text(yours)
        base_file.write_text(base)
        merged = subprocess.run(
            ["git", "merge-file", "-p", "-L", f"your {old}", "-L", "previous template",
             "-L", f"template {new}", str(yours_file), str(base_file), str(target)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if merged.returncode < 0 or merged.returncode > 127:
        print(f"carry_edits: git merge-file failed: {merged.stderr}", file=sys.stderr)
        return 1
    target.write_text(merged.stdout)
    conflicts = merged.returncode
    state = f"{conflicts} conflict(s) marked in it" if conflicts else "merged cleanly"
    print(f"carry_edits: your edits of {old} were carried to {new}: {state}")
    return 0


def _similarity(first: str, second: str) -> float:
    lines = difflib.SequenceMatcher(None, first.splitlines(), second.splitlines(), autojunk=False)
    return lines.ratio()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: carry_edits.py OLD_PATH NEW_PATH")
    raise SystemExit(carry(sys.argv[1], sys.argv[2]))
