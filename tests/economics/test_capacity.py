"""Capacity commitments: reserved hours are paid at zero load, the bill's parts add up to the
total, spot interruptions (simulated in the engine: tests/serving/test_spot_reclaims.py)
recompute (never lose) requests, and the P&L's GPU line stays the fleet's bill."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from econ_scenarios import SMALL

from infersim.catalog.load import load_builtin
from infersim.economics.capacity import SpotRun, capacity_bill
from infersim.economics.errors import MissingRentalQuoteError
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.deployment import RentedGpu
from infersim.scenario.model import Scenario

H100 = load_builtin().gpu("h100-sxm")


def rented(**fields: Any) -> RentedGpu:
    return RentedGpu.model_validate({"kind": "rented", **fields})


def run_with(gpu: dict[str, Any]) -> RunResult:
    document = copy.deepcopy(SMALL)
    document["costs"] = {"gpu": {"kind": "rented", **gpu}}
    return run_scenario(Scenario.model_validate(document), load_builtin())


def test_reserved_is_paid_at_zero_load() -> None:
    cost = rented(reserved={"gpus": 4, "term_years": 1})
    bill = capacity_bill(cost, H100, 2.99, 0.0, 0.0, 1)
    reserved = next(p for p in bill.parts if p.kind == "reserved_1y")
    assert reserved.gpu_hours_per_month == 4 * HOURS_PER_MONTH
    assert reserved.usd_per_gpu_hour == 2.35  # the catalog's first 1-year H100 quote
    assert math.fsum(p.usd_per_month for p in bill.parts) == reserved.usd_per_month
    assert bill.reserved_idle_gpu_hours_per_month == 4 * HOURS_PER_MONTH


@pytest.mark.parametrize("scheduled", [0.0, 100.0, 2920.0, 10_000.0, 1e6])
@pytest.mark.parametrize("share", [0.0, 0.4, 1.0])
def test_parts_add_up_to_the_hours_and_the_bill(scheduled: float, share: float) -> None:
    cost = rented(
        reserved={"gpus": 4, "discount": 0.3},
        spot={"share": share, "interruptions_per_gpu_hour": 0.02},
    )
    bill = capacity_bill(cost, H100, 3.0, scheduled, 0.6 * scheduled, 2)
    reserved = 4 * HOURS_PER_MONTH
    burst = max(scheduled - reserved, 0.0)
    hours = {p.kind: p.gpu_hours_per_month for p in bill.parts}
    assert set(hours) == {"reserved_1y", "spot", "on_demand"}
    assert hours["spot"] + hours["on_demand"] == pytest.approx(burst, rel=1e-12, abs=1e-9)
    assert hours["spot"] == pytest.approx(burst * share, rel=1e-12, abs=1e-9)
    paid = math.fsum(hours.values())
    assert paid == pytest.approx(max(scheduled, reserved), rel=1e-12)
    rates = {p.kind: p.usd_per_gpu_hour for p in bill.parts}
    assert rates["reserved_1y"] == pytest.approx(3.0 * 0.7)
    assert rates["spot"] == 0.81  # the catalog's H100 spot quote
    # not simulated (an idle fleet): the expected reclaims, each replica's lag missing
    reclaims = hours["spot"] * 0.02
    assert bill.spot_figures == "expected"
    assert bill.spot_interruptions_per_month == pytest.approx(reclaims)
    assert bill.spot_recompute_gpu_hours_per_month == 0.0
    missing = reclaims * 2 * 120.0 / 3600.0 / scheduled if scheduled else 0.0
    assert bill.capacity_missing_share == pytest.approx(missing)
    # simulated: the expected reclaims, each costing what the engine's cost on average;
    # the same hours and dollars
    run = SpotRun(
        reclaims=7.0, requests_recomputed=30.0, recompute_gpu_hours=0.5, down_gpu_hours=3.0
    )
    engine = capacity_bill(cost, H100, 3.0, scheduled, 0.6 * scheduled, 2, spot_run=run)
    assert engine.parts == bill.parts
    assert engine.spot_figures == "engine"
    assert engine.spot_interruptions_per_month == pytest.approx(reclaims)
    assert engine.spot_requests_recomputed_per_month == pytest.approx(reclaims * 30.0 / 7.0)
    assert engine.spot_recompute_gpu_hours_per_month == pytest.approx(reclaims * 0.5 / 7.0)
    assert engine.capacity_missing_share == pytest.approx(missing)
    # none simulated (a window too short for one): as if not simulated
    none = capacity_bill(
        cost, H100, 3.0, scheduled, 0.6 * scheduled, 2, spot_run=SpotRun(0.0, 0.0, 0.0, 0.0)
    )
    assert none.spot_figures == "expected"
    assert none.spot_interruptions_per_month == pytest.approx(reclaims)
    assert none.spot_recompute_gpu_hours_per_month == 0.0


def test_missing_reserved_term_quote_names_the_fix() -> None:
    cost = rented(reserved={"gpus": 1, "term_years": 3})
    with pytest.raises(MissingRentalQuoteError, match="3-year reserved"):
        capacity_bill(cost, H100, 2.99, 100.0, 50.0, 1)


def test_bill_splits_by_kind_and_stays_the_pnl_gpu_line() -> None:
    plain = run_with({})
    mixed = run_with(
        {"reserved": {"gpus": 1}, "spot": {"share": 0.5, "interruptions_per_gpu_hour": 0.1}}
    )
    fleet = mixed.ledger.fleets[0]
    assert {p.kind for p in fleet.parts} == {"reserved_1y", "spot", "on_demand"}
    assert fleet.usd_per_month == math.fsum(p.usd_per_month for p in fleet.parts)
    assert abs(mixed.first_month.pnl.gpu_cost_usd - mixed.ledger.gpu_cost_usd) <= 0.005
    # the same fleet pays the same hours; spot interruptions never lose a request
    assert fleet.gpu_hours_per_month == plain.ledger.fleets[0].gpu_hours_per_month
    [served] = mixed.serving.deployments
    assert served.served_requests == served.requests == plain.serving.deployments[0].requests
    assert [v.requests_per_month for v in mixed.ledger.volumes] == [
        v.requests_per_month for v in plain.ledger.volumes
    ]
    bill = mixed.ledger.capacity["main"]
    assert served.spot is not None
    spot_hours = {p.kind: p for p in fleet.parts}["spot"].gpu_hours_per_month
    assert bill.spot_interruptions_per_month == pytest.approx(spot_hours * 0.1, rel=1e-12)
    reclaims = served.spot.reclaims
    assert bill.spot_figures == ("engine" if reclaims > 0 else "expected")
    per_reclaim = served.spot.recompute_gpu_hours / reclaims if reclaims > 0 else 0.0
    assert bill.spot_recompute_gpu_hours_per_month == pytest.approx(
        bill.spot_interruptions_per_month * per_reclaim, rel=1e-12
    )
    # busy <= paid (the recompute ran on the fleet: within its busy hours)
    assert fleet.busy_gpu_hours_per_month <= fleet.gpu_hours_per_month * (1 + 1e-12)


def test_without_commitments_the_bill_is_one_part() -> None:
    result = run_with({})
    fleet = result.ledger.fleets[0]
    assert [p.kind for p in fleet.parts] == ["on_demand"]
    assert fleet.usd_per_month == fleet.gpu_hours_per_month * fleet.usd_per_gpu_hour


def test_a_commitment_above_the_fleet_is_paid_idle() -> None:
    result = run_with({"reserved": {"gpus": 10, "usd_per_gpu_hour": 2.0}})
    fleet = result.ledger.fleets[0]
    assert fleet.usd_per_month == pytest.approx(10 * HOURS_PER_MONTH * 2.0)
    assert result.ledger.capacity["main"].reserved_idle_gpu_hours_per_month == pytest.approx(
        8 * HOURS_PER_MONTH
    )
    assert fleet.busy_share < run_with({}).ledger.fleets[0].busy_share
