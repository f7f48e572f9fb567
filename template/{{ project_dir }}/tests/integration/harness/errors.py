"""Errors the harness raises, and the causes it tells users apart.

Each message says what went wrong and what to do. A run reports a service it cannot
have once, under one of these causes; tests that needed it get a one-line reference.
"""

from __future__ import annotations

from enum import Enum


class Cause(Enum):
    """Why a service cannot be had: the first words of its message."""

    IMAGE = "image cannot be pulled"
    NO_DOCKER = "Docker is not available"
    NOTHING_LISTENS = "nothing listens there"
    CREDENTIALS = "credentials refused"
    MISSING = "not found on the server"
    UNSAFE = "not a test target"
    BAD_URL = "URL cannot be used"
    NOT_READY = "did not become ready"
    FAILED_TO_START = "failed to start"
    NO_PROVIDER = "no provider can serve it"
    LOST = "stopped answering during the run"
    OTHER_PROTOCOL = "another protocol answers there"


class IntegrationSetupError(Exception):
    """A service or database could not be provided; the message says what to do."""


class ServiceNotReadyError(IntegrationSetupError):
    """A service was started or named but never answered within the startup timeout."""


class ServiceExitedError(IntegrationSetupError):
    """What the suite started to serve it exited before answering: waiting longer
    cannot help."""


class ServiceRefusedError(IntegrationSetupError):
    """The service answered and said no: waiting longer cannot help."""

    def __init__(self, cause: Cause, message: str) -> None:
        super().__init__(message)
        self.cause = cause


class UnsafeTargetError(IntegrationSetupError):
    """Destructive setup was about to touch something not plainly a test target."""


def first_line(error: BaseException) -> str:
    """ "TypeError: what it says first": an error in one line, for a report."""
    return f"{type(error).__name__}: {next(iter(str(error).splitlines()), '')}"
