"""Claim S5, the $20 subscription trap: light users subsidise heavy ones, and usage growth
eventually sinks the plan."""

from __future__ import annotations

import itertools
import math

import numpy as np
from econ_fixtures import engine_cost, lognormal_users, scenario

from infersim.catalog.load import Catalog
from infersim.economics import evaluate_horizon, evaluate_month, usage_params
from infersim.scenario.workload import UsageDist

# A frontier model served at $10 / $40 per 1M input / output tokens (idle capacity included):
# one chat request of 1,500 + 400 tokens costs $0.031, so $20 pays for ~645 requests a month.
COST = engine_cost("main", 10.0, 1.0, 40.0)
USD_PER_REQUEST = (1500 * 10.0 + 400 * 40.0) / 1e6
GROWTH = 0.10


def plus_scenario() -> object:
    return scenario(
        users={
            "plus": lognormal_users(
                "plus", 1_000_000, median=100.0, p99=3000.0, usage_growth_per_month=GROWTH
            )
        },
        plans={"plus": {"price_usd_per_month": 20}},
    )


def test_most_users_profitable_top_decile_not() -> None:
    sc = plus_scenario()
    result = evaluate_month(
        sc, Catalog(), {"main": COST}, [], [], np.random.default_rng(5), sample_cap=200_000
    )
    row, dist = result.table.row("plus"), result.distributions["plus"]
    assert row.gross_margin_pct is not None and row.gross_margin_pct > 40
    assert dist.share_losing_money is not None and dist.share_losing_money < 0.15
    assert dist.p50_usd is not None and dist.p50_usd > 15
    assert dist.p99_usd is not None and dist.p99_usd > 19.5  # the lightest users
    assert dist.top_decile_mean_usd is not None and dist.top_decile_mean_usd < 0
    breakeven = dist.breakeven_requests_per_user_per_month
    assert breakeven is not None and math.isclose(breakeven, 20 / USD_PER_REQUEST)
    # lognormal theory: the median user, the 90th-percentile user (whose margin is p10)
    params = usage_params(UsageDist(dist="lognormal", median=100.0, p99=3000.0))
    assert math.isclose(dist.p50_usd, 20 - USD_PER_REQUEST * params.median, rel_tol=0.01)
    heavy = math.exp(params.mu + 1.2815515655446004 * params.sigma)
    assert dist.p10_usd is not None
    assert math.isclose(dist.p10_usd, 20 - USD_PER_REQUEST * heavy, abs_tol=0.5)
    # and the share of users above breakeven usage
    z = (math.log(breakeven) - params.mu) / params.sigma
    assert math.isclose(dist.share_losing_money, 0.5 * math.erfc(z / math.sqrt(2)), rel_tol=0.03)


def test_usage_growth_flips_the_margin_negative() -> None:
    results = evaluate_horizon(
        plus_scenario(),
        Catalog(),
        {"main": COST},
        [],
        [],
        np.random.default_rng(5),
        months=24,
        sample_cap=200_000,
    )
    margins = [r.table.row("plus").gross_margin_usd for r in results]
    assert margins[0] > 0
    assert all(later < earlier for earlier, later in itertools.pairwise(margins))
    flip = next(m for m, margin in enumerate(margins) if margin < 0)
    # theory: mean cost x (1 + g)^m crosses the price at m = ln(price / mean cost) / ln(1 + g)
    mean_cost = usage_params(UsageDist(dist="lognormal", median=100.0, p99=3000.0)).mean
    mean_cost *= USD_PER_REQUEST
    expected = math.ceil(math.log(20 / mean_cost) / math.log(1 + GROWTH))
    assert abs(flip - expected) <= 1
    assert 3 <= flip <= 18
    losing = [r.distributions["plus"].share_losing_money or 0.0 for r in results]
    assert losing[flip] > losing[0]
