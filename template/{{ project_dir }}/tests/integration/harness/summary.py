"""The run summary at the end of pytest's output: who served each service, how fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .endpoints import ServiceEndpoint, masked_url
from .providers.selection import make_provider
from .service_startup import startup_seconds

if TYPE_CHECKING:
    from .plugin import IntegrationPlugin


def write_summary(reporter: pytest.TerminalReporter, plugin: IntegrationPlugin) -> None:
    endpoints = plugin.run.read_endpoints()
    if not endpoints:
        return
    reporter.write_sep("-", f"integration services (run {plugin.run.run_id})")
    reporter.write_line(
        f"{'service':<10}{'provider':<16}{'ready':>9}{'tests':>7}  endpoint"
    )
    for name, endpoint in sorted(endpoints.items()):
        reporter.write_line(_row(endpoint, plugin.tests_per_service[name]))
        lost = plugin.run.lost(name)
        if lost:
            reporter.write_line(f"{'':<35}  {lost.splitlines()[0]}")
    reporter.write_line(_timing(plugin, list(endpoints.values())))
    for note in dict.fromkeys(plugin.run.remembered("notes")):
        reporter.write_line(note)
    for name, tests in sorted(plugin.unavailable_tests.items()):
        reporter.write_line(f"{len(tests)} test(s) could not run without {name}:")
        for nodeid in tests:
            reporter.write_line(f"  {nodeid}")
    for hint in _keep_hints(plugin, list(endpoints.values())):
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


def _timing(plugin: IntegrationPlugin, endpoints: list[ServiceEndpoint]) -> str:
    startup = startup_seconds(plugin.run)
    ready = [e.ready_seconds for e in endpoints if e.usable and not e.reused]
    parts = [f"services up in {startup:.2f} s"]
    if len(ready) > 1:
        parts.append(
            f"slowest alone {max(ready):.2f} s, one after another {sum(ready):.2f} s"
        )
    if plugin.first_test_at is not None:
        to_first_test = plugin.first_test_at - plugin.configured_at
        parts.append(f"first test {to_first_test:.2f} s after pytest start")
    return "; ".join(parts)


def _keep_hints(
    plugin: IntegrationPlugin, endpoints: list[ServiceEndpoint]
) -> list[str]:
    """Commands that remove kept services: after --it-keep, or after reusing them."""
    keeping = plugin.settings.keep_services
    kept = {
        e.provider
        for e in endpoints
        if e.usable and e.started_by_suite and (e.reused or keeping)
    }
    run, settings = plugin.run, plugin.settings
    return [make_provider(name, run, settings).keep_hint() for name in sorted(kept)]
