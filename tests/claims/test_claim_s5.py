"""Claim S5, the $20 subscription trap, through the scenarios in configs/claims/.

- s5-subscription-heavy-tail: most subscribers are profitable, the top decile is not, and
  usage growing 8% a month turns the plan's gross margin negative within 24 months;
- s5-freemium-ads: ads shown to free users recover part of what they cost, not all of it;
  without ads the free tier earns nothing; more paying users raise the company's margin.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from infersim.economics import usage_params
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.load import load_scenario

CLAIMS = Path(__file__).resolve().parents[2] / "configs" / "claims"
HEAVY_TAIL = CLAIMS / "s5-subscription-heavy-tail.yaml"
FREEMIUM = CLAIMS / "s5-freemium-ads.yaml"

PRICE_USD = 20.0
GROWTH = 0.08


def run(path: Path, variant: str | None = None) -> RunResult:
    loaded = load_scenario(path, variant)
    return run_scenario(loaded.scenario, loaded.catalog)


def assert_served_without_overload(result: RunResult) -> None:
    for deployment in result.serving.deployments:
        assert deployment.verdict is None, f"{deployment.name}: {deployment.verdict}"
        assert deployment.slo_met_share is not None and deployment.slo_met_share > 0.95


# ---------------------------------------------------------------------------------------------
# The heavy tail, and growth
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heavy_tail() -> RunResult:
    return run(HEAVY_TAIL)


def test_most_subscribers_profitable_top_decile_not(heavy_tail: RunResult) -> None:
    first = heavy_tail.first_month
    dist = first.distributions["plus"]
    assert dist.share_losing_money is not None and 0.01 < dist.share_losing_money < 0.5
    assert dist.p50_usd is not None and dist.p50_usd > 15  # the median subscriber pays for 4x
    assert dist.top_decile_mean_usd is not None and dist.top_decile_mean_usd < 0
    row = first.table.row("plus")
    assert row.gross_margin_pct is not None and 60 < row.gross_margin_pct < 90
    # inactive subscribers (15%) pay and cost nothing: they are the top of the distribution
    assert dist.p90_usd == pytest.approx(PRICE_USD)
    assert_served_without_overload(heavy_tail)


def test_breakeven_usage_matches_the_per_request_cost(heavy_tail: RunResult) -> None:
    first = heavy_tail.first_month
    row = first.table.row("plus")
    usd_per_request = row.cost_usd / row.requests
    breakeven = first.distributions["plus"].breakeven_requests_per_user_per_month
    assert breakeven is not None
    assert breakeven == pytest.approx(PRICE_USD / usd_per_request, rel=1e-6)
    # lognormal theory: the share of active users above breakeven, times 85% active
    population = load_scenario(HEAVY_TAIL).scenario.workload.users["plus"]
    params = usage_params(population.requests_per_user_per_month)
    z = (math.log(breakeven) - params.mu) / params.sigma
    expected = 0.85 * 0.5 * math.erfc(z / math.sqrt(2))
    losing = first.distributions["plus"].share_losing_money
    assert losing == pytest.approx(expected, rel=0.05)


def test_usage_growth_flips_the_plan_negative_within_24_months(heavy_tail: RunResult) -> None:
    margins = [m.table.row("plus").gross_margin_usd for m in heavy_tail.months]
    assert len(margins) == 24
    assert margins[0] > 0
    assert all(later < earlier for earlier, later in itertools.pairwise(margins))
    flip = next(index for index, margin in enumerate(margins) if margin < 0)
    assert 15 <= flip <= 22, f"flips in month {flip + 1}"  # months 16..23 of 24
    # theory: the cost grows as (1 + g)^m and crosses the revenue at ln(rev / cost0) / ln(1 + g)
    row = heavy_tail.first_month.table.row("plus")
    expected = math.ceil(math.log(row.revenue_usd / row.cost_usd) / math.log(1 + GROWTH))
    assert abs(flip - expected) <= 1
    losing = [m.distributions["plus"].share_losing_money or 0.0 for m in heavy_tail.months]
    assert losing[flip] > 3 * losing[0]


def test_without_growth_the_plan_stays_profitable() -> None:
    result = run(HEAVY_TAIL, "no-growth")
    margins = [m.table.row("plus").gross_margin_usd for m in result.months]
    assert min(margins) > 0
    assert max(margins) == pytest.approx(min(margins), rel=1e-9)  # same users, same usage


# ---------------------------------------------------------------------------------------------
# Freemium with ads
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def freemium() -> RunResult:
    return run(FREEMIUM)


def test_ads_recover_part_of_the_free_tiers_cost(freemium: RunResult) -> None:
    free = freemium.first_month.table.row("free")
    # 760M active free users x 15 impressions x 20% shown x $25 per 1,000
    assert free.revenue_usd == pytest.approx(760e6 * 15 * 0.2 * 25 / 1000, rel=1e-9)
    assert 0 < free.revenue_usd < free.cost_usd
    recovered = free.revenue_usd / free.cost_usd
    assert 0.4 < recovered < 0.85, f"ads recover {recovered:.0%} of the free tier's cost"
    assert_served_without_overload(freemium)


def test_paying_users_carry_the_company(freemium: RunResult) -> None:
    table = freemium.first_month.table
    plus, free, total = table.row("plus"), table.row("free"), table.total
    assert plus.revenue_usd == pytest.approx(40e6 * PRICE_USD)
    assert free.gross_margin_usd < 0 < plus.gross_margin_usd
    assert total.gross_margin_pct is not None and 50 < total.gross_margin_pct < 75
    assert freemium.first_month.distributions["plus"].top_decile_mean_usd is not None
    assert freemium.first_month.distributions["plus"].top_decile_mean_usd < 0


def test_without_ads_the_free_tier_earns_nothing(freemium: RunResult) -> None:
    no_ads = run(FREEMIUM, "no-ads")
    base_free = freemium.first_month.table.row("free")
    free = no_ads.first_month.table.row("free")
    assert free.revenue_usd == 0 < base_free.revenue_usd
    assert free.cost_usd == pytest.approx(base_free.cost_usd, rel=1e-9)  # same serving
    margin = no_ads.first_month.table.total.gross_margin_pct
    base_margin = freemium.first_month.table.total.gross_margin_pct
    assert margin is not None and base_margin is not None and margin < base_margin


def test_more_paying_users_raise_the_company_margin(freemium: RunResult) -> None:
    paying = run(FREEMIUM, "10pct-paying")
    total = paying.first_month.table.total
    base = freemium.first_month.table.total
    assert total.users == base.users == 800e6
    assert total.gross_margin_pct is not None and base.gross_margin_pct is not None
    assert total.gross_margin_pct > base.gross_margin_pct + 2
    assert paying.first_month.table.row("plus").revenue_usd == pytest.approx(80e6 * PRICE_USD)
    assert_served_without_overload(paying)
