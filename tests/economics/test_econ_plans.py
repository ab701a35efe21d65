"""Plans: caps (throttle, downgrade, overage) per user, breakeven usage, and the free tier."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from econ_fixtures import engine_cost, lognormal_users, scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from infersim.catalog.load import Catalog
from infersim.economics import evaluate_month, sample_requests_per_user
from infersim.economics.plans import (
    PlanTerms,
    RequestEconomics,
    RequestTokens,
    breakeven_requests,
    split_at_cap,
    user_margins_usd,
)
from infersim.scenario.economics import Plan
from infersim.scenario.workload import UsageDist

CATALOG = Catalog()
TOKENS = RequestTokens(input=1500.0, cached_input=0.0, output=400.0)
MAIN = engine_cost("main", 10.0, 1.0, 40.0)  # $0.031 a request of TOKENS
SMALL = engine_cost("small", 1.0, 0.1, 4.0)  # $0.0031 a request
DEPLOYMENTS = {
    "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
}


def plan(cap: dict[str, Any] | None = None, price: float = 20.0) -> Plan:
    return Plan.model_validate({"price_usd_per_month": price, "cap": cap})


def plan_scenario(cap: dict[str, Any] | None, users: int = 5000, **population: Any) -> Any:
    return scenario(
        deployments=DEPLOYMENTS,
        users={"pro": lognormal_users("pro", users, deployment="main", **population)},
        plans={"pro": {"price_usd_per_month": 20, "cap": cap}},
    )


def run(sc: Any, seed: int = 0) -> Any:
    costs = {"main": MAIN, "small": SMALL}
    return evaluate_month(sc, CATALOG, costs, [], [], np.random.default_rng(seed))


def test_cap_in_requests_tokens_or_both() -> None:
    assert math.isinf(PlanTerms.of(plan(), TOKENS).cap_requests)
    assert PlanTerms.of(plan({"requests_per_month": 300}), TOKENS).cap_requests == 300
    by_tokens = PlanTerms.of(plan({"tokens_per_month": 190_000}), TOKENS)
    assert by_tokens.cap_requests == pytest.approx(100)
    both = PlanTerms.of(plan({"requests_per_month": 50, "tokens_per_month": 190_000}), TOKENS)
    assert both.cap_requests == pytest.approx(50)
    overage = PlanTerms.of(
        plan({"requests_per_month": 1, "at_cap": "overage", "overage_usd_per_mtok": 10}), TOKENS
    )
    assert overage.overage_usd_per_request == pytest.approx(1900 * 10 / 1e6)


def test_split_at_cap() -> None:
    split = split_at_cap(np.array([0.0, 5.0, 10.0, 25.0]), 10.0)
    np.testing.assert_array_equal(split.within, [0, 5, 10, 10])
    np.testing.assert_array_equal(split.above, [0, 0, 0, 15])


@pytest.mark.parametrize(
    ("cap", "economics"),
    [
        (math.inf, RequestEconomics(0.031, 0.0, 0.0)),
        (300.0, RequestEconomics(0.031, 0.0031, 0.0)),  # downgrade: breaks even past the cap
        (300.0, RequestEconomics(0.031, 0.031, 0.019)),  # overage billed below cost
        (1000.0, RequestEconomics(0.031, 0.031, 0.019)),  # breaks even under the cap
    ],
)
def test_margin_is_zero_at_breakeven(cap: float, economics: RequestEconomics) -> None:
    usage = breakeven_requests(20.0, cap, economics)
    assert usage is not None
    margin = user_margins_usd(split_at_cap(np.array([usage]), cap), 20.0, economics)
    assert margin[0] == pytest.approx(0.0, abs=1e-9)
    if math.isinf(cap):
        assert usage == pytest.approx(20.0 / 0.031)


@pytest.mark.parametrize(
    "economics",
    [RequestEconomics(0.031, 0.0, 0.0), RequestEconomics(0.031, 0.031, 0.05)],
)
def test_no_breakeven_when_capped_users_stay_profitable(economics: RequestEconomics) -> None:
    """Throttled at 300 requests ($9.30 of cost), or overage billed above cost."""
    assert breakeven_requests(20.0, 300.0, economics) is None


def test_throttle_serves_nothing_above_the_cap() -> None:
    capped = run(plan_scenario({"requests_per_month": 300, "at_cap": "throttle"}))
    free = run(plan_scenario(None))
    row, uncapped = capped.table.row("pro"), free.table.row("pro")
    assert row.requests + row.capped_requests == pytest.approx(uncapped.requests)
    assert row.capped_requests > 0 and row.unserved_requests == 0
    assert row.revenue_usd == uncapped.revenue_usd == 5000 * 20
    assert row.cost_usd < uncapped.cost_usd
    dist = capped.distributions["pro"]
    assert dist.share_losing_money == 0.0  # 300 x $0.031 < $20
    assert dist.breakeven_requests_per_user_per_month is None


def test_downgrade_serves_the_excess_on_the_smaller_model() -> None:
    result = run(plan_scenario({"requests_per_month": 300, "at_cap": "downgrade",
                                "downgrade_deployment": "small"}))  # fmt: skip
    baseline = run(plan_scenario(None))
    row = result.table.row("pro")
    assert row.deployments == ("main", "small")
    assert row.requests == pytest.approx(baseline.table.row("pro").requests)
    small = result.deployments["small"]
    main = result.deployments["main"]
    assert main.requests + small.requests == pytest.approx(row.requests)
    assert small.priced_usd == pytest.approx(small.requests * 0.0031)
    assert main.priced_usd == pytest.approx(main.requests * 0.031)
    assert row.cost_usd == pytest.approx(main.priced_usd + small.priced_usd)


def test_overage_revenue_matches_the_excess_tokens() -> None:
    users = 2000
    sc = plan_scenario(
        {"requests_per_month": 300, "at_cap": "overage", "overage_usd_per_mtok": 5.0}, users
    )
    row = run(sc, seed=3).table.row("pro")
    dist = UsageDist.model_validate({"dist": "lognormal", "median": 100.0, "p99": 3000.0})
    draws = sample_requests_per_user(dist, users, np.random.default_rng(3))
    excess_tokens = np.maximum(draws - 300, 0).sum() * 1900
    assert row.revenue_usd == pytest.approx(users * 20 + excess_tokens * 5.0 / 1e6)
    assert row.revenue_usd > users * 20


@settings(max_examples=40, deadline=None)
@given(
    cap=st.integers(1, 5000),
    seed=st.integers(0, 2**32 - 1),
    median=st.floats(1, 500),
    spread=st.floats(1.5, 100),
    overage=st.floats(0, 100),
)
def test_caps_against_no_cap(
    cap: int, seed: int, median: float, spread: float, overage: float
) -> None:
    """Throttling never costs more than no cap; overage revenue is never negative."""
    population = {"median": median, "p99": median * spread}
    uncapped = run(plan_scenario(None, 500, **population), seed).table.row("pro")
    throttled = run(plan_scenario({"requests_per_month": cap}, 500, **population), seed).table.row(
        "pro"
    )
    billed = run(
        plan_scenario(
            {"requests_per_month": cap, "at_cap": "overage", "overage_usd_per_mtok": overage},
            500,
            **population,
        ),
        seed,
    ).table.row("pro")
    assert throttled.cost_usd <= uncapped.cost_usd * (1 + 1e-12)
    assert throttled.revenue_usd == uncapped.revenue_usd
    assert billed.revenue_usd >= uncapped.revenue_usd
    assert billed.cost_usd == pytest.approx(uncapped.cost_usd, rel=1e-9)


def test_free_tier_earns_ads_on_active_users() -> None:
    sc = scenario(
        users={"free": lognormal_users("free", 1_000_000, median=10, p99=100, active_share=0.4)},
        free_tier={
            "ad_revenue_usd_per_kimpression": 5.0,
            "impressions_per_active_user_per_month": 60,
            "ads_fill_share": 0.5,
        },
    )
    result = evaluate_month(
        sc, CATALOG, {"main": MAIN}, [], [], np.random.default_rng(0), sample_cap=10_000
    )
    row = result.table.row("free")
    assert row.kind == "free"
    assert row.revenue_usd == pytest.approx(400_000 * 60 * 0.5 * 5.0 / 1000)
    assert row.active_users == pytest.approx(400_000)
    assert row.cost_usd > 0
    assert "free" not in result.distributions
