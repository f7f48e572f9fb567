"""Services started in a thread never race collection's imports of their client.

A run that starts its services early (before collection: the forecast, or what the
command used last time) probes them from a thread, and the probe imports the client
package (`import pika`). Collection, meanwhile, imports test modules that import a
part of the same package (`from pika.adapters.blocking_connection import ...`). Two
threads entering a package with import cycles from two ends leave it half-initialised
for one of them: an ImportError in collection, and a probe that fails until the
startup timeout (seen with pika: "partially initialized module"). So the main thread
imports the client packages whole before collection begins. The race itself is a
matter of milliseconds; what this test pins down is that condition: the client package
is whole when the first test module is imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import render

pytestmark = pytest.mark.slow

TESTS = """\
import sys

# Read as collection imports this module, before it imports any of redis itself.
_REDIS = sys.modules.get("redis")
WHOLE_BEFORE_COLLECTION = _REDIS is not None and not _REDIS.__spec__._initializing

from redis import Redis  # noqa: E402
from redis.asyncio import Redis as AsyncRedis  # noqa: E402


def test_the_client_was_imported_whole_before_collection(redis_client: Redis) -> None:
    assert WHOLE_BEFORE_COLLECTION
    assert AsyncRedis is not None
    assert redis_client.ping()
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = render(
        tmp_path_factory.mktemp("client-imports") / "shop",
        services=["redis"],
        include_samples=False,
    )
    (root / "tests/integration/test_client_imports.py").write_text(TESTS)
    return root


def test_a_service_started_before_collection_has_its_client_imported_first(
    project: Path, suite_python: Path, images: dict[str, str]
) -> None:
    env = clean_environment(IT_PROVIDER="testcontainers", **images)
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    # Started early (a first run: the forecast), so the thread and collection overlap.
    assert "started early, as the selected tests' fixtures ask: redis" in result.output
    result.assert_all_passed(at_least=1)
