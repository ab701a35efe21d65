"""Claim S1, OpenAI spends more than it earns: configs/claims/s1-openai-2025.yaml.

The article: 2025 expenses ~$22B against revenue ~$13B, $1.69 spent per $1 of revenue. The
scenario's operating costs are calibrated to that ratio (its header says which inputs are
tuned); what is tested here is that the engine's serving cost, the revenue lines and the
calibration still add up to it, and how the money splits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infersim.economics import EconomicsResult
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.load import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "claims" / "s1-openai-2025.yaml"

SPENT_PER_REVENUE = 1.69  # claims.md S1
REVENUE_USD_PER_YEAR = 13e9  # claims.md S1, "~$13B"
EXPENSES_USD_PER_YEAR = 22e9  # claims.md S1, "~$22B"


@pytest.fixture(scope="module")
def result() -> RunResult:
    loaded = load_scenario(SCENARIO)
    return run_scenario(loaded.scenario, loaded.catalog)


@pytest.fixture(scope="module")
def month(result: RunResult) -> EconomicsResult:
    assert len(result.months) == 1
    return result.first_month


def test_spends_169_per_dollar_of_revenue(month: EconomicsResult) -> None:
    spent = month.pnl.spent_per_revenue_usd
    assert spent == pytest.approx(SPENT_PER_REVENUE, abs=0.08)


def test_revenue_and_expenses_near_the_articles_year(month: EconomicsResult) -> None:
    pnl = month.pnl
    assert pnl.revenue_usd * 12 == pytest.approx(REVENUE_USD_PER_YEAR, rel=0.08)
    expenses = pnl.serving_cost_usd + pnl.operating_cost_total_usd
    assert expenses * 12 == pytest.approx(EXPENSES_USD_PER_YEAR, rel=0.1)
    assert pnl.operating_margin_usd < 0
    assert pnl.operating_margin_pct is not None and pnl.operating_margin_pct < -50


def test_serving_alone_is_profitable_the_rest_is_not(month: EconomicsResult) -> None:
    pnl = month.pnl
    assert pnl.gpu_cost_usd > 0 and pnl.api_cost_usd == 0  # every token served on rented GPUs
    assert pnl.serving_overhead_usd == pytest.approx(0.10 * pnl.gpu_cost_usd, rel=1e-9)
    assert pnl.gross_margin_pct is not None and 40 < pnl.gross_margin_pct < 70
    # serving is about a quarter of what is spent; training, staff, sales and G&A the rest
    share = pnl.serving_cost_usd / (pnl.serving_cost_usd + pnl.operating_cost_total_usd)
    assert 0.15 < share < 0.4


def test_who_pays_and_who_costs(month: EconomicsResult) -> None:
    table = month.table
    subscriptions = sum(table.row(p).revenue_usd for p in ("plus", "pro", "business"))
    assert subscriptions == pytest.approx(36e6 * 20 + 0.4e6 * 200 + 3.6e6 * 25)
    assert subscriptions / table.total.revenue_usd > 0.75  # ChatGPT subscriptions dominate
    free = table.row("free")
    assert free.revenue_usd == 0 and free.cost_usd > 0  # no ads in 2025
    assert table.row("api").revenue_usd > 0
    assert table.row("enterprise").revenue_usd == pytest.approx(45e6)
    assert table.total.users == pytest.approx(800e6)
    # the $20 plan: most subscribers profitable, the heaviest decile not (claim S5 again)
    plus = month.distributions["plus"]
    assert plus.share_losing_money is not None and plus.share_losing_money < 0.5
    assert plus.top_decile_mean_usd is not None and plus.top_decile_mean_usd < 0


def test_fleets_are_neither_overloaded_nor_idle(result: RunResult) -> None:
    for deployment in result.serving.deployments:
        assert deployment.verdict is None, f"{deployment.name}: {deployment.verdict}"
        assert deployment.busy_share > 0.8, deployment.name
        assert deployment.slo_met_share is not None and deployment.slo_met_share > 0.9
