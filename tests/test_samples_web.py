"""The web samples of issue 31 in a render with PostgreSQL and MariaDB: the webhook
receiver (in process and behind a real uvicorn server, with a retrying sender), /v1
and /v2 with content negotiation, and the resilient outbound HTTP client against
pytest-httpserver; on both databases, under -n 2, in random order. And each rule
those samples teach, taken out of the sample code, fails the sample test that pins it.

One render, reused; what a test breaks is put back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import git, render

pytestmark = [pytest.mark.slow]

SAMPLES = "tests/integration/samples"
API = f"{SAMPLES}/api"
WEB_TESTS = (
    f"{API}/test_webhooks.py",
    f"{API}/test_webhook_delivery.py",
    f"{API}/test_versions.py",
    f"{SAMPLES}/test_resilient_http.py",
)
DATABASES = ("postgres", "mysql")
CONTRACT = "samples.api.test_api_contract::test_api_honours_its_schema"
NEW_OPERATIONS = ("POST /webhooks/payments", "GET /v1/users/{user_id}", "GET /v2/users/{user_id}")
SEED = 20261207


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("samples-web") / "samples_web",
        project_name="samples_web",
        services=list(DATABASES),
        async_tests=False,
    )


@pytest.fixture
def samples(project: Path) -> Iterator[Path]:
    """The render's samples folder; whatever a test edits there is undone after it."""
    yield project / SAMPLES
    git(project, "checkout", "-q", ".")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def run(
    project: Path, python: Path, urls: dict[str, str], *args: str, paths: tuple[str, ...]
) -> SuiteResult:
    env = clean_environment(
        IT_POSTGRES_URL=urls["IT_POSTGRES_URL"], IT_MYSQL_URL=urls["IT_MYSQL_URL"]
    )
    command = [str(python), "-m", "pytest"]
    return run_suite(project, command, "-n", "2", *args, env=env, paths=paths)


