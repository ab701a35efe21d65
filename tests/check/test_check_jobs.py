"""`check --jobs N` and the serving shared between scenarios that differ only in costs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.cli.app import app
from infersim.cli.check import serving_groups
from infersim.scenario.load import load_scenario

DATA = Path(__file__).parent / "data"
OWNED = """extends: priced.yaml
name: priced-owned
costs.gpu: {kind: owned, amortization_months: 36}
"""
RESEEDED = """extends: priced.yaml
name: priced-reseeded
seed: 4
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three scenarios: priced, the same on owned GPUs (same serving), and another seed."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    shutil.copy(DATA / "priced.yaml", scenarios / "priced.yaml")
    (scenarios / "priced-owned.yaml").write_text(OWNED, encoding="utf-8")
    (scenarios / "reseeded.yaml").write_text(RESEEDED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def records(runner: CliRunner, *args: str) -> dict[str, object]:
    """The baseline's records of the scenarios (metrics, inputs) as `baseline` writes them."""
    result = runner.invoke(app, ["-q", "baseline", *args, "-o", "b.json"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(Path("b.json").read_text(encoding="utf-8"))["scenarios"])


def test_scenarios_differing_only_in_costs_are_grouped(project: Path) -> None:
    catalog = load_builtin()
    names = ["priced.yaml", "priced-owned.yaml", "reseeded.yaml"]
    loaded = [load_scenario(project / "scenarios" / n, None, catalog=catalog) for n in names]
    assert serving_groups(loaded) == [[0, 1], [2]]


def test_shared_serving_gives_each_scenario_its_own_run(runner: CliRunner, project: Path) -> None:
    """Run together (one simulation of the shared traffic), each scenario's figures are the
    ones it has when run alone; and --jobs 2 (a worker process and this one) agrees."""
    together = records(runner, "scenarios", "-j", "1")
    for key in together:
        assert records(runner, key, "-j", "1") == {key: together[key]}
    assert records(runner, "scenarios", "-j", "2") == together
    owned, priced = together["scenarios/priced-owned.yaml"], together["scenarios/priced.yaml"]
    assert isinstance(owned, dict) and isinstance(priced, dict)
    assert owned["metrics"] != priced["metrics"]  # the costs differ, the serving does not
    serving = {k: v for k, v in priced["metrics"].items() if k.startswith("serving.")}
    assert serving and all(owned["metrics"][k] == v for k, v in serving.items())


def test_check_with_workers_prints_every_scenario_once(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["check", "scenarios", "--jobs", "2"])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if ": ran in " in line]
    assert sorted(line.split(":")[0] for line in lines) == [
        "scenarios/priced-owned.yaml",
        "scenarios/priced.yaml",
        "scenarios/reseeded.yaml",
    ]
    assert sorted(line.rsplit("(", 1)[1] for line in lines) == ["1/3)", "2/3)", "3/3)"]
