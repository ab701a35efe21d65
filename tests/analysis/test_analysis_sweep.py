"""Sweeps: grid order, values against the fields' bounds, CSV, and the CLI's errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.analysis import AnalysisError
from infersim.analysis.execute import Execution
from infersim.analysis.overrides import parse_override
from infersim.analysis.runs import load_source
from infersim.analysis.sweep import sweep, sweep_json
from infersim.cli.app import app
from infersim.errors import ConfigError

# A product reselling an API: no serving simulation, so every run takes milliseconds.
TINY = """\
name: tiny-wrapper
seed: 3
deployments:
  api: {kind: api, input_usd_per_mtok: 2.5, output_usd_per_mtok: 10}
workload:
  users:
    pro:
      plan: pro
      users: 2000
      requests_per_user_per_month: {dist: lognormal, median: 100, p99: 2500}
      prompt_tokens_per_request: 2000
      output_tokens_per_request: 400
pricing:
  plans: {pro: {price_usd_per_month: 20}}
costs:
  operating_usd_per_month: {staff: 30000}
horizon: {months: 3}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_grid_order_first_spec_slowest(tiny: Path) -> None:
    specs = [
        parse_override("pricing.plans.pro.price_usd_per_month=10,20"),
        parse_override("deployments.api.*_usd_per_mtok*=1,2,3"),
    ]
    result = sweep(load_source(tiny), specs, ["pnl.revenue_usd", "pnl.api_cost_usd"])
    assert result.parameters == (
        "pricing.plans.pro.price_usd_per_month",
        "deployments.api.*_usd_per_mtok*",
    )
    assert [values for values, _ in result.rows] == [
        (10, 1), (10, 2), (10, 3), (20, 1), (20, 2), (20, 3),
    ]  # fmt: skip
    revenue = [row["pnl.revenue_usd"] for _, row in result.rows]
    assert revenue == [20_000.0] * 3 + [40_000.0] * 3
    cost = [row["pnl.api_cost_usd"] for _, row in result.rows]
    assert cost[1] == pytest.approx(2 * cost[0], rel=1e-6)  # both prices doubled
    assert cost[2] == pytest.approx(3 * cost[0], rel=1e-6)
    assert cost[:3] == cost[3:]  # the same users in every point: common random numbers


def test_local_processes_match_serial(tiny: Path) -> None:
    specs = [parse_override("workload.users.pro.users=500..2000:500")]
    source = load_source(tiny)
    serial = sweep(source, specs, ["pnl.gross_margin_usd", "margins.pro.gross_margin_pct"])
    parallel = sweep(
        source, specs, ["pnl.gross_margin_usd", "margins.pro.gross_margin_pct"], Execution(2)
    )
    assert sweep_json(parallel) == sweep_json(serial)
    assert len(serial.rows) == 4


def test_values_outside_bounds_fail_before_running(tiny: Path) -> None:
    specs = [parse_override("pricing.plans.pro.price_usd_per_month=-5,10,20")]
    with pytest.raises(ConfigError) as info:
        sweep(load_source(tiny), specs)
    (problem,) = info.value.problems
    assert problem.path == "pricing.plans.pro.price_usd_per_month"
    assert "greater than or equal to 0" in problem.message


def test_a_scale_on_something_not_a_number(tiny: Path) -> None:
    specs = [parse_override("deployments.api.kind*=2")]
    with pytest.raises(AnalysisError, match="not a number to scale"):
        sweep(load_source(tiny), specs)


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_csv_one_row_per_point(runner: CliRunner, tiny: Path) -> None:
    code, out, err = invoke(
        runner, "sweep", str(tiny), "--set", "pricing.plans.pro.price_usd_per_month=10..30:10",
        "--set", "workload.users.pro.users=1000,2000", "-m", "pnl.revenue_usd", "-f", "csv",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "pricing.plans.pro.price_usd_per_month",
        "workload.users.pro.users",
        "pnl.revenue_usd",
    ]
    assert [r[:2] for r in rows[1:]] == [
        ["10", "1000"], ["10", "2000"], ["20", "1000"], ["20", "2000"], ["30", "1000"],
        ["30", "2000"],
    ]  # fmt: skip
    assert [float(r[2]) for r in rows[1:]] == [10e3, 20e3, 20e3, 40e3, 30e3, 60e3]


def test_cli_json(runner: CliRunner, tiny: Path) -> None:
    code, out, err = invoke(
        runner, "sweep", str(tiny), "--set", "horizon.months=1,2", "-m",
        "projection.cumulative_cash_usd", "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["parameters"] == ["horizon.months"]
    cash = [p["metrics"]["projection.cumulative_cash_usd"] for p in data["points"]]
    assert cash[1] == pytest.approx(2 * cash[0], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["--set", "pricing.plans.pro.pirce_usd_per_month=1"],
            "unknown key 'pirce_usd_per_month' at pricing.plans.pro — did you mean "
            "'price_usd_per_month'?",
        ),
        (["--set", "pricing.plans.pro.price_usd_per_month"], "expected PATH=VALUES"),
        (["--set", "pricing.plans.pro.price_usd_per_month=10..x"], "not a range"),
        (
            ["--set", "pricing.plans.pro.price_usd_per_month=-5,10"],
            "pricing.plans.pro.price_usd_per_month: Input should be greater than or equal to 0",
        ),
        (["--set", "horizon.months=0..3"], "horizon.months: Input should be greater than"),
        (["--set", "a=1", "--set", "a=2"], "given twice"),
        ([], "give at least one --set"),
        (["--set", "seed=1", "-m", "pnl.revenu_usd"], "did you mean 'pnl.revenue_usd'"),
        (["--set", "seed=1", "--executor", "dask"], "needs --scheduler"),
        (["--set", "seed=1", "--jobs", "-1"], "--jobs must be >= 0"),
    ],
)
def test_cli_bad_input_one_line_exit_2(
    runner: CliRunner, tiny: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    out_file = tmp_path / "out.csv"
    code, out, err = invoke(runner, "sweep", str(tiny), *args, "-o", str(out_file))
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert not out_file.exists()
