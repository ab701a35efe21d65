"""Breakeven: Brent's method on a known function, hand-solved scenarios, and no solution."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.analysis import AnalysisError
from infersim.analysis.breakeven import breakeven, brent
from infersim.analysis.overrides import OverrideSpec
from infersim.analysis.runs import load_source
from infersim.cli.app import app
from infersim.errors import ConfigError, InfersimError

STAFF_USD = 30_000.0
WRAPPER = f"""\
name: tiny-breakeven
seed: 3
deployments:
  api: {{kind: api, input_usd_per_mtok: 2.5, output_usd_per_mtok: 10}}
workload:
  users:
    pro:
      plan: pro
      users: 2000
      requests_per_user_per_month: {{dist: lognormal, median: 100, p99: 2500}}
      prompt_tokens_per_request: 2000
      output_tokens_per_request: 400
pricing:
  plans: {{pro: {{price_usd_per_month: 20}}}}
costs:
  operating_usd_per_month: {{staff: {STAFF_USD}}}
"""
PRICE = ("pricing", "plans", "pro", "price_usd_per_month")


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "wrapper.yaml"
    path.write_text(WRAPPER, encoding="utf-8")
    return path


def spec(path: tuple[str, ...], op: str = "set") -> OverrideSpec:
    return OverrideSpec(".".join(path), path, "scale" if op == "scale" else "set", ())


def test_brent_on_a_cubic() -> None:
    calls: list[float] = []

    def f(x: float) -> float:
        calls.append(x)
        return x**3 - 2 * x - 5

    root = brent(f, 2.0, 3.0, f(2.0), f(3.0), 1e-12)
    assert root == pytest.approx(2.0945514815423265, abs=1e-10)
    assert len(calls) < 15


def test_price_for_a_30pct_gross_margin(scenario: Path) -> None:
    source = load_source(scenario)
    result = breakeven(source, spec(PRICE), 1, 100, "pnl.gross_margin_pct", 30)
    # by hand: the API bill C does not depend on the price; 1 - C / (2000 p) = 0.3
    api_bill = _metric(source, "pnl.api_cost_usd")
    expected = api_bill / (2000 * 0.7)
    assert result.value == pytest.approx(expected, rel=1e-5)
    assert result.output == pytest.approx(30, abs=1e-3)
    assert result.metric == "pnl.gross_margin_pct"
    assert len(result.evaluations) <= 12


def test_price_rise_at_which_it_loses_money(scenario: Path) -> None:
    source = load_source(scenario)
    pattern = ("deployments", "api", "*_usd_per_mtok")
    result = breakeven(source, spec(pattern, "scale"), 1, 20, "pnl.operating_margin_usd", 0)
    # by hand: revenue - factor x C - staff = 0
    factor = (2000 * 20 - STAFF_USD) / _metric(source, "pnl.api_cost_usd")
    assert result.value == pytest.approx(factor, rel=1e-5)
    assert result.scale


def test_whole_number_input(scenario: Path) -> None:
    users = ("workload", "users", "pro", "users")
    result = breakeven(
        load_source(scenario), spec(users), 100, 10_000, "pnl.operating_margin_usd", 0
    )
    assert result.value == int(result.value)
    # about staff / (price - API cost per subscriber); users are drawn, so not exactly
    per_user = _metric(load_source(scenario), "pnl.api_cost_usd") / 2000
    assert result.value == pytest.approx(STAFF_USD / (20 - per_user), rel=0.05)
    assert abs(result.output) < 20  # one subscriber more or less moves it by ~$17


def test_no_solution_in_the_range(scenario: Path) -> None:
    with pytest.raises(AnalysisError) as info:
        breakeven(load_source(scenario), spec(PRICE), 30, 100, "pnl.gross_margin_pct", 30)
    message = str(info.value)
    assert message.startswith("no solution in [30, 100]: pnl.gross_margin_pct goes from ")
    assert "above 30 at both ends" in message


def test_range_outside_the_bounds(scenario: Path) -> None:
    with pytest.raises(ConfigError) as info:
        breakeven(load_source(scenario), spec(PRICE), -10, 100, "pnl.gross_margin_pct", 30)
    (problem,) = info.value.problems
    assert problem.path == "pricing.plans.pro.price_usd_per_month"
    assert "greater than or equal to 0" in problem.message


def test_target_naming_a_group(scenario: Path) -> None:
    with pytest.raises(InfersimError, match=r"is a group of \d+ metrics, not one number"):
        breakeven(load_source(scenario), spec(PRICE), 1, 100, "pnl", 30)


def _metric(source: object, metric: str) -> float:
    from infersim.analysis.execute import run_points
    from infersim.analysis.runs import Point, Source

    assert isinstance(source, Source)
    (row,) = run_points(source.context([metric]), [Point()])
    value = row[metric]
    assert value is not None and math.isfinite(value)
    return value


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli(runner: CliRunner, scenario: Path) -> None:
    code, out, err = invoke(
        runner, "breakeven", str(scenario), "--vary", "pricing.plans.pro.price_usd_per_month",
        "--range", "1,100", "--target", "pnl.gross_margin_pct=30", "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["parameter"] == "pricing.plans.pro.price_usd_per_month"
    assert data["output_at_value"] == pytest.approx(30, abs=1e-3)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["--range", "30,100", "--target", "pnl.gross_margin_pct=30"],
            "no solution in [30, 100]: pnl.gross_margin_pct goes from",
        ),
        (
            ["--range", "-5,100", "--target", "pnl.gross_margin_pct=30"],
            "pricing.plans.pro.price_usd_per_month: Input should be greater than or equal to 0",
        ),
        (["--range", "100,1", "--target", "pnl.gross_margin_pct=30"], "LOW must be below HIGH"),
        (["--range", "1", "--target", "pnl.gross_margin_pct=30"], "expected LOW,HIGH"),
        (["--range", "1,100", "--target", "pnl.gross_margin_pct"], "expected METRIC=VALUE"),
        (["--range", "1,100", "--target", "pnl.gros_margin_pct=3"], "did you mean"),
        (["--target", "pnl.gross_margin_pct=30"], "missing --range"),
    ],
)
def test_cli_errors(
    runner: CliRunner, scenario: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    out_file = tmp_path / "out.json"
    code, out, err = invoke(
        runner, "breakeven", str(scenario), "--vary", "pricing.plans.pro.price_usd_per_month",
        *args, "-o", str(out_file),
    )  # fmt: skip
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert not out_file.exists()
