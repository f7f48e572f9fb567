"""Throw-away services added to a copy of the template the way CONTRIBUTING.md's "Add a
service" says: one registry entry, a `services` choice and one folder. If a render of
that copy carries them into every derived file, nothing else names a service by hand.

`fake` is a service with an embedded server (whose "wheel" is the standard library's
json, so that doctor.py finds it); `fakedb` is a SQL database. Their code only has to
import: the registry check reads and imports the render, it never runs a suite.
"""

from __future__ import annotations

from pathlib import Path

from registry_check import HARNESS

FAKE_SERVICES = ["fake", "fakedb"]

_ENTRY = """\
    {name}:
      title: Fake {name}
      sql: {sql}
      image: example.test/{name}:1
      image_env: IT_{upper}_IMAGE
      url_env: IT_{upper}_URL
      port: {port}
      url_example: {name}://127.0.0.1:{port}/test
      modules: [json]
      requirements: ["{name}-client>=1,<2"]
      async_requirements: ["{name}-async-client>=1,<2"]
      embedded: "{embedded}"
      embedded_modules: {embedded_modules}
      embedded_commands: []
      embedded_where: "{name}-server: wherever the tests need it"
      async_fixtures: false
      fixtures:
        {name}_service: the {name} server of this run
      async_fixture_names: {{}}
      maintenance_databases: {maintenance}
      url_database: "{url_database}"
      readme: "{name} needs nothing else."
      container:
        environment: {{{upper}_PASSWORD: secret-{name}}}
        command: [{name}-server, --fast-{name}]
        tmpfs: /var/lib/{name}
        healthcheck: {name}-cli ping
        url: {name}://u:secret-{name}@HOST:PORT/test
      ci:
        env: {{{upper}_PASSWORD: ci-{name}}}
        health: {name}-cli ping
        url: "{name}://u:ci-{name}@HOST:{port}/test"
"""

_INIT = '"""A throw-away service of the template\'s registry test."""\n'

_SERVICE = '''\
"""How to reach and probe {name}: it never answers."""

from __future__ import annotations

from ..errors import Cause, ServiceRefusedError
from ..service_spec import ServiceSpec


def probe(url: str, seconds: float) -> None:
    message = f"{{url}}: nothing answers within {{seconds}} s"
    raise ServiceRefusedError(Cause.NOTHING_LISTENS, message)


def check_url(url: str) -> None:
    if not url.startswith("{name}://"):
        raise ValueError(f"{{url}} is not {name}://")


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


{upper} = ServiceSpec.registered(
    "{name}",
    probe=probe,
    check_url=check_url,
    is_connection_error=is_connection_error,
)
'''

_FIXTURES = '''\
"""{name} fixtures."""

from __future__ import annotations

import pytest

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin

__all__ = ["{name}_service"]


@pytest.fixture(scope="session")
def {name}_service(pytestconfig: pytest.Config) -> ServiceEndpoint:
    return integration_plugin(pytestconfig).endpoint("{name}")
'''


def add_fake_services(template: Path) -> None:
    """Register `fake` and `fakedb` in the template copy at `template`."""
    config = template / "copier.yml"
    text = config.read_text()
    choices_end = "    RabbitMQ (names unique per test): rabbitmq\n"
    registry_start = "service_registry:\n  type: yaml\n  when: false\n  default:\n"
    assert choices_end in text, "copier.yml changed its layout"
    assert registry_start in text, "copier.yml changed its layout"
    entries = "".join(
        _ENTRY.format(
            name=name,
            upper=name.upper(),
            sql="true" if name == "fakedb" else "false",
            port=7000 + index,
            embedded=f"{name}-server>=1,<2" if name == "fake" else "",
            embedded_modules="[json]" if name == "fake" else "[]",
            maintenance=f"[{name}_admin]" if name == "fakedb" else "[]",
            url_database=f"{name} connects to {name}_admin." if name == "fakedb" else "",
        )
        for index, name in enumerate(FAKE_SERVICES)
    )
    text = text.replace(
        choices_end,
        choices_end + "".join(f"    Fake {name}: {name}\n" for name in FAKE_SERVICES),
    ).replace(registry_start, registry_start + entries)
    config.write_text(text)
    for name in FAKE_SERVICES:
        folder = template / HARNESS / f"{{% if '{name}' in services %}}{name}{{% endif %}}"
        folder.mkdir()
        (folder / "__init__.py").write_text(_INIT)
        (folder / "service.py").write_text(_SERVICE.format(name=name, upper=name.upper()))
        (folder / "fixtures.py").write_text(_FIXTURES.format(name=name))


def fake_folder_files(template: Path, name: str) -> list[str]:
    folder = template / HARNESS / f"{{% if '{name}' in services %}}{name}{{% endif %}}"
    return sorted(path.name for path in folder.iterdir())
