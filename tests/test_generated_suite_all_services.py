"""PostgreSQL, Redis, RabbitMQ and HTTP together: every generated test, for real.

External (already-running servers) and testcontainers, -n 2; afterwards no test keys
in Redis and no test queues or exchanges on the broker; random order changes nothing
(three seeds, the first in the async external run);
a run imports the client library of no service its tests do not use.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import ALL_SERVICES, render
from server_state import RunWatch, rabbitmq_objects, redis_keys

pytestmark = pytest.mark.slow

# A project name of its own: its runs are told apart from the runs that other tests
# make on the same servers meanwhile (RunWatch), and only their names are counted.
PROJECT = "allsvc"

# Generated tests when all services and samples are rendered, sync only and with async.
AT_LEAST = {False: 55, True: 75}
ONE_SQL_TEST = "test_added_user_can_be_read_back"
# pytest-randomly's seeds of the random-order runs.
SEEDS = (1, 2, 3)
# The client libraries of each service (sync and asyncio).
CLIENTS = {
    "postgres": {"psycopg"},
    "mysql": {"pymysql", "aiomysql"},
    "redis": {"redis"},
    "rabbitmq": {"pika", "aio_pika"},
}
# A pytest plugin that writes the top-level modules imported by the end of the run.
MODULES_PLUGIN = """
import json, os, sys

def pytest_unconfigure(config):
    with open(os.environ["MODULES_REPORT"], "w") as report:
        json.dump(sorted({name.partition(".")[0] for name in sys.modules}), report)
