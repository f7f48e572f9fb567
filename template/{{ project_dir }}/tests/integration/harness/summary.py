"""The run summary at the end of pytest's output: who served each service, how fast."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from .catalog import SPECS
from .endpoints import ServiceEndpoint, masked_url
from .providers.selection import make_provider
from .run_state import RunState
from .service_startup import startup_seconds
from .settings import RunSettings


@dataclass
class Tally:
    """What the run owner counts of the tests' reports (every xdist worker's)."""

    configured_at: float = field(default_factory=time.time)
    first_test_at: float | None = None
    tests_per_service: Counter[str] = field(default_factory=Counter)
    unavailable_tests: defaultdict[str, list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def count(self, report: pytest.TestReport) -> None:
        """A test's call: when the first ran, and which services each used."""
        self.first_test_at = min(self.first_test_at or report.start, report.start)
        for service in SPECS:
            if service in report.keywords:
                self.tests_per_service[service] += 1


def write_summary(
    reporter: pytest.TerminalReporter,
    run: RunState,
    settings: RunSettings,
    tally: Tally,
) -> None:
    endpoints = run.read_endpoints()
    if not endpoints:
        return
    reporter.write_sep("-", f"integration services (run {run.run_id})")
    reporter.write_line(
        f"{'service':<10}{'provider':<16}{'ready':>9}{'tests':>7}  endpoint"
    )
    for name, endpoint in sorted(endpoints.items()):
        reporter.write_line(_row(endpoint, tally.tests_per_service[name]))
        lost = run.lost(name)
        if lost:
            reporter.write_line(f"{'':<35}  {lost.splitlines()[0]}")
    reporter.write_line(_timing(run, tally, list(endpoints.values())))
    for note in dict.fromkeys(run.remembered("notes")):
        reporter.write_line(note)
    for name, tests in sorted(tally.unavailable_tests.items()):
        reporter.write_line(f"{len(tests)} test(s) could not run without {name}:")
        for nodeid in tests:
            reporter.write_line(f"  {nodeid}")
    for hint in _keep_hints(run, settings, list(endpoints.values())):
        reporter.write_line(f"kept for the next run; to remove: {hint}")


def _row(endpoint: ServiceEndpoint, tests: int) -> str:
    if not endpoint.usable:
        provider = endpoint.provider or "-"
        columns = f"{endpoint.service:<10}{provider:<16}{'-':>9}{tests:>7}"
        return f"{columns}  {endpoint.headline}"
    ready = "reused" if endpoint.reused else f"{endpoint.ready_seconds:.2f} s"
    return (
        f"{endpoint.service:<10}{endpoint.provider:<16}{ready:>9}{tests:>7}  "
        f"{masked_url(endpoint.url)}"
    )


def _timing(run: RunState, tally: Tally, endpoints: list[ServiceEndpoint]) -> str:
    startup = startup_seconds(run)
    ready = [e.ready_seconds for e in endpoints if e.usable and not e.reused]
    parts = [f"services up in {startup:.2f} s"]
    if len(ready) > 1:
        parts.append(
            f"slowest alone {max(ready):.2f} s, one after another {sum(ready):.2f} s"
        )
    if tally.first_test_at is not None:
        to_first_test = tally.first_test_at - tally.configured_at
        parts.append(f"first test {to_first_test:.2f} s after pytest start")
    return "; ".join(parts)


def _keep_hints(
    run: RunState, settings: RunSettings, endpoints: list[ServiceEndpoint]
) -> list[str]:
    """Commands that remove kept services: after --it-keep, or after reusing them."""
    kept = {
        e.provider
        for e in endpoints
        if e.usable and e.started_by_suite and (e.reused or settings.keep_services)
    }
    return [make_provider(name, run, settings).keep_hint() for name in sorted(kept)]
