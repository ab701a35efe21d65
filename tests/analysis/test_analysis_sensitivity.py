"""Tornado tables: every input to its low and high value, ranked by the output's swing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.analysis import AnalysisError
from infersim.analysis.overrides import parse_override
from infersim.analysis.runs import load_source
from infersim.analysis.sensitivity import sensitivity, sensitivity_json
from infersim.cli.app import app

TORNADO = """\
name: tiny-tornado
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
  plans: {pro: {price_usd_per_month: {low: 15, high: 25}}}
costs:
  operating_usd_per_month:
    staff: {dist: uniform, low: 25000, high: 35000}
    rent: {dist: normal, mean: 2000, sd: 100}
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tornado.yaml"
    path.write_text(TORNADO, encoding="utf-8")
    return path


def test_every_distribution_from_p5_to_p95_sorted_by_swing(scenario: Path) -> None:
    source = load_source(scenario)
    (tornado,) = sensitivity(source, ["pnl.operating_margin_usd"]).tornados
    names = [bar.name for bar in tornado.bars]
    # price: 2,000 x (p95 - p5) of a 15-25 90% range = 20,000; staff: 0.9 x 10,000 = 9,000;
    # rent: 2 x 1.645 x 100 = 329
    assert names == [
        "pricing.plans.pro.price_usd_per_month",
        "costs.operating_usd_per_month.staff",
        "costs.operating_usd_per_month.rent",
    ]
    price, staff, rent = tornado.bars
    assert price.low == pytest.approx(15) and price.high == pytest.approx(25)
    assert price.swing == pytest.approx(2000 * 10, rel=1e-6)
    assert staff.low == pytest.approx(25_500) and staff.high == pytest.approx(34_500)
    assert staff.swing == pytest.approx(9_000, rel=1e-6)
    assert staff.output_low is not None and staff.output_high is not None
    assert staff.output_low > staff.output_high  # more staff cost, less margin
    assert rent.swing == pytest.approx(2 * 1.6448536 * 100, rel=1e-4)
    swings = [bar.swing for bar in tornado.bars]
    assert swings == sorted(swings, reverse=True)


def test_vary_given_values_and_factors(scenario: Path) -> None:
    specs = [
        parse_override("workload.users.pro.users=1000,4000", "--vary"),
        parse_override("deployments.api.*_usd_per_mtok*=0.5,1.5", "--vary"),
        parse_override("costs.operating_usd_per_month.rent", "--vary", values_required=False),
    ]
    result = sensitivity(load_source(scenario), ["pnl.revenue_usd", "pnl.api_cost_usd"], specs)
    revenue, cost = result.tornados
    assert revenue.metric == "pnl.revenue_usd" and cost.metric == "pnl.api_cost_usd"
    by_name = {bar.name: bar for bar in revenue.bars}
    users = by_name["workload.users.pro.users"]
    median_price = (15 * 25) ** 0.5  # a positive 90% range is lognormal
    assert users.output_low == pytest.approx(1000 * median_price, abs=0.01)
    assert users.output_high == pytest.approx(4000 * median_price, abs=0.01)
    assert by_name["deployments.api.*_usd_per_mtok*"].swing == 0  # prices bought, not sold
    assert by_name["costs.operating_usd_per_month.rent"].swing == 0
    scaled = {bar.name: bar for bar in cost.bars}["deployments.api.*_usd_per_mtok*"]
    assert scaled.output_high == pytest.approx(3 * scaled.output_low, rel=1e-6)
    data = sensitivity_json(result)
    assert data["tornados"][0]["inputs"][0]["input"] == "workload.users.pro.users"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("workload.users.pro.users", "not a distribution"),
        ("workload.users.pro.users=1,2,3", "give two values"),
        ("workload.users.pro.userz=1,2", "did you mean 'users'"),
    ],
)
def test_bad_vary(scenario: Path, spec: str, fragment: str) -> None:
    specs = [parse_override(spec, "--vary", values_required=False)]
    with pytest.raises(AnalysisError, match=fragment):
        sensitivity(load_source(scenario), ["pnl.revenue_usd"], specs)


def test_cli(runner: CliRunner, scenario: Path) -> None:
    result = runner.invoke(
        app, ["sensitivity", str(scenario), "-m", "pnl.operating_margin_usd", "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    (tornado,) = data["tornados"]
    assert tornado["inputs"][0]["input"] == "pricing.plans.pro.price_usd_per_month"
    table = runner.invoke(app, ["sensitivity", str(scenario), "-m", "pnl.operating_margin_usd"])
    assert table.exit_code == 0 and "tornado of pnl.operating_margin_usd" in table.stdout
    bad = runner.invoke(app, ["sensitivity", str(scenario)])
    assert bad.exit_code == 2 and "--metric" in bad.stderr
