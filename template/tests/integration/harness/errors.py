"""Errors the harness raises. Each message says what went wrong and what to do."""

from __future__ import annotations


class IntegrationSetupError(Exception):
    """A service or database could not be provided; the message says what to do."""


class ServiceNotReadyError(IntegrationSetupError):
    """A service was started or named but never answered within the startup timeout."""


class UnsafeTargetError(IntegrationSetupError):
    """Destructive setup was about to touch something not plainly a test target."""
