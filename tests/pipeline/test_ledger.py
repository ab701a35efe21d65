"""One traffic model, one ledger: every billed token is served by the simulated fleet, and the
P&L's GPU line is the fleets' bill, to the cent. Properties over every shipped scenario and
over generated ones, and metamorphic relations (what must move, and which way)."""

from __future__ import annotations

import copy
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infersim.catalog.load import load_builtin
from infersim.economics.api_prices import product_prices
from infersim.pipeline.run import RunResult, run_loaded, run_scenario
from infersim.report.economics import economics_tables
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario
from infersim.workload.trace import load_external_data

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
CENT = 0.005


def run(document: dict[str, Any]) -> RunResult:
    return run_scenario(Scenario.model_validate(document), load_builtin())


@cache
def run_file(path: str | None) -> RunResult:
    loaded = load_scenario(None if path is None else Path(path))
    return run_loaded(loaded, load_external_data(loaded.scenario, loaded.base_dir))


def assert_conserved(result: RunResult) -> None:
    """The ledger's laws, for every month of a run."""
    for month in result.months:
        pnl, total = month.pnl, month.table.total
        fleets = {name: d for name, d in month.deployments.items() if d.fleet_usd is not None}
        bill = math.fsum(d.fleet_usd or 0.0 for d in fleets.values())
        # the P&L's GPU line is the fleets' bill, to the cent
        assert abs(pnl.gpu_cost_usd - bill) <= CENT, (pnl.gpu_cost_usd, bill)
        # segments add up to the totals
        rows = month.table.rows
        assert math.fsum(r.gpu_cost_usd for r in rows) == pytest.approx(
            total.gpu_cost_usd, rel=1e-9, abs=CENT
        )
        assert math.fsum(r.revenue_usd for r in rows) == pytest.approx(
            total.revenue_usd, rel=1e-9, abs=CENT
        )
        # tokens billed on a fleet are the tokens it served, and busy <= paid
        for d in fleets.values():
            assert d.charged_usd == pytest.approx(d.fleet_usd, rel=1e-12, abs=CENT)
            assert d.busy_share is not None and 0.0 <= d.busy_share <= 1.0
    ledger = result.ledger
    served = {d.name: d for d in result.serving.deployments}
    to_month = 730.0 * 3600.0 / result.serving.horizon_s
    first = result.first_month
    assert abs(first.pnl.gpu_cost_usd - ledger.gpu_cost_usd) <= CENT
    for fleet in ledger.fleets:
        cost = first.deployments.get(fleet.deployment)
        assert cost is not None and abs(cost.charged_usd - fleet.usd_per_month) <= CENT
        assert fleet.busy_gpu_hours_per_month <= fleet.gpu_hours_per_month * (1 + 1e-12)
        engine = served.get(fleet.deployment)
        if engine is None:
            continue
        assert engine.gpu_hours_busy <= engine.gpu_hours_scheduled * (1 + 1e-9)
        billed_in = cost.input_tokens
        billed_out = cost.output_tokens
        assert billed_in == pytest.approx(engine.served_input_tokens * to_month, rel=1e-9)
        assert billed_out == pytest.approx(engine.served_output_tokens * to_month, rel=1e-9)
        assert engine.served_requests <= engine.requests * (1 + 1e-12)


def assert_per_token_revenue_bounded(result: RunResult) -> None:
    """Per-token products earn at most their price on the tokens served."""
    scenario = result.scenario
    month = result.first_month
    for row in month.table.rows:
        if row.kind != "api" or row.product is None:
            continue
        product = scenario.pricing.api[row.product]
        prices = product_prices(product, row.product, load_builtin())
        top = max(prices.input_usd_per_mtok, prices.output_usd_per_mtok)
        multiplier = max(product.long_context_multiplier, 1.0)
        bound = top * multiplier * (row.input_tokens + row.output_tokens) / 1e6
        assert row.revenue_usd <= bound * (1 + 1e-9) + CENT


