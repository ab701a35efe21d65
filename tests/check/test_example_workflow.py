"""The example CI workflow: finds its own comment by a marker, installs a pinned git source,
compares against a baseline made on the merge base, one run per pull request, pip cache."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "infersim-example.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    steps = workflow["jobs"]["check"]["steps"]
    assert isinstance(steps, list)
    return steps


def _step(workflow: dict[Any, Any], name: str) -> dict[str, Any]:
    return next(s for s in _steps(workflow) if s.get("name") == name)


def test_its_own_comment_is_found_by_a_hidden_marker(workflow: dict[Any, Any]) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "--edit-last" not in text
    assert workflow["env"]["MARKER"].startswith("<!-- ") and workflow["env"]["MARKER"].endswith(
        " -->"
    )
    script = _step(workflow, "Comment on the pull request")["run"]
    assert 'echo "$MARKER"' in script and "startswith($ENV.MARKER)" in script
    assert "--method PATCH" in script and "--method POST" in script


def test_infersim_comes_from_a_pinned_git_source(workflow: dict[Any, Any]) -> None:
    source = re.sub(r"\$\{\{[^}]*\}\}", "x", workflow["env"]["INFERSIM_SOURCE"])
    assert re.fullmatch(r"git\+\S+@\S+", source), source  # a git URL at a commit or tag
    assert 'pip install "$INFERSIM_SOURCE"' in _step(workflow, "Install infersim")["run"]


def test_the_baseline_is_made_on_the_merge_base(workflow: dict[Any, Any]) -> None:
    checkout = _steps(workflow)[0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    script = _step(workflow, "Baseline from the merge base")["run"]
    assert "git merge-base" in script and "git worktree add" in script
    assert "infersim baseline" in script
    check = _step(workflow, "Check the pull request's scenarios")["run"]
    assert "--compare-to" in check and "$BASE_FILE" in check
    assert "baseline/configs.json" not in check  # never the pull request's own baseline


def test_one_run_per_pull_request_and_a_pip_cache(workflow: dict[Any, Any]) -> None:
    assert "pull_request.number" in workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is True
    python = next(s for s in _steps(workflow) if str(s.get("uses", "")).startswith("actions/setup"))
    assert python["with"]["cache"] == "pip"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_every_script_parses(workflow: dict[Any, Any]) -> None:
    for step in _steps(workflow):
        if "run" in step:
            script = re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])
            done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
            assert done.returncode == 0, (step.get("name"), done.stderr)
