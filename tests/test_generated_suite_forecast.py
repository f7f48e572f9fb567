"""The forecast (harness/forecast.py): on a command's first run, the services its tests
need are read from their source so they can start before collection. Checked against
what collection then says (markers.services_used over the collected items) on the
samples and on tests written as users write them: conftest fixtures, classes,
`usefixtures`, database_service parametrized or overridden, `-m`, `--deselect`; and
`getfixturevalue`, which collection cannot see. Where only collection can know (-k),
it forecasts nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from generated_suite import clean_environment
from rendering import ALL_SERVICES, render

pytestmark = pytest.mark.slow

ISOLATION = "tests/integration/samples/test_isolation_strategies.py"
ROLLBACK_TEST = "test_rollback_hides_the_tests_rows_from_other_connections"
# A plugin that prints the forecast for the command it runs in, and what collection
# found the collected tests need.
REPORT_PLUGIN = """
import importlib, json

def pytest_collection_finish(session):
    plugin = session.config.pluginmanager.get_plugin("integration-services")
    package = type(plugin).__module__.rpartition(".")[0]
    forecast = importlib.import_module(package + ".forecast").forecast
    services_used = importlib.import_module(package + ".markers").services_used
    needed = sorted({n for item in session.items for n in services_used(item)})
    print("FORECAST " + json.dumps({"forecast": forecast(session.config), "needed": needed}))
"""
USER_CONFTEST = """
import pytest


@pytest.fixture
def inventory(db_session):
    return db_session


@pytest.fixture
def events(request):
    return request.getfixturevalue("amqp_channel")
"""
USER_TESTS = """
import pytest


class TestInventory:
    pytestmark = pytest.mark.usefixtures("redis_client")

    def test_counts(self, inventory):
        pass


def test_events(events):
    pass


@pytest.mark.parametrize("database_service", ["mysql"])
def test_on_mysql(db_session):
    pass


def test_plain(tmp_path):
    pass
"""
MYSQL_CONFTEST = """
import pytest


@pytest.fixture
def database_service():
    return "mysql"
"""
MYSQL_TESTS = """
def test_engine(db_engine):
    pass
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = render(
        tmp_path_factory.mktemp("forecast") / "shop", services=ALL_SERVICES, async_tests=True
    )
    suite = root / "tests/integration"
    for folder, conftest, tests in [
        ("mine", USER_CONFTEST, USER_TESTS),
        ("on_mysql", MYSQL_CONFTEST, MYSQL_TESTS),
    ]:
        (suite / folder).mkdir()
        (suite / folder / "__init__.py").write_text("")
        (suite / folder / "conftest.py").write_text(conftest)
        (suite / folder / "test_it.py").write_text(tests)
    (root / "forecast_report.py").write_text(REPORT_PLUGIN)
    return root


def forecast_and_needed(project: Path, python: Path, *args: str) -> dict[str, list[str]]:
    completed = subprocess.run(
        [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
         "-p", "forecast_report", *args],
        cwd=project,
        env=clean_environment(PYTHONPATH=str(project)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    line = next((x for x in output.splitlines() if x.startswith("FORECAST ")), None)
    assert line is not None, output[-3000:]
    found: dict[str, list[str]] = json.loads(line.removeprefix("FORECAST "))
    return found


@pytest.mark.parametrize(
    ("args", "needed"),
    [
        (["tests/integration", "-m", "not mysql and not rabbitmq"], ["postgres", "redis"]),
        (["tests/integration/samples/test_http_client.py"], []),
        (["tests/integration/samples/test_cache.py"], ["redis"]),
        ([f"{ISOLATION}::{ROLLBACK_TEST}[mysql]"], ["mysql"]),
        (["tests/integration/test_migrations.py"], []),  # __test__ = <computed>
        (["tests/integration/mine/test_it.py::TestInventory"], ["postgres", "redis"]),
        (["tests/integration/mine/test_it.py::test_on_mysql"], ["mysql"]),
        (["tests/integration/mine/test_it.py::test_plain"], []),
        (["tests/integration/on_mysql"], ["mysql"]),
        (["tests/integration/samples/test_cache.py", "tests/integration/on_mysql",
          "--deselect", "samples/test_cache.py"], ["mysql"]),
    ],
    ids=[
        "suite-markexpr", "http", "redis", "node-id-param", "not-collected",
        "class-usefixtures", "parametrized", "none",
        "overridden-database", "deselect",
    ],
)  # fmt: skip
def test_the_forecast_is_what_collection_then_needs(
    project: Path, suite_python: Path, args: list[str], needed: list[str]
) -> None:
    found = forecast_and_needed(project, suite_python, *args)
    assert found["needed"] == needed  # the case tests what it says
    assert found["forecast"] == needed


def test_a_fixture_asked_for_by_name_is_forecast_too(project: Path, suite_python: Path) -> None:
    # request.getfixturevalue("amqp_channel"): collection cannot see it (the test
    # starts RabbitMQ when it asks); the source says it, so it starts sooner.
    found = forecast_and_needed(
        project, suite_python, "tests/integration/mine/test_it.py::test_events"
    )
    assert found == {"forecast": ["rabbitmq"], "needed": []}


def test_a_computed_database_choice_is_left_to_collection(
    project: Path, suite_python: Path
) -> None:
    # parametrize("database_service", CHOICES): the source does not say which.
    computed = project / "tests/integration/mine/test_computed.py"
    computed.write_text(
        'import pytest\nCHOICES = ["my" + "sql"]\n\n\n'
        '@pytest.mark.parametrize("database_service", CHOICES)\n'
        "def test_on_computed(db_session):\n    pass\n"
    )
    try:
        found = forecast_and_needed(project, suite_python, str(computed))
    finally:
        computed.unlink()
    assert found == {"forecast": [], "needed": ["mysql"]}


def test_with_a_keyword_selection_it_forecasts_nothing(project: Path, suite_python: Path) -> None:
    # -k matches names (parameter ids too) that only collection makes.
    found = forecast_and_needed(
        project, suite_python, "tests/integration/mine", "-k", "TestInventory"
    )
    assert found["needed"] == ["postgres", "redis"]
    assert found["forecast"] == []