@pytest.mark.parametrize("path", [None, *map(str, CONFIGS)], ids=lambda p: p or "default")
def test_every_shipped_scenario_conserves(path: str | None) -> None:
    result = run_file(path)
    assert_conserved(result)
    assert_per_token_revenue_bounded(result)


def test_the_default_runs_pnl_gpu_line_is_its_fleet_table() -> None:
    result = run_file(None)
    (fleet,) = result.ledger.fleets
    assert fleet.deployment == "main"
    # 4 replicas x 2 H100 x 730 h, every hour paid
    assert fleet.gpu_hours_per_month == pytest.approx(4 * 2 * 730.0)
    assert round(result.first_month.pnl.gpu_cost_usd, 2) == round(fleet.usd_per_month, 2)
    # every population is simulated: the engine served the plus and free users' traffic
    classes = {c.name for c in result.serving.deployment("main").classes}
    assert {"chat", "users:plus", "users:free"} <= classes


# ---------------------------------------------------------------------------------------------
# Metamorphic relations on a small fixed fleet
# ---------------------------------------------------------------------------------------------

SMALL: dict[str, Any] = {
    "name": "small",
    "seed": 5,
    "deployments": {
        "main": {
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "replicas": 2,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
        }
    },
    "fleet": {"mode": "fixed", "replications": 1},
    "workload": {
        "classes": {
            "chat": {
                "arrival": {"process": "poisson", "rate_per_s": 4.0},
                "prompt_tokens": {"dist": "fixed", "tokens": 800},
                "output_tokens": {"dist": "fixed", "tokens": 200},
            }
        },
        "users": {
            "plus": {
                "plan": "plus",
                "users": 20000,
                "active_share": 0.5,
                "requests_per_user_per_month": {"dist": "lognormal", "median": 100, "p99": 2000},
                "prompt_tokens_per_request": 800,
                "output_tokens_per_request": 200,
            }
        },
    },
    "pricing": {
        "api": {"main-api": {"deployment": "main", "input_usd_per_mtok": 0.3,
                             "output_usd_per_mtok": 0.6}},
        "plans": {"plus": {"price_usd_per_month": 20}},
    },
    "costs": {"gpu": {"kind": "rented", "usd_per_gpu_hour": 2.0}},
    "horizon": {"simulated_s": 300, "months": 1},
}  # fmt: skip


