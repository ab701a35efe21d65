"""Dollar conservation, GPU-price monotonicity and the empty case, over whole months."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from econ_fixtures import (
    engine_consistent_cost,
    engine_cost,
    lognormal_users,
    scenario,
    volume,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from infersim.catalog.load import Catalog
from infersim.economics import (
    EconomicsResult,
    FleetCost,
    TokenCost,
    evaluate_month,
    token_cost_from_fleet,
)

CATALOG = Catalog()
DEPLOYMENTS = {
    "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
    "gpt": {
        "kind": "api",
        "input_usd_per_mtok": 2.5,
        "output_usd_per_mtok": 10.0,
        "batch_discount": 0.5,
    },
}


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def full_scenario(users: int = 20_000, overhead_share: float = 0.15, fixed: float = 5000) -> Any:
    return scenario(
        deployments=DEPLOYMENTS,
        users={
            "plus": lognormal_users(
                "plus", users, active_share=0.8, deployment="main", cached_prefix_share=0.3
            ),
            "free": lognormal_users("free", users * 10, median=10, p99=200, deployment="small"),
        },
        plans={
            "plus": {
                "price_usd_per_month": 20,
                "cap": {
                    "requests_per_month": 1000,
                    "at_cap": "downgrade",
                    "downgrade_deployment": "small",
                },
            }
        },
        api={
            "main-api": {
                "deployment": "main",
                "input_usd_per_mtok": 0.9,
                "cached_input_usd_per_mtok": 0.45,
                "output_usd_per_mtok": 0.9,
                "batch_discount": 0.5,
            },
            "gpt-api": {"deployment": "gpt", "input_usd_per_mtok": 3, "output_usd_per_mtok": 12},
        },
        free_tier={
            "ad_revenue_usd_per_kimpression": 4,
            "impressions_per_active_user_per_month": 30,
        },
        contracts={"acme": {"fee_usd_per_month": 50_000, "deployment": "main"}},
        costs={
            "serving_overhead_share": overhead_share,
            "serving_overhead_usd_per_month": fixed,
            "operating_usd_per_month": {"staff": 300_000, "training": 100_000},
        },
    )


VOLUMES = [
    volume("chat", "main", 2e6, cached_share=0.2),
    volume("batch", "main", 5e5, prompt=3000, output=500, batch=True),
    volume("resold", "gpt", 1e5, output=300),
    volume("resold-batch", "gpt", 2e5, output=300, batch=True),
]
TOKEN_COSTS = {
    "main": engine_cost("main", 0.3, 0.03, 1.2),
    "small": engine_cost("small", 0.05, 0.005, 0.2),
}
BIG_FLEETS = [FleetCost("main", 500_000, 0.4, 3.0), FleetCost("small", 100_000, 0.3, 2.0)]


def evaluate(
    sc: Any = None,
    costs: dict[str, TokenCost] | None = None,
    volumes: list[Any] | None = None,
    fleets: list[FleetCost] | None = None,
    seed: int = 0,
    cap: int = 50_000,
) -> EconomicsResult:
    return evaluate_month(
        full_scenario() if sc is None else sc,
        CATALOG,
        TOKEN_COSTS if costs is None else costs,
        VOLUMES if volumes is None else volumes,
        BIG_FLEETS if fleets is None else fleets,
        np.random.default_rng(seed),
        sample_cap=cap,
    )


def test_engine_volumes_pay_exactly_the_fleet_bill() -> None:
    fleet = FleetCost("main", 16 * 730, 0.55, 2.99)
    volumes = VOLUMES[:2]
    cost = engine_consistent_cost(fleet, volumes)
    sc = full_scenario(users=0)
    result = evaluate(sc, {"main": cost}, volumes, [fleet])
    charged = sum(result.table.row(v.name).gpu_cost_usd for v in volumes)
    assert rel(charged, fleet.usd_per_month) < 1e-9
    assert result.deployments["main"].factor == pytest.approx(1.0, rel=1e-9)
    assert rel(result.pnl.gpu_cost_usd, fleet.usd_per_month) < 1e-9


def test_idle_capacity_is_paid() -> None:
    """A fleet larger than its traffic: the segments pay the whole bill, idle hours too."""
    result = evaluate()
    bills = sum(f.usd_per_month for f in BIG_FLEETS)
    assert all(result.deployments[f.deployment].priced_usd < f.usd_per_month for f in BIG_FLEETS)
    assert rel(result.pnl.gpu_cost_usd, bills) < 1e-9
    on_main = [r for r in result.table.rows if "main" in r.deployments]
    main_gpu = sum(r.gpu_cost_usd for r in on_main if r.deployments == ("main",))
    assert main_gpu <= BIG_FLEETS[0].usd_per_month * (1 + 1e-9)


def test_a_fleet_is_charged_its_bill_whatever_is_priced_on_it() -> None:
    """No demand is bought beyond a fleet at a marginal cost: what a fleet could not serve is
    unserved (the pipeline books only served tokens), and the GPU line is the bill."""
    small_fleets = [FleetCost("main", 10, 1.0, 3.0), FleetCost("small", 10, 1.0, 2.0)]
    result = evaluate(fleets=small_fleets)
    for fleet in small_fleets:
        deployment = result.deployments[fleet.deployment]
        assert deployment.charged_usd == fleet.usd_per_month
        assert deployment.priced_usd > deployment.charged_usd
    assert rel(result.pnl.gpu_cost_usd, sum(f.usd_per_month for f in small_fleets)) < 1e-12


def test_dollars_are_conserved() -> None:
    sc = full_scenario()
    result = evaluate(sc)
    table, pnl = result.table, result.pnl
    total = table.total
    # revenue from the formulas, independently of the rows
    active_free = 200_000.0
    ads = active_free * 30 * 4 / 1000
    chat_in = 2e6 * 1000
    api = (chat_in * 0.8 * 0.9 + chat_in * 0.2 * 0.45 + 2e6 * 250 * 0.9) / 1e6
    api += (5e5 * 3000 * 0.9 + 5e5 * 500 * 0.9) / 1e6 * 0.5
    api += (1e5 * 1000 * 3 + 1e5 * 300 * 12) / 1e6
    api += (2e5 * 1000 * 3 + 2e5 * 300 * 12) / 1e6  # the resale product has no batch tier
    revenue = 20_000 * 20 + ads + api + 50_000
    assert rel(total.revenue_usd, revenue) < 1e-9
    # costs: every provisioned GPU dollar, the API bill at list price, and the overhead
    gpu = sum(f.usd_per_month for f in BIG_FLEETS)
    resold = (1e5 * 1000 * 2.5 + 1e5 * 300 * 10) / 1e6
    resold += (2e5 * 1000 * 2.5 + 2e5 * 300 * 10) / 1e6 * 0.5  # bought at the batch price
    overhead = 0.15 * gpu + 5000
    assert rel(total.gpu_cost_usd, gpu) < 1e-9
    assert rel(total.api_cost_usd, resold) < 1e-9
    assert rel(total.overhead_usd, overhead) < 1e-9
    assert rel(total.cost_usd, gpu + resold + overhead) < 1e-9
    # segments add up to the totals and the P&L
    for name in ("revenue_usd", "cost_usd", "gpu_cost_usd", "overhead_usd", "gross_margin_usd"):
        parts = math.fsum(getattr(row, name) for row in table.rows)
        assert rel(parts, getattr(total, name)) < 1e-6, name
    assert rel(pnl.serving_cost_usd, total.cost_usd) < 1e-12
    assert (
        rel(pnl.gpu_cost_usd + pnl.api_cost_usd + pnl.serving_overhead_usd, total.cost_usd) < 1e-9
    )
    assert pnl.operating_cost_total_usd == 400_000
    assert pnl.operating_margin_usd == pytest.approx(total.gross_margin_usd - 400_000)
    spent = (total.cost_usd + 400_000) / total.revenue_usd
    assert pnl.spent_per_revenue_usd == pytest.approx(spent)
    # per deployment: what the segments were charged is what the deployments cost
    charged = math.fsum(d.charged_usd for d in result.deployments.values())
    assert rel(charged, total.gpu_cost_usd + total.api_cost_usd) < 1e-9


def test_per_user_margins_add_up_to_the_plan_row() -> None:
    result = evaluate(cap=1_000_000)
    row, dist = result.table.row("plus"), result.distributions["plus"]
    assert dist.mean_usd is not None
    assert rel(dist.mean_usd * dist.users, row.gross_margin_usd) < 1e-9


def test_segment_name_clash_is_qualified() -> None:
    sc = full_scenario()
    result = evaluate(sc, volumes=[*VOLUMES, volume("plus", "main", 10.0)])
    assert {"plan:plus", "api:plus"} <= {row.segment for row in result.table.rows}


def _scaled(costs: dict[str, TokenCost], fleets: list[FleetCost], factor: float) -> Any:
    scaled_costs = {
        name: dataclasses.replace(
            c,
            usd_per_mtok_input=c.usd_per_mtok_input * factor,
            usd_per_mtok_cached_input=c.usd_per_mtok_cached_input * factor,
            usd_per_mtok_output=c.usd_per_mtok_output * factor,
        )
        for name, c in costs.items()
    }
    scaled_fleets = [
        dataclasses.replace(f, usd_per_gpu_hour=f.usd_per_gpu_hour * factor) for f in fleets
    ]
    return scaled_costs, scaled_fleets


@settings(max_examples=40, deadline=None)
@given(
    usd_per_hour=st.floats(0.1, 20),
    gpu_hours=st.floats(0, 2e6),
    rate=st.floats(0.01, 20),
    share=st.floats(0, 1),
    fixed=st.floats(0, 1e5),
    users=st.integers(0, 50_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_doubling_the_gpu_price(
    usd_per_hour: float,
    gpu_hours: float,
    rate: float,
    share: float,
    fixed: float,
    users: int,
    seed: int,
) -> None:
    """Doubling $/GPU-hour doubles the GPU cost and never raises the margin: the company's, or
    that of a segment served on our GPUs only. (A segment served from an API at list price can
    gain: it carries a smaller share of the fixed overhead, allocated by serving cost.)"""
    sc = full_scenario(users=users, overhead_share=share, fixed=fixed)
    costs = {
        "main": engine_cost("main", rate, rate / 10, rate * 4),
        "small": engine_cost("small", rate / 5, rate / 50, rate),
    }
    fleets = [FleetCost("main", gpu_hours, 0.5, usd_per_hour)]
    base = evaluate(sc, costs, VOLUMES, fleets, seed, cap=2000)
    double_costs, double_fleets = _scaled(costs, fleets, 2.0)
    doubled = evaluate(sc, double_costs, VOLUMES, double_fleets, seed, cap=2000)
    assert doubled.pnl.gpu_cost_usd == pytest.approx(2 * base.pnl.gpu_cost_usd, rel=1e-9)
    assert doubled.pnl.api_cost_usd == pytest.approx(base.pnl.api_cost_usd, rel=1e-12)
    tol = 1e-9 * max(1.0, base.pnl.revenue_usd)
    assert doubled.pnl.gross_margin_usd <= base.pnl.gross_margin_usd + tol
    assert doubled.pnl.operating_margin_usd <= base.pnl.operating_margin_usd + tol
    for before, after in zip(base.table.rows, doubled.table.rows, strict=True):
        if before.api_cost_usd == 0:
            assert after.gross_margin_usd <= before.gross_margin_usd + tol
    # a dearer fleet alone (same per-token costs) never lowers the cost either
    _, only_fleet = _scaled(costs, fleets, 2.0)
    dearer = evaluate(sc, costs, VOLUMES, only_fleet, seed, cap=2000)
    assert dearer.pnl.gpu_cost_usd >= base.pnl.gpu_cost_usd * (1 - 1e-12)
    assert dearer.pnl.gross_margin_usd <= base.pnl.gross_margin_usd + tol


def _no_nan(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            _no_nan(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nan(item)


def test_zero_users_give_zero_revenue_and_a_clean_table() -> None:
    sc = full_scenario(users=0, fixed=0.0)
    result = evaluate(sc, volumes=[], fleets=[])
    sc_empty = scenario(
        users={"plus": lognormal_users("plus", 0)}, plans={"plus": {"price_usd_per_month": 20}}
    )
    empty = evaluate_month(
        sc_empty, CATALOG, {"main": TOKEN_COSTS["main"]}, [], [], np.random.default_rng(0)
    )
    for res in (result, empty):
        _no_nan(dataclasses.asdict(res.table))
        _no_nan(dataclasses.asdict(res.pnl))
        _no_nan([dataclasses.asdict(d) for d in res.distributions.values()])
    total = empty.table.total
    assert total.revenue_usd == 0.0 and total.cost_usd == 0.0
    assert total.gross_margin_pct is None
    assert total.cost_usd_per_mtok is None and total.price_usd_per_mtok is None
    assert empty.pnl.operating_margin_pct is None and empty.pnl.spent_per_revenue_usd is None
    dist = empty.distributions["plus"]
    assert dist.p50_usd is None and dist.share_losing_money is None and dist.mean_usd is None
    # with a contract but no users: revenue is only the fee
    assert result.table.total.revenue_usd == 50_000
    assert result.table.row("plus").gross_margin_pct is None


def test_a_fleet_without_traffic_is_an_unallocated_cost() -> None:
    sc = scenario(
        users={"plus": lognormal_users("plus", 0)},
        plans={"plus": {"price_usd_per_month": 20}},
        costs={"serving_overhead_share": 0.1},
    )
    fleet = FleetCost("main", 1460, 0.0, 2.0)
    result = evaluate_month(sc, CATALOG, {}, [], [fleet], np.random.default_rng(0))
    idle = result.table.row("idle fleet: main")
    assert idle.kind == "unallocated"
    assert idle.gpu_cost_usd == pytest.approx(2920)
    assert idle.overhead_usd == pytest.approx(292)
    assert result.pnl.gross_margin_usd == pytest.approx(-3212)
    assert result.table.total.gross_margin_pct is None


def test_fixed_overhead_without_serving_cost_is_unallocated() -> None:
    sc = scenario(
        contracts={"acme": {"fee_usd_per_month": 1000}},
        costs={"serving_overhead_usd_per_month": 300},
    )
    result = evaluate_month(sc, CATALOG, {}, [], [], np.random.default_rng(0))
    assert result.table.row("serving overhead").overhead_usd == 300
    assert result.table.total.gross_margin_usd == pytest.approx(700)
    assert result.table.total.gross_margin_pct == pytest.approx(70)


@settings(max_examples=60, deadline=None)
@given(
    bill=st.floats(0, 1e7),
    tokens_in=st.just(0.0) | st.floats(1, 1e12),
    cached=st.sampled_from([0.0, 0.3, 1.0]),
    tokens_out=st.just(0.0) | st.floats(1, 1e12),
    prefill=st.floats(0, 1),
    relative=st.just(0.0) | st.floats(0.01, 1),
)
def test_token_cost_from_fleet_spreads_the_bill_exactly(
    bill: float, tokens_in: float, cached: float, tokens_out: float, prefill: float, relative: float
) -> None:
    cost = token_cost_from_fleet(
        "main", bill, tokens_in, tokens_in * cached, tokens_out, prefill, relative
    )
    served = cost.usd(tokens_in, tokens_in * cached, tokens_out)
    prompt_units = tokens_in * (1 - cached) + relative * tokens_in * cached
    if prompt_units > 0 or tokens_out > 0:
        assert served == pytest.approx(bill, rel=1e-9, abs=1e-9)
    else:
        assert served == 0.0
    if prompt_units > 0 and tokens_out > 0:
        uncached_usd = tokens_in * (1 - cached) * cost.usd_per_mtok_input
        cached_usd = tokens_in * cached * cost.usd_per_mtok_cached_input
        assert (uncached_usd + cached_usd) / 1e6 == pytest.approx(
            bill * prefill, rel=1e-9, abs=1e-9
        )


def test_engine_token_cost_and_fleet_conserve_dollars_end_to_end() -> None:
    """The integrator's path: engine tokens and bill -> TokenCost -> segments pay the bill."""
    fleet = FleetCost("main", 16 * 730, 0.62, 2.99)
    volumes = VOLUMES[:2]
    tokens_in = sum(v.input_tokens_per_month for v in volumes)
    cached = sum(v.cached_input_tokens_per_month for v in volumes)
    tokens_out = sum(v.output_tokens_per_month for v in volumes)
    cost = token_cost_from_fleet("main", fleet.usd_per_month, tokens_in, cached, tokens_out, 0.35)
    result = evaluate(full_scenario(users=0), {"main": cost}, volumes, [fleet])
    assert (
        rel(sum(result.table.row(v.name).gpu_cost_usd for v in volumes), fleet.usd_per_month) < 1e-9
    )
    assert result.deployments["main"].factor == pytest.approx(1.0, rel=1e-9)
