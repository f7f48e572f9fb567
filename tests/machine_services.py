"""The real services these tests run generated suites against.

../shared/native-services/up makes PostgreSQL, MariaDB, Redis and RabbitMQ answer on loopback
(what a CI job's `services:` would provide); ../shared/offline-docker/up starts a
Docker engine and builds registry-free stand-ins for the official images. Both are
idempotent; .ci/run calls them first and exports what they print, so here they are
only re-run when the variables are missing (a developer's shell).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rendering import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared"


def _provision(script: Path, keys: tuple[str, ...]) -> dict[str, str]:
    if all(key in os.environ for key in keys):
        return {key: os.environ[key] for key in keys}
    if not script.exists():
        raise RuntimeError(f"{script} is missing and {', '.join(keys)} are not set")
    output = subprocess.run(
        [str(script)], capture_output=True, text=True, timeout=900, check=True
    ).stdout
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    missing = [key for key in keys if key not in values]
    if missing:
        raise RuntimeError(f"{script} did not print {', '.join(missing)}:\n{output}")
    return {key: values[key] for key in keys}


def native_service_urls() -> dict[str, str]:
    """IT_*_URL values for the already-running services."""
    values = _provision(
        SHARED / "native-services" / "up",
        ("NATIVE_POSTGRES_URL", "NATIVE_MYSQL_URL", "NATIVE_REDIS_URL", "NATIVE_AMQP_URL"),
    )
    return {
        "IT_POSTGRES_URL": values["NATIVE_POSTGRES_URL"],
        "IT_MYSQL_URL": values["NATIVE_MYSQL_URL"],
        "IT_REDIS_URL": values["NATIVE_REDIS_URL"],
        "IT_AMQP_URL": values["NATIVE_AMQP_URL"],
    }


def container_images() -> dict[str, str]:
    """IT_*_IMAGE overrides pointing at images this machine has (no registry here)."""
    values = _provision(
        SHARED / "offline-docker" / "up",
        (
            "OFFLINE_POSTGRES_IMAGE",
            "OFFLINE_MARIADB_IMAGE",
            "OFFLINE_REDIS_IMAGE",
            "OFFLINE_RABBITMQ_IMAGE",
        ),
    )
    return {
        "IT_POSTGRES_IMAGE": values["OFFLINE_POSTGRES_IMAGE"],
        "IT_MYSQL_IMAGE": values["OFFLINE_MARIADB_IMAGE"],
        "IT_REDIS_IMAGE": values["OFFLINE_REDIS_IMAGE"],
        "IT_RABBITMQ_IMAGE": values["OFFLINE_RABBITMQ_IMAGE"],
    }