def edit(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


def test_doubling_every_price_doubles_revenue_and_leaves_cost() -> None:
    base = run(SMALL)
    doubled = edit(SMALL, "pricing.api.main-api.input_usd_per_mtok", 0.6)
    doubled = edit(doubled, "pricing.api.main-api.output_usd_per_mtok", 1.2)
    doubled = edit(doubled, "pricing.plans.plus.price_usd_per_month", 40)
    twice = run(doubled)
    assert twice.first_month.pnl.revenue_usd == pytest.approx(
        2 * base.first_month.pnl.revenue_usd, rel=1e-12
    )
    assert twice.first_month.pnl.serving_cost_usd == base.first_month.pnl.serving_cost_usd


def test_doubling_the_gpu_hour_doubles_gpu_cost() -> None:
    base = run(SMALL)
    twice = run(edit(SMALL, "costs.gpu.usd_per_gpu_hour", 4.0))
    assert twice.first_month.pnl.gpu_cost_usd == pytest.approx(
        2 * base.first_month.pnl.gpu_cost_usd, rel=1e-12
    )


def test_one_more_replica_adds_exactly_its_gpu_hours() -> None:
    base = run(SMALL)
    more = run(edit(SMALL, "deployments.main.replicas", 3))
    added = more.first_month.pnl.gpu_cost_usd - base.first_month.pnl.gpu_cost_usd
    assert added == pytest.approx(1 * 1 * 730.0 * 2.0, rel=1e-12)


def test_more_traffic_on_a_fixed_fleet_fills_it_then_goes_unserved() -> None:
    rates = [1.0, 4.0, 16.0, 400.0]
    results = [run(edit(SMALL, "workload.classes.chat.arrival.rate_per_s", r)) for r in rates]
    fleets = [r.ledger.fleets[0] for r in results]
    bills = {round(f.usd_per_month, 6) for f in fleets}
    assert len(bills) == 1  # a fixed fleet's bill does not move with traffic
    busy = [f.busy_share for f in fleets]
    assert busy[0] < busy[1] < busy[2]
    per_mtok = [r.first_month.deployments["main"].cost_usd_per_mtok for r in results]
    assert per_mtok[0] is not None and per_mtok[1] is not None and per_mtok[2] is not None
    assert per_mtok[0] > per_mtok[1] > per_mtok[2]
    assert all(r.first_month.pnl.unserved_requests == 0 for r in results[:3])
    overloaded = results[3]
    assert overloaded.first_month.pnl.unserved_requests > 0
    assert overloaded.first_month.pnl.revenue_foregone_usd > 0
    assert overloaded.serving.deployment("main").verdict is not None
    assert_conserved(overloaded)


def test_a_larger_fleet_serves_more_of_an_overloaded_demand() -> None:
    heavy = edit(SMALL, "workload.classes.chat.arrival.rate_per_s", 400.0)
    one = run(edit(heavy, "deployments.main.replicas", 1))
    twenty = run(edit(heavy, "deployments.main.replicas", 20))
    served_one = one.serving.deployment("main").served_requests
    served_twenty = twenty.serving.deployment("main").served_requests
    assert served_twenty > 2 * served_one
    api_one = one.first_month.table.row("chat").revenue_usd
    api_twenty = twenty.first_month.table.row("chat").revenue_usd
    assert api_twenty > api_one  # revenue is booked on served tokens only


# ---------------------------------------------------------------------------------------------
# Generated scenarios
# ---------------------------------------------------------------------------------------------


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    rate=st.floats(0.1, 60.0),
    replicas=st.integers(1, 4),
    users=st.integers(0, 200_000),
    usd_per_gpu_hour=st.floats(0.5, 8.0),
    price=st.floats(1.0, 60.0),
    cap=st.one_of(st.none(), st.integers(10, 2000)),
)
def test_generated_scenarios_conserve(
    rate: float,
    replicas: int,
    users: int,
    usd_per_gpu_hour: float,
    price: float,
    cap: int | None,
) -> None:
    document = edit(SMALL, "workload.classes.chat.arrival.rate_per_s", rate)
    document = edit(document, "deployments.main.replicas", replicas)
    document = edit(document, "workload.users.plus.users", users)
    document = edit(document, "costs.gpu.usd_per_gpu_hour", usd_per_gpu_hour)
    plan: dict[str, Any] = {"price_usd_per_month": price}
    if cap is not None:
        plan["cap"] = {"requests_per_month": cap, "at_cap": "throttle"}
    document = edit(document, "pricing.plans.plus", plan)
    document = edit(document, "horizon.simulated_s", 120)
    result = run(document)
    assert_conserved(result)
    assert_per_token_revenue_bounded(result)
    bill = replicas * 730.0 * usd_per_gpu_hour
    assert result.first_month.pnl.gpu_cost_usd == pytest.approx(bill, rel=1e-12)


def test_unserved_demand_is_shown_where_it_happened() -> None:
    overloaded = run(edit(SMALL, "workload.classes.chat.arrival.rate_per_s", 400.0))
    (margins, *_) = economics_tables(overloaded, "small")
    assert "unserved" in margins.columns
    chat = next(cells for cells in margins.rows if cells[0] == "chat")
    assert str(chat[margins.columns.index("unserved")]).endswith("%)")
    assert any("could not serve" in line for line in overloaded.capacity_warnings())
    calm = run(SMALL)
    assert "unserved" not in economics_tables(calm, "small")[0].columns
    assert calm.capacity_warnings() == []
