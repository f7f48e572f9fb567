"""`_min_copier_version` is honest: that copier release copies and updates the template,
for a project in a subfolder (project_dir), the newest thing the template asks of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from generated_suite import uv_executable
from rendering import (
    REPO_ROOT,
    SUITE_TEMPLATE,
    commit_all,
    git,
    init_repository,
    release,
    template_repository,
)

pytestmark = pytest.mark.slow

SETTINGS = f"{SUITE_TEMPLATE}/harness/settings.py"
ANSWERS_FILE = ".copier-answers.integration-tests.yml"
SUITE = "backend/tests/integration"


def test_the_oldest_supported_copier_copies_and_updates(tmp_path: Path) -> None:
    oldest = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())["_min_copier_version"]
    venv = tmp_path / "venv"
    uv = uv_executable()
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv), f"copier=={oldest}"],
        check=True,
        timeout=600,
    )
    copier = str(venv / "bin" / "copier")
    template = template_repository(tmp_path / "template", "1.0.0")
    project = init_repository(tmp_path / "shop")
    subprocess.run(
        [copier, "copy", "--quiet", "--defaults", "--vcs-ref", "1.0.0",
         "--data", "project_dir=backend", str(template), str(project)],
        check=True,
    )  # fmt: skip
    commit_all(project, "copy")
    git(project, "rm", "-q", f"{SUITE}/samples/test_order_repository.py")
    commit_all(project, "the user deletes a sample")
    release(
        template,
        "2.0.0",
        {SETTINGS: ("_DEFAULT_STARTUP_TIMEOUT = 90.0", "_DEFAULT_STARTUP_TIMEOUT = 120.0")},
    )

    subprocess.run(
        [copier, "update", "--quiet", "--defaults", "--answers-file", ANSWERS_FILE],
        cwd=project, check=True,
    )  # fmt: skip

    answers = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert answers["_commit"] == "2.0.0"
    assert answers["project_name"] == "shop"
    assert answers["project_dir"] == "backend"
    settings = (project / SUITE / "harness/settings.py").read_text()
    assert "_DEFAULT_STARTUP_TIMEOUT = 120.0" in settings
    assert not (project / SUITE / "samples/test_order_repository.py").exists()
    assert not (project / "tests").exists()
