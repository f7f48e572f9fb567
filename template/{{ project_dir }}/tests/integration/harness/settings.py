"""Run-time choices: pytest options, their environment-variable twins, defaults.

Every option has an environment variable twin so that CI jobs and `tox`/`nox`
sessions can set them without touching the command line. The option wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from . import answers
from .deprecated import ISOLATION_ALIASES, isolation_name

PROVIDERS = ("auto", "testcontainers", "compose", "external", "embedded")
ISOLATIONS = ("rollback", "delete", "fresh")
_TRUTHY = frozenset({"1", "true", "yes", "on"})
_DEFAULT_STARTUP_TIMEOUT = 90.0
_DEFAULT_CALL_TIMEOUT = 30.0
_DEFAULT_CONNECT_TIMEOUT = 10.0


def env_flag(name: str) -> bool:
    """Read a boolean environment variable the way CI systems write them."""
    return os.environ.get(name, "").strip().lower() in _TRUTHY


@dataclass(frozen=True)
class RunSettings:
    """Choices that hold for the whole pytest run."""

    provider: str
    # CI=true or --it-require-services: a missing service fails, never skips.
    require_services: bool
    keep_services: bool
    check_leaks: bool
    # Seconds a service may take to become ready, whoever provides it.
    startup_timeout: float
    # Seconds one call to a service (a query, a command, a publish) may block.
    call_timeout: float
    # Seconds opening one connection may take.
    connect_timeout: float
    # The database isolation of a test without an `isolation` marker.
    isolation: str = answers.DEFAULT_ISOLATION

    @property
    def lock_timeout(self) -> float:
        """Waiting for another run or worker to build something is start-up time."""
        return self.startup_timeout


def add_options(parser: pytest.Parser) -> None:
    """Register the --it-* options (effective when this conftest loads early)."""
    group = parser.getgroup("integration", "integration tests (tests/integration)")
    group.addoption(
        "--it-provider",
        choices=PROVIDERS,
        default=None,
        help="where services come from [env IT_PROVIDER; default auto]",
    )
    group.addoption(
        "--it-require-services",
        action="store_true",
        default=None,
        help="a missing service fails the tests instead of skipping them "
        "[env IT_REQUIRE_SERVICES; on by default when CI=true]",
    )
    group.addoption(
        "--it-keep",
        action="store_true",
        default=None,
        help="leave services running for the next run, which reuses them [env IT_KEEP]",
    )
    group.addoption(
        "--it-startup-timeout",
        default=None,
        metavar="SECONDS",
        help="seconds a service may take to become ready, whoever provides it "
        "[env IT_STARTUP_TIMEOUT; default 90]",
    )
    group.addoption(
        "--it-call-timeout",
        default=None,
        metavar="SECONDS",
        help="seconds one call to a service (query, command, publish) may block "
        "[env IT_CALL_TIMEOUT; default 30]",
    )
    group.addoption(
        "--it-connect-timeout",
        default=None,
        metavar="SECONDS",
        help="seconds opening one connection may take "
        "[env IT_CONNECT_TIMEOUT; default 10]",
    )
    group.addoption(
        "--it-isolation",
        choices=(*ISOLATIONS, *ISOLATION_ALIASES),
        default=None,
        help="database isolation of tests without an isolation marker "
        f"[env IT_ISOLATION; default {answers.DEFAULT_ISOLATION}, the copier answer]",
    )
    group.addoption(
        "--it-check-leaks",
        action="store_true",
        default=None,
        help="fail a test that leaves rows behind in its database [env IT_CHECK_LEAKS]",
    )


def _flag(config: pytest.Config, option: str, env: str) -> bool:
    value = config.getoption(option, default=None)
    return bool(value) if value is not None else env_flag(env)


def _seconds(config: pytest.Config, option: str, env: str, default: float) -> float:
    value: object = config.getoption(option, default=None)
    raw = str(value) if value is not None else os.environ.get(env, "")
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise pytest.UsageError(
            f"--{option.replace('_', '-')} / {env} must be a number of seconds > 0, "
            f"got {raw!r}"
        )
    return seconds


def read_settings(config: pytest.Config) -> RunSettings:
    """Resolve options, environment variables and generated defaults, once per run."""
    provider = config.getoption("it_provider", default=None) or os.environ.get(
        "IT_PROVIDER", "auto"
    )
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise pytest.UsageError(
            f"IT_PROVIDER must be one of {', '.join(PROVIDERS)}; got {provider!r}"
        )
    return RunSettings(
        provider=provider,
        isolation=_isolation(config),
        require_services=_flag(config, "it_require_services", "IT_REQUIRE_SERVICES")
        or env_flag("CI"),
        keep_services=_flag(config, "it_keep", "IT_KEEP"),
        check_leaks=_flag(config, "it_check_leaks", "IT_CHECK_LEAKS"),
        startup_timeout=_seconds(
            config, "it_startup_timeout", "IT_STARTUP_TIMEOUT", _DEFAULT_STARTUP_TIMEOUT
        ),
        call_timeout=_seconds(
            config, "it_call_timeout", "IT_CALL_TIMEOUT", _DEFAULT_CALL_TIMEOUT
        ),
        connect_timeout=_seconds(
            config, "it_connect_timeout", "IT_CONNECT_TIMEOUT", _DEFAULT_CONNECT_TIMEOUT
        ),
    )


def _isolation(config: pytest.Config) -> str:
    """--it-isolation, else IT_ISOLATION, else the copier answer."""
    chosen = config.getoption("it_isolation", default=None) or os.environ.get(
        "IT_ISOLATION", ""
    )
    isolation = str(chosen).strip().lower() or answers.DEFAULT_ISOLATION
    where = (
        "--it-isolation / IT_ISOLATION"
        if chosen
        else "the copier answer (`copier update --data isolation=...` changes it)"
    )
    # An old name is kept as given (tests may compare db_isolation.strategy to it).
    if isolation_name(isolation, where) not in ISOLATIONS:
        raise pytest.UsageError(
            f"IT_ISOLATION must be one of {', '.join(ISOLATIONS)}; got {chosen!r}"
        )
    return isolation
