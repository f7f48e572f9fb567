"""Which thread of a generated suite's pytest first imported which client module.

Two threads importing a package with import cycles at once can leave it half-made
for one of them ("partially initialized module"), so the harness imports client
packages on the main thread only, and its own threads (named `integration-*`) wait
for that. `plugin_env` puts a pytest plugin on the suite's path that records, with
an audit hook, the thread behind every first import of a watched package's modules
(by an import statement: importlib.import_module raises no audit event for the name
it is given, only for what that module's own statements import).
"""

from __future__ import annotations

from pathlib import Path

WATCHED = ("psycopg", "pymysql", "redis", "pika", "sqlalchemy")
PLUGIN = f"""\
import os
import sys
import threading

_WATCHED = {set(WATCHED)!r}
_seen = []


def _hook(event, args):
    if event == "import" and args[0].partition(".")[0] in _WATCHED:
        if args[0] not in sys.modules:  # a first import, not a lookup
            _seen.append(f"{{threading.current_thread().name}} {{args[0]}}")


sys.addaudithook(_hook)


def pytest_unconfigure(config):
    with open(os.environ["IMPORT_AUDIT_FILE"] + f".{{os.getpid()}}", "w") as out:
        out.write("\\n".join(_seen))
"""


def plugin_env(directory: Path) -> dict[str, str]:
    """Environment for run_suite (with `-p import_audit`); records go to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "import_audit.py").write_text(PLUGIN)
    return {"PYTHONPATH": str(directory), "IMPORT_AUDIT_FILE": str(directory / "imports")}


def first_imports(directory: Path) -> list[tuple[str, str]]:
    """(thread, module) for each watched module's first import, in every pytest
    process of the run; the records are removed, ready for the next run."""
    found = []
    for record in sorted(directory.glob("imports.*")):
        found += [tuple(line.split(" ", 1)) for line in record.read_text().splitlines()]
        record.unlink()
    return [(thread, module) for thread, module in found]


def assert_main_thread_only(directory: Path, expected: tuple[str, ...] = ("sqlalchemy",)) -> None:
    """No harness thread (nor any other) imported a watched module first; the
    `expected` packages were imported (so the records are there to read)."""
    imports = first_imports(directory)
    by_thread = [(thread, module) for thread, module in imports if thread != "MainThread"]
    assert by_thread == [], by_thread[:5]
    packages = {module.partition(".")[0] for _, module in imports}
    assert set(expected) <= packages, imports[:5]