def test_the_web_samples_pass_on_both_databases_in_random_order(
    samples: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = samples.parents[2]
    result = run(
        project, suite_python, native_urls, "-p", "randomly", f"--randomly-seed={SEED}",
        paths=(*WEB_TESTS, f"{API}/test_api_contract.py", f"{SAMPLES}/migrations"),
    )  # fmt: skip

    result.assert_all_passed(at_least=110)
    assert f"Using --randomly-seed={SEED}" in result.output
    for database in DATABASES:
        for name in (
            "test_webhooks::test_a_redelivered_event_is_applied_once",
            "test_webhook_delivery::test_a_503_is_retried_and_the_refund_applied_once",
            "test_versions::test_both_versions_serve_the_same_row",
        ):
            assert f"samples.api.{name}[{database}]" in result.passed
        for operation in NEW_OPERATIONS:
            assert f"{CONTRACT}[{operation}][{database}]" in result.passed
        # The new table is in the samples' history: the migration checks see it
        check = "samples.migrations.test_sample_migrations::test_the_models_match_the_migrations"
        assert f"{check}[{database}]" in result.passed
    breaker = "samples.test_resilient_http::test_a_successful_probe_closes_the_circuit"
    assert breaker in result.passed


# What each edit takes out of the sample code, and the tests that must then fail.
MUTATIONS: list[tuple[str, str, str]] = [
    # The receiver no longer checks the signature
    (f"{API}/webhooks.py",
     "    _check_signature(sign(secret, webhook_id, sent, body), webhook_signature)\n", ""),
    # A tolerance window twice as wide: a 10-minute-old capture replays
    (f"{API}/webhooks.py",
     "if abs(clock - sent) > TOLERANCE_SECONDS:", "if abs(clock - sent) > 2 * TOLERANCE_SECONDS:"),
    # The processed id is not recorded: a redelivery refunds again
    (f"{API}/webhooks.py",
     "    session.add(SampleWebhookDelivery(id=webhook_id, event_type=event.type))\n", ""),
    # A database outage answered with a 4xx: the sender gives up on what would pass later
    (f"{API}/app.py",
     "status_code=status.HTTP_503_SERVICE_UNAVAILABLE", "status_code=status.HTTP_400_BAD_REQUEST"),
    # v1 no longer says that it is deprecated
    (f"{API}/versions.py",
     '    response.headers["Deprecation"] = f"@{V1_DEPRECATED}"\n', ""),
    # No negotiation: JSON for clients that said they cannot read it
    (f"{API}/versions.py", "APIRouter(dependencies=[Depends(json_acceptable)], ", "APIRouter("),
    # A 401 with a fresh token is retried (with a refresh each time): a loop
    (f"{SAMPLES}/resilient_http.py",
     'raise NotAuthorizedError(f"GET {path}: 401 with a fresh token")',
     'raise RetryableError("401")'),
    # Retry-After ignored: our backoff instead of what the server asked
    (f"{SAMPLES}/resilient_http.py",
     "            return error.retry_after\n", "            return self.budget.backoff_seconds\n"),
    # 4xx counted as the service's failures: our own mistakes open the circuit
    (f"{SAMPLES}/resilient_http.py",
     "exclude=[RequestRejectedError, NotAuthorizedError, RateLimitedError]", "exclude=[]"),
]  # fmt: skip

HOOKS, WIRE = "samples.api.test_webhooks::", "samples.api.test_webhook_delivery::"
VERSIONS, CLIENT = "samples.api.test_versions::", "samples.test_resilient_http::"
EXPECTED_FAILURES = {
    f"{HOOKS}test_a_wrong_signature_is_401_and_changes_nothing": DATABASES,
    f"{WIRE}test_a_refused_signature_is_not_retried": DATABASES,
    f"{HOOKS}test_a_replayed_delivery_outside_the_window_is_401": DATABASES,
    f"{HOOKS}test_the_window_is_the_tolerance_either_side_of_our_clock": (
        "postgres-301-False", "postgres--301-False", "mysql-301-False", "mysql--301-False",
    ),
    f"{HOOKS}test_a_signed_refund_is_applied": DATABASES,
    f"{HOOKS}test_a_redelivered_event_is_applied_once": DATABASES,
    f"{WIRE}test_a_503_is_retried_and_the_refund_applied_once": DATABASES,
    f"{HOOKS}test_a_database_outage_is_503_so_that_the_sender_retries": DATABASES,
    f"{VERSIONS}test_v1_says_it_is_deprecated_and_names_its_successor": DATABASES,
    f"{CLIENT}test_a_401_with_a_fresh_token_is_an_error_not_a_loop": ("",),
    f"{CLIENT}test_retry_after_is_waited_for": ("",),
    f"{CLIENT}test_a_retry_after_past_the_budget_ends_the_call_now": ("seconds", "date"),
    f"{CLIENT}test_our_own_mistakes_do_not_open_the_circuit": ("",),
}  # fmt: skip


def expected_failures() -> set[str]:
    names = {
        f"{test}[{param}]" if param else test
        for test, params in EXPECTED_FAILURES.items()
        for param in params
    }
    # Every Accept without JSON, on each version and database
    names |= {
        f"{VERSIONS}test_an_accept_without_json_is_406[{database}-{accept}-{version}]"
        for database in DATABASES
        for accept in ("application/xml", "text/html", "application/json;q=0", "*/*;q=0.0")
        for version in ("v1", "v2")
    }
    return names


def test_each_rule_taken_out_of_the_samples_fails_its_test(
    samples: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = samples.parents[2]
    for path, old, new in MUTATIONS:
        edit(project / path, old, new)

    result = run(project, suite_python, native_urls, paths=WEB_TESTS)

    assert set(result.failed) == expected_failures(), result.summary()
    # The rest still pass: the edits broke what they aimed at, nothing else
    assert len(result.passed) >= 50, result.summary()
