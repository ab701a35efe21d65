"""The bill by kind, energy and value-chain sections are known to `expect:` before a run, and
every metric of a real run's sections is accepted (see tests/test_validate_metric_paths.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from econ_scenarios import SMALL
from typer.testing import CliRunner

from infersim.checks.metric_paths import unknown_metric
from infersim.checks.metrics import flatten, short_aliases
from infersim.cli.app import app
from infersim.scenario.model import Scenario

COSTS: dict[str, Any] = {
    "gpu": {
        "kind": "rented",
        "reserved": {"gpus": 1, "term_years": 1},
        "spot": {"share": 0.5, "interruptions_per_gpu_hour": 0.05},
    },
    "energy": {"grid": "germany"},
    "value_chain": {"gpu_vendor_gross_margin": 0.73},
}


def run_json(tmp_path: Path, document: dict[str, Any], *args: str) -> dict[str, Any]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "-f", "json", *args])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    return dict(run)


def test_every_new_metric_of_a_real_run_is_known(tmp_path: Path) -> None:
    document = copy.deepcopy(SMALL)
    document["costs"] = COSTS
    run = run_json(tmp_path, document, "--window", "day")
    scenario = Scenario.model_validate(document)
    known = [p for p in flatten(run) if p.split(".")[0] != "windows"]  # a flag's, not expect's
    assert any(p.startswith("energy.") for p in known)
    assert any(p.startswith("value_chain.shares.") for p in known)
    assert any(p.startswith("costs.main.bill.spot.") for p in known)
    paths = [*known, *short_aliases(run, known)]
    missing = {path: why for path in paths if (why := unknown_metric(scenario, path))}
    assert missing == {}
    assert run["windows"]["day"]["revenue_usd"] == pytest.approx(
        run["pnl"]["revenue_usd"] * 24 / 730, abs=0.01
    )


def test_an_api_only_scenario_reports_zero_energy(tmp_path: Path) -> None:
    document = copy.deepcopy(SMALL)
    document["deployments"] = {
        "main": {"kind": "api", "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}
    }
    document["costs"] = {"energy": {"grid": "us"}}
    run = run_json(tmp_path, document)
    assert run["energy"]["kwh_per_month"] == 0
    assert run["energy"]["deployments"] == {}
