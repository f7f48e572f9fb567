"""A service is one registry entry and one folder: a copy of the template with two
throw-away services added that way (tests/fake_service.py, CONTRIBUTING.md's "Add a
service") renders them into every derived file. And the check that says so fails when a
hand-written list of services comes back into any of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_service import FAKE_SERVICES, add_fake_services, fake_folder_files
from registry_check import render_problems, source_problems
from rendering import SUITE_TEMPLATE, commit_all, template_repository


@pytest.fixture
def with_fakes(tmp_path: Path) -> Path:
    template = template_repository(tmp_path / "template", "1.0.0")
    add_fake_services(template)
    commit_all(template, "fake services")
    return template


def test_a_fake_service_is_one_entry_and_one_small_folder(with_fakes: Path) -> None:
    assert source_problems(with_fakes) == []
    for name in FAKE_SERVICES:
        assert fake_folder_files(with_fakes, name) == ["__init__.py", "fixtures.py", "service.py"]


def test_every_derived_file_carries_the_fake_services(with_fakes: Path, tmp_path: Path) -> None:
    assert render_problems(with_fakes, FAKE_SERVICES, tmp_path / "render") == []


# Hand-written lists as they were before the registry drove everything (issue 28).
HAND_LISTS = {
    "catalog's SQL databases": (
        f"{SUITE_TEMPLATE}/harness/catalog.py.jinja",
        "= ({{ sql_services | map('tojson') | join(', ') }}",
        "= tuple({{ services | select('in', ['postgres', 'mysql']) | list | tojson }}) #",
        "fakedb: catalog's SQL_SERVICES says sql=False",
    ),
    "doctor's embedded servers": (
        f"{SUITE_TEMPLATE}/doctor.py",
        "    return bool(wheels or servers)",
        '    return bool(wheels or servers) and entry.title in ("PostgreSQL", "Redis")',
        "fake: doctor.py does not see its embedded server",
    ),
    "the embedded requirements' file name": (
        "copier.yml",
        'default: "[{% for name in services if service_registry[name].embedded %}',
        "default: \"[{% for name in services if name in ['postgres', 'redis'] %}",
        "fake: its embedded server is not in requirements-embedded.txt",
    ),
    "the GitLab job's trusted hosts": (
        "template/{% if ci == 'gitlab' %}.gitlab{% endif %}/integration-tests.gitlab-ci.yml.jinja",
        "IT_TRUSTED_HOSTS: {{ sql_services | join(',') }}",
        "IT_TRUSTED_HOSTS: {{ sql_services | select('in', ['postgres', 'mysql']) | join(',') }}",
        "fakedb: a SQL database the GitLab job does not trust by name",
    ),
}


def test_a_hand_written_list_of_services_is_reported(with_fakes: Path, tmp_path: Path) -> None:
    # All at once: one render (two, GitHub and GitLab) instead of one per list.
    for case, (relative, old, new, _) in HAND_LISTS.items():
        path = with_fakes / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer has {old!r} ({case}): update this test"
        path.write_text(text.replace(old, new))
    commit_all(with_fakes, "hand-written lists of services")
    problems = render_problems(with_fakes, FAKE_SERVICES, tmp_path / "render")
    for case, (*_, expected) in HAND_LISTS.items():
        assert any(problem.startswith(expected) for problem in problems), (case, problems)
