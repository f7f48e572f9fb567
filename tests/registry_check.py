"""Is every service wired in everywhere, from its registry entry alone? One set of
functions, used on the real template, on a copy with throw-away services added
(tests/fake_service.py) and on broken copies (so that the check is proven to fail).

A service is its entry in copier.yml's `service_registry`, a `services` choice, and
harness/<name>/service.py + fixtures.py. From those, a render must give it a compose
service and a container with the same settings, requirements (and the embedded
ones), a CI service (GitHub and GitLab), README lines, a harness registry entry, a
place in the catalog (and among its SQL databases exactly when it is one), and a
line of doctor.py that knows whether its embedded server can run; its fixtures
module must export the fixtures the registry lists.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from rendering import render

HARNESS = "template/{{ project_dir }}/tests/integration/harness"

# Run in the render's tests/ folder: the harness's specs, with a stand-in for
# testcontainers' DockerContainer that records what make_container asks for.
_SPECS_SCRIPT = """
import json, sys, types

class DockerContainer:
    def __init__(self, image, env=None, ports=None, labels=None, **kwargs):
        self.env, self.ports, self.command, self.tmpfs = env or {}, ports, [], []
    def with_command(self, command):
        self.command = list(command)
        return self
    def with_tmpfs_mount(self, path, size=None):
        self.tmpfs.append(path)
        return self