"""


@pytest.fixture(scope="module", params=[False, True], ids=["sync", "async"])
def async_tests(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, async_tests: bool) -> Path:
    return render(
        tmp_path_factory.mktemp("all") / PROJECT, services=ALL_SERVICES, async_tests=async_tests
    )


def test_external_services_pass_and_are_left_clean(
    project: Path, suite_python: Path, native_urls: dict[str, str], async_tests: bool
) -> None:
    env = clean_environment(**native_urls)
    # The async run is also the first of the random orders (see below); the sync
    # render's tests run in file order here and, with the async ones, in containers.
    order = ("-p", "randomly", f"--randomly-seed={SEEDS[0]}") if async_tests else ()
    with RunWatch(PROJECT) as run:
        result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", *order, env=env)
    result.assert_all_passed(at_least=AT_LEAST[async_tests])
    if async_tests:
        assert f"Using --randomly-seed={SEEDS[0]}" in result.output
    for service in ("postgres", "redis", "rabbitmq"):
        assert re.search(rf"^{service}\s+external\s", result.output, re.M), service
    # Nothing named after this run is left (the names of runs beside it are theirs).
    assert run.names_of_runs(redis_keys(native_urls["IT_REDIS_URL"])) == []
    assert run.names_of_runs(rabbitmq_objects()) == []


# The async render holds every test of the sync one (the same files, plus async ones):
# its orders cover both.
@pytest.mark.parametrize("async_tests", [True], ids=["async"], scope="module")
# Three orders (each a whole run, ~20 s of the template's CI): five found nothing more.
# The first is the async run of test_external_services_pass_and_are_left_clean.
@pytest.mark.parametrize("seed", SEEDS[1:])
def test_random_order_changes_nothing(
    project: Path, suite_python: Path, native_urls: dict[str, str], seed: int, async_tests: bool
) -> None:
    env = clean_environment(**native_urls)
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest"],
        "-n", "2", "-p", "randomly", f"--randomly-seed={seed}",
        env=env,
    )  # fmt: skip
    result.assert_all_passed(at_least=AT_LEAST[async_tests])
    assert f"Using --randomly-seed={seed}" in result.output


# The async render holds every test of the sync one; against external services both
# renders run (test_external_services_pass_and_are_left_clean).
@pytest.mark.docker
@pytest.mark.parametrize("async_tests", [True], ids=["async"], scope="module")
def test_containers_start_concurrently_and_the_suite_passes(
    project: Path, suite_python: Path, images: dict[str, str], async_tests: bool
) -> None:
    env = clean_environment(IT_PROVIDER="testcontainers", **images)
    result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    result.assert_all_passed(at_least=AT_LEAST[async_tests])
    timing = re.search(
        r"services up in ([\d.]+) s; slowest alone ([\d.]+) s, "
        r"one after another ([\d.]+) s; first test ([\d.]+) s",
        result.output,
    )
    assert timing, result.output[-3000:]
    # No bound on the first test's moment: a test waits only for its own services, so
    # it may start before the slowest (RabbitMQ) answers (CI of 2026-12-06: first test
    # at 15.45 s, all services up after 18.69 s); test_generated_suite_waits_per_service.
    wall, slowest, one_by_one, _ = map(float, timing.groups())
    # Concurrent start: the wall time is near the slowest service, not the sum.
    assert wall < slowest + 0.5 * (one_by_one - slowest), timing.group(0)


@pytest.mark.parametrize(
    ("selected", "uses"),
    [
        ("samples/test_http_client.py", set()),
        (f"samples/test_user_repository.py::{ONE_SQL_TEST}[postgres]", {"postgres"}),
        ("samples/test_cache.py", {"redis"}),
    ],
    ids=["http", "postgres", "redis"],
)
def test_a_run_imports_only_the_clients_its_tests_use(
    project: Path,
    suite_python: Path,
    native_urls: dict[str, str],
    tmp_path: Path,
    selected: str,
    uses: set[str],
) -> None:
    # Importing redis-py alone took 0.16 s of a 1.3 s one-test run (issue 16).
    (tmp_path / "modules_report_plugin.py").write_text(MODULES_PLUGIN)
    report = tmp_path / "modules.json"
    env = clean_environment(**native_urls, PYTHONPATH=str(tmp_path), MODULES_REPORT=str(report))
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest"],
        "-p", "modules_report_plugin",
        env=env,
        paths=(f"tests/integration/{selected}",),
    )  # fmt: skip
    assert result.returncode == 0, result.output[-3000:]
    imported = set(json.loads(report.read_text()))
    for service, clients in CLIENTS.items():
        loaded = clients & imported
        if service in uses:
            assert loaded, f"{selected}: {service}'s client was never imported"
        else:
            assert not loaded, f"{selected} imported {sorted(loaded)}, for {service}"


def test_loading_the_harness_imports_no_client_and_no_sqlalchemy(
    project: Path, suite_python: Path
) -> None:
    """A command run before starts its services once harness/plugin.py is loaded: the
    service modules it imports must not pull in SQLAlchemy or a client library (that
    was ~0.1 s before every container of a cold start, issue 16). The fixture modules
    every run registers leave factory-boy (and Faker) to the tests that use a factory.
    What the services name to import while they start (first_use_imports) exists."""
    heavy = {"sqlalchemy", "docker", "testcontainers"} | set().union(*CLIENTS.values())
    script = (
        "import importlib, json, sys; sys.path.insert(0, 'tests'); "
        "top = lambda: sorted({name.partition('.')[0] for name in sys.modules}); "
        "import integration.harness.plugin; "
        "plugin = top(); "
        "from integration.harness.catalog import SPECS, fixture_modules; "
        "fixture_modules(); "
        "fixtures = top(); "
        "warmed = [importlib.import_module(m).__name__ "
        "for spec in SPECS.values() for m in spec.first_use_imports]; "
        "print(json.dumps([plugin, fixtures, warmed]))"
    )
    result = subprocess.run(
        [str(suite_python), "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env=clean_environment(),
    )
    plugin, fixtures, warmed = json.loads(result.stdout)
    assert heavy & set(plugin) == set()
    assert "sqlalchemy" in fixtures  # the SQL fixtures are there, without these:
    assert {"factory", "faker"} & set(fixtures) == set()
    assert len(warmed) >= 2  # PostgreSQL's and MySQL's SQLAlchemy dialects
