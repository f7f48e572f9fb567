"""Is every service wired in everywhere? One function, used on the real template and on
broken copies of it (so that the check is proven to fail).

A service is its entry in copier.yml's `service_registry`, a `services` choice, and
harness/<name>/service.py + fixtures.py. From those, a render must give it a compose
service, requirements, a CI service (GitHub and GitLab), README lines, and a
harness registry entry; its fixtures module must export the fixtures the registry
lists.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml
from rendering import render

HARNESS = "template/{{ project_dir }}/tests/integration/harness"


def registry(root: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((root / "copier.yml").read_text())
    entries: dict[str, Any] = config["service_registry"]["default"]
    return entries


def source_problems(root: Path) -> list[str]:
    """What the template repository itself lacks for a registered service."""
    config = yaml.safe_load((root / "copier.yml").read_text())
    choices = set(config["services"]["choices"].values())
    problems = []
    for name in registry(root):
        if name not in choices:
            problems.append(f"{name}: registered but not a `services` choice")
        folder = root / HARNESS / f"{{% if '{name}' in services %}}{name}{{% endif %}}"
        for module in ("service.py", "fixtures.py"):
            path = folder / module
            if not path.exists():
                problems.append(f"{name}: {path.relative_to(root)} is missing")
            elif module == "service.py" and f'ServiceSpec.registered(\n    "{name}"' not in (
                path.read_text()
            ):
                problems.append(f"{name}: service.py does not build its spec from the registry")
    for name in choices - set(registry(root)):
        problems.append(f"{name}: a `services` choice with no registry entry")
    return problems


def render_problems(root: Path, name: str, destination: Path) -> list[str]:
    """What a render with only `name` lacks for it."""
    entry = registry(root)[name]
    problems = []
    for ci in ("github", "gitlab"):
        project = render(destination / ci, src=root, services=[name], ci=ci)
        suite = project / "tests/integration"
        if ci == "github":
            workflow = yaml.safe_load(
                (project / ".github/workflows/integration-tests.yml").read_text()
            )
            job = workflow["jobs"]["services"]
            if name not in job.get("services", {}):
                problems.append(f"{name}: no service in the GitHub workflow")
            if entry["url_env"] not in job.get("env", {}):
                problems.append(f"{name}: {entry['url_env']} not set in the GitHub workflow")
        else:
            jobs = yaml.safe_load((project / ".gitlab/integration-tests.gitlab-ci.yml").read_text())
            job = jobs["integration-tests"]
            if name not in [service.get("alias") for service in job.get("services", [])]:
                problems.append(f"{name}: no service in the GitLab job")
            if entry["url_env"] not in job.get("variables", {}):
                problems.append(f"{name}: {entry['url_env']} not set in the GitLab job")
            continue
        compose = yaml.safe_load((suite / "docker-compose.yml").read_text())["services"]
        service = compose.get(name, {})
        if not service.get("healthcheck") or service.get("ports") != [
            f"127.0.0.1::{entry['port']}"
        ]:
            problems.append(f"{name}: compose service missing, unhealthy or not on 127.0.0.1")
        requirements = (suite / "requirements.txt").read_text()
        problems += [
            f"{name}: requirement {line} missing"
            for line in entry["requirements"]
            if line not in requirements
        ]
        readme = (suite / "README.md").read_text()
        problems += [
            f"{name}: README does not mention {word}"
            for word in (entry["url_env"], entry["image_env"], *entry["fixtures"])
            if word not in readme
        ]
        answers = (suite / "harness/answers.py").read_text()
        if f'"{name}": Registered(' not in answers:
            problems.append(f"{name}: not in harness/answers.py's REGISTRY (doctor, specs)")
        catalog = (suite / "harness/catalog.py").read_text()
        if f'"{name}.fixtures"' not in catalog or f'"{name}": ' not in catalog:
            problems.append(f"{name}: not in harness/catalog.py")
        exported = _exported(suite / f"harness/{name}/fixtures.py")
        missing = set(entry["fixtures"]) - exported
        if missing:
            problems.append(f"{name}: fixtures.py's __all__ lacks {sorted(missing)}")
    return problems


def _exported(path: Path) -> set[str]:
    if not path.exists():
        return set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return {str(ast.literal_eval(element)) for element in node.value.elts}  # type: ignore[attr-defined]
    return set()