for name in ("testcontainers", "testcontainers.core", "testcontainers.core.container"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["testcontainers.core.container"].DockerContainer = DockerContainer
from integration.harness.catalog import SPECS, SQL_SERVICES, fixture_module_paths

specs = {}
for name, spec in SPECS.items():
    container = spec.make_container("image", {})
    specs[name] = {
        "environment": container.env, "command": container.command,
        "tmpfs": container.tmpfs, "ports": container.ports,
        "url": spec.url_for("HOST", 12345),
    }
paths = [str(path) for path in fixture_module_paths()]
print(json.dumps({"specs": specs, "sql": list(SQL_SERVICES), "paths": paths}))
"""


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


def render_problems(root: Path, names: list[str], destination: Path) -> list[str]:
    """What a render of `root` with the services `names` lacks for each of them."""
    entries = registry(root)
    github = render(destination / "github", src=root, services=names, ci="github")
    gitlab = render(destination / "gitlab", src=root, services=names, ci="gitlab")
    suite = github / "tests/integration"
    specs = _rendered_specs(github)
    doctor = _doctor_rows(suite)
    problems = []
    if (suite / "requirements-embedded.txt").exists() != any(
        entries[name]["embedded"] for name in names
    ):
        problems.append("requirements-embedded.txt is there exactly when a service has one: no")
    for name in names:
        entry = entries[name]
        problems += _ci_problems(github, gitlab, name, entry)
        problems += _file_problems(suite, name, entry)
        problems += _harness_problems(suite, name, entry, specs)
        problems += _doctor_problems(name, entry, doctor.get(name, ""))
    return problems


def _ci_problems(github: Path, gitlab: Path, name: str, entry: dict[str, Any]) -> list[str]:
    problems = []
    workflow = yaml.safe_load((github / ".github/workflows/integration-tests.yml").read_text())
    job = workflow["jobs"]["services"]
    if name not in job.get("services", {}):
        problems.append(f"{name}: no service in the GitHub workflow")
    if entry["url_env"] not in job.get("env", {}):
        problems.append(f"{name}: {entry['url_env']} not set in the GitHub workflow")
    jobs = yaml.safe_load((gitlab / ".gitlab/integration-tests.gitlab-ci.yml").read_text())
    job = jobs["integration-tests"]
    if name not in [service.get("alias") for service in job.get("services", [])]:
        problems.append(f"{name}: no service in the GitLab job")
    variables = job.get("variables", {})
    if entry["url_env"] not in variables:
        problems.append(f"{name}: {entry['url_env']} not set in the GitLab job")
    trusted = str(variables.get("IT_TRUSTED_HOSTS", "")).split(",")
    if entry["sql"] and name not in trusted:
        problems.append(f"{name}: a SQL database the GitLab job does not trust by name")
    return problems


def _file_problems(suite: Path, name: str, entry: dict[str, Any]) -> list[str]:
    problems = []
    compose = yaml.safe_load((suite / "compose.yaml").read_text())["services"]
    service = compose.get(name, {})
    if not service.get("healthcheck") or service.get("ports") != [f"127.0.0.1::{entry['port']}"]:
        problems.append(f"{name}: compose service missing, unhealthy or not on 127.0.0.1")
    container = entry["container"]
    if (
        service.get("environment", {}) != container["environment"]
        or service.get("command", []) != container["command"]
        or service.get("tmpfs", []) != ([container["tmpfs"]] if container["tmpfs"] else [])
    ):
        problems.append(f"{name}: compose service differs from the registry's container")
    requirements = (suite / "requirements.txt").read_text()
    problems += [
        f"{name}: requirement {line} missing"
        for line in entry["requirements"]
        if line not in requirements
    ]
    embedded = suite / "requirements-embedded.txt"
    if entry["embedded"] and (
        not embedded.exists() or entry["embedded"] not in embedded.read_text()
    ):
        problems.append(f"{name}: its embedded server is not in requirements-embedded.txt")
    readme = (suite / "README.md").read_text()
    problems += [
        f"{name}: README does not mention {word}"
        for word in (
            entry["title"], entry["url_env"], entry["image_env"], *entry["fixtures"],
            *entry["maintenance_databases"],
        )
        if word not in readme
    ]  # fmt: skip
    return problems


def _harness_problems(
    suite: Path, name: str, entry: dict[str, Any], rendered: dict[str, Any]
) -> list[str]:
    problems = []
    answers = (suite / "harness/answers.py").read_text()
    if f'"{name}": Registered(' not in answers:
        problems.append(f"{name}: not in harness/answers.py's REGISTRY (doctor, specs)")
    catalog = (suite / "harness/catalog.py").read_text()
    if f"from .{name} import fixtures as " not in catalog or f'"{name}": ' not in catalog:
        problems.append(f"{name}: not in harness/catalog.py")
    if (name in rendered["sql"]) != entry["sql"]:
        problems.append(f"{name}: catalog's SQL_SERVICES says sql={not entry['sql']}")
    if not any(path.endswith(f"harness/{name}/fixtures.py") for path in rendered["paths"]):
        problems.append(f"{name}: not among the catalog's fixture_module_paths()")
    container = entry["container"]
    expected = {
        "environment": container["environment"],
        "command": container["command"],
        "tmpfs": [container["tmpfs"]] if container["tmpfs"] else [],
        "ports": [entry["port"]],
        "url": container["url"].replace("PORT", "12345"),
    }
    if rendered["specs"].get(name) != expected:
        problems.append(
            f"{name}: make_container/url_for differ from the registry: "
            f"{rendered['specs'].get(name)} != {expected}"
        )
    exported = _exported(suite / f"harness/{name}/fixtures.py")
    missing = set(entry["fixtures"]) - exported
    if missing:
        problems.append(f"{name}: fixtures.py's __all__ lacks {sorted(missing)}")
    return problems


def _doctor_problems(name: str, entry: dict[str, Any], row: str) -> list[str]:
    """doctor.py runs here without Docker: a service whose embedded server this
    Python can run (a module the registry names imports) must say so."""
    if not row:
        return [f"{name}: doctor.py has no line for it"]
    can_embed = bool(entry["embedded"]) and any(
        _importable(module) for module in entry["embedded_modules"]
    )
    if can_embed and "(embedded)" not in row:
        return [f"{name}: doctor.py does not see its embedded server: {row}"]
    if not can_embed and "(embedded)" in row:
        return [f"{name}: doctor.py sees an embedded server it has not: {row}"]
    return []


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def _rendered_specs(project: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _SPECS_SCRIPT],
        cwd=project / "tests", capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _doctor_rows(suite: Path) -> dict[str, str]:
    """doctor.py's report, service by service, on a machine without Docker (nothing
    on PATH) and without any IT_* variable."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IT_")}
    environment["PATH"] = ""
    done = subprocess.run(
        [sys.executable, str(suite / "doctor.py")],
        capture_output=True, text=True, check=False, timeout=60, env=environment,
    )  # fmt: skip
    rows = {}
    for line in done.stdout.splitlines():
        if line.startswith("  ") and len(line.split(maxsplit=1)) == 2:
            name, state = line.split(maxsplit=1)
            rows[name] = state
    return rows


def _exported(path: Path) -> set[str]:
    if not path.exists():
        return set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return {str(ast.literal_eval(element)) for element in node.value.elts}  # type: ignore[attr-defined]
    return set()
