"""From a test's db_session to its Session, a reader follows fixtures and calls that
go-to-definition resolves (issue 28, item 3): no fixture fetched by a name built at run
time, and the path the harness map gives is the one the code takes, in at most four
files. Each check is also run on a copy broken on purpose, to prove it can fail.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest
from rendering import ALL_SERVICES, render

HARNESS = "tests/integration/harness"
# The fixtures between a test and its Session, each asking for the next by name.
CHAIN = ["db_session", "isolated_database", "database_target", "sql_layers"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("chain") / "shop", services=ALL_SERVICES, async_tests=True
    )


def dynamic_fixture_lookups(harness: Path) -> list[str]:
    """`request.getfixturevalue(...)` calls whose name is not a literal string."""
    found = []
    for path in sorted(harness.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getfixturevalue"
                and not (node.args and isinstance(node.args[0], ast.Constant))
            ):
                found.append(f"{path.relative_to(harness)}:{node.lineno}")
    return found


def fixture_requests(module: Path) -> dict[str, list[str]]:
    """Each fixture function of `module` and the fixtures its parameters name."""
    requests = {}
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            "fixture" in ast.unparse(decorator) for decorator in node.decorator_list
        ):
            requests[node.name] = [argument.arg for argument in node.args.args]
    return requests


def broken_links(fixtures: dict[str, list[str]]) -> list[str]:
    """Links of CHAIN that are not a fixture of the module asking for the next."""
    return [
        f"{name} -> {following}"
        for name, following in itertools.pairwise(CHAIN)
        if following not in fixtures.get(name, [])
    ] + [name for name in CHAIN if name not in fixtures]


def map_chain_files(harness: Path) -> list[str]:
    """The files the harness map names on the path from db_session to its Session."""
    doc = ast.get_docstring(ast.parse((harness / "__init__.py").read_text())) or ""
    _, _, chain = doc.partition("From a test's db_session to its Session")
    return re.findall(r"^    (sql/\w+\.py) ", chain, flags=re.MULTILINE)


def test_no_fixture_is_fetched_by_a_name_built_at_run_time(project: Path) -> None:
    harness = project / HARNESS
    assert dynamic_fixture_lookups(harness) == []
    # Proof that the check sees one: the lookup the SQL fixtures used to make.
    broken = harness / "sql/broken_lookup.py"
    broken.write_text(
        'def target(request, service):\n    return request.getfixturevalue(f"{service}_server")\n'
    )
    assert dynamic_fixture_lookups(harness) == ["sql/broken_lookup.py:2"]
    broken.unlink()


def test_db_session_reaches_the_layers_through_named_fixtures(project: Path) -> None:
    fixtures = fixture_requests(project / HARNESS / "sql/fixtures.py")
    assert broken_links(fixtures) == []
    # database_target's only way to a service's layers is the value it is given.
    assert fixtures["database_target"] == ["database_service", "sql_layers"]
    without_layers = {**fixtures, "database_target": ["database_service", "request"]}
    assert broken_links(without_layers) == ["database_target -> sql_layers"]


def test_the_map_names_the_files_of_the_chain_and_they_are_at_most_four(
    project: Path,
) -> None:
    harness = project / HARNESS
    files = map_chain_files(harness)
    assert files == [
        "sql/fixtures.py",
        "sql/server.py",
        "sql/databases.py",
        "sql/isolation.py",
    ]
    assert all((harness / name).is_file() for name in files)
    # Where the chain's links live: the fixtures and SqlLayers in the first file,
    # the Session's sessionmaker in the last.
    source = {name: (harness / name).read_text() for name in files}
    assert "class SqlLayers" in source["sql/fixtures.py"]
    assert "def worker_database(" in source["sql/databases.py"]
    assert "def engine_for(" in source["sql/server.py"]
    assert 'join_transaction_mode="create_savepoint"' in source["sql/isolation.py"]
    # Proof that a map without the chain is caught.
    init = harness / "__init__.py"
    text = init.read_text()
    init.write_text(text.replace("From a test's db_session to its Session", "Elsewhere"))
    assert map_chain_files(harness) == []
    init.write_text(text)
