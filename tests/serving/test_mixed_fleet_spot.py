"""Mixed fleets x spot capacity: each pool's replicas reclaimed at its own pool's rate, their
requests sent back to the pool routing and recomputed on replicas up in any pool, per-pool
figures that add up to the deployment's and feed each pool's bill; and cheapest-first routing
by the marginal rate (reserved hours are paid anyway)."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from serving_helpers import CATALOG

from infersim.economics.capacity import marginal_usd_per_gpu_hour
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.pipeline.run import run_scenario
from infersim.report.serving import serving_json
from infersim.scenario.deployment import RentedGpu
from infersim.scenario.model import Scenario
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.interruptions import SpotReclaims
from infersim.serving.mixed import chooser, replica_perfs
from infersim.serving.result import DeploymentServing, SpotServing
from infersim.serving.simulate import deployment_plan, deployment_signature, simulate
from infersim.workload.stream import build_requests
from infersim.workload.trace import ExternalData

HORIZON_S = 3600.0
SPOT_FIGURES = (
    "reclaims", "requests_recomputed", "requests_moved", "recomputed_tokens",
    "recompute_gpu_hours", "down_gpu_hours",
)  # fmt: skip


def document(rate_per_s: float = 6.0, **pools: dict[str, Any]) -> dict[str, Any]:
    """Two dear H100 replicas (on demand) listed before two cheap A100 ones; `pools` changes
    a pool by name (its `cost` replaced)."""
    members = {
        "h100": {"name": "h100", "gpu": "h100-sxm", "replicas": 2,
                 "cost": {"usd_per_gpu_hour": 3.0}},
        "a100": {"name": "a100", "gpu": "a100-sxm-80gb", "replicas": 2,
                 "cost": {"usd_per_gpu_hour": 1.5}},
    }  # fmt: skip
    for name, change in pools.items():
        members[name] = {**members[name], **change}
    return {
        "name": "mixed-spot",
        "seed": 9,
        "deployments": {"main": {"model": "llama-3.1-8b", "pools": list(members.values())}},
        "fleet": {"replications": 1, "slo": {"tpot_p99_s": 0.02}},
        "workload": {
            "classes": {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
                    "prompt_tokens": {"dist": "lognormal", "p50_tokens": 600, "p99_tokens": 4000},
                    "output_tokens": {"dist": "lognormal", "p50_tokens": 200, "p99_tokens": 1500},
                }
            }
        },
        "pricing": {
            "api": {"a": {"deployment": "main", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}}
        },
        "horizon": {"simulated_s": HORIZON_S, "months": 1},
    }


def spot_cost(
    rate: float, usd: float = 1.5, lag_s: float = 300.0, share: float = 1.0, **more: Any
) -> dict[str, Any]:
    spot = {"share": share, "usd_per_gpu_hour": usd, "interruptions_per_gpu_hour": rate,
            "replacement_lag_s": lag_s}  # fmt: skip
    return {"cost": {"usd_per_gpu_hour": 1.5, "spot": spot, **more}}


def scenario(rate_per_s: float = 6.0, **pools: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(copy.deepcopy(document(rate_per_s, **pools)))


def served(rate_per_s: float = 6.0, **pools: dict[str, Any]) -> DeploymentServing:
    return simulate(scenario(rate_per_s, **pools), catalog=CATALOG).deployments[0]


def by_name(d: DeploymentServing) -> dict[str, Any]:
    return {p.name: p for p in d.mixed_pools}


def assert_nothing_lost(d: DeploymentServing) -> None:
    assert d.completed == d.requests > 0
    assert d.served_requests == d.requests
    assert d.served_input_tokens == d.input_tokens
    assert d.served_output_tokens == d.output_tokens
    for pool in d.mixed_pools:
        assert pool.gpu_hours_busy <= pool.gpu_hours_scheduled


def test_reclaims_only_on_the_spot_pool_and_no_request_lost() -> None:
    d = served(a100=spot_cost(1.0))
    pools = by_name(d)
    assert pools["h100"].spot is None  # a pool without spot is never reclaimed
    a100 = pools["a100"].spot
    assert a100 is not None and a100.reclaims >= 1
    assert a100.requests_recomputed > 0 and a100.recomputed_tokens > 0
    assert a100.rate_per_replica_hour == pytest.approx(1.0)
    assert d.spot is not None and d.spot.reclaims == a100.reclaims
    assert d.spot.rate_per_replica_hour == pytest.approx(0.5)  # the mean over 4 replicas
    assert d.spot.replacement_lag_s == 300.0
    assert pools["h100"].output_tokens_per_s > 0  # the moved requests went somewhere
    assert_nothing_lost(d)


def test_per_pool_figures_add_up_to_the_deployments() -> None:
    both = document(
        h100=spot_cost(1.0, usd=2.0, lag_s=120.0), a100=spot_cost(1.0, share=0.5, lag_s=600.0)
    )
    both["seed"] = 14  # a seed under which both pools see reclaims
    d = simulate(Scenario.model_validate(both), catalog=CATALOG).deployments[0]
    assert d.spot is not None
    rows = [p.spot for p in d.mixed_pools]
    assert all(isinstance(row, SpotServing) and row.reclaims > 0 for row in rows)
    spots = [row for row in rows if row is not None]
    for figure in SPOT_FIGURES:
        total = math.fsum(getattr(row, figure) for row in spots)
        assert getattr(d.spot, figure) == pytest.approx(total, rel=1e-12), figure
    # the deployment's lag: the pools', weighted by their expected reclaims (2:1)
    assert d.spot.replacement_lag_s == pytest.approx((2 * 120.0 + 1 * 600.0) / 3)
    assert d.spot.rate_per_replica_hour == pytest.approx(0.75)
    assert_nothing_lost(d)


def test_each_pools_reclaims_follow_their_poisson_expectation() -> None:
    """Each pool's replica is reclaimed at interruptions_per_gpu_hour x its GPUs x the spot
    share of its own pool's hours: the H100 pool all spot (rate 0.5); the A100 pool with one
    of its two GPUs reserved and half the rest spot, a quarter of its hours (rate 0.25)."""
    horizon_s, reps = 40_000.0, 3
    document_ = document(
        0.1,
        h100=spot_cost(0.5, usd=2.0),
        a100=spot_cost(1.0, share=0.5, reserved={"gpus": 1, "usd_per_gpu_hour": 1.0}),
    )
    document_["horizon"]["simulated_s"] = horizon_s
    document_["fleet"]["replications"] = reps
    d = simulate(Scenario.model_validate(document_), catalog=CATALOG).deployments[0]
    for name, rate in (("h100", 0.5), ("a100", 0.25)):
        row = by_name(d)[name].spot
        assert row is not None and row.rate_per_replica_hour == pytest.approx(rate)
        expected = rate * 2 * horizon_s / 3600.0  # per replication
        sigma = math.sqrt(expected / reps)  # of the mean over replications
        assert abs(row.reclaims - expected) <= 4 * sigma, (name, row.reclaims, expected)
        assert row.reclaims > 0
    assert_nothing_lost(d)


def test_a_zero_rate_is_no_spot_byte_identical() -> None:
    """At the on-demand price, a pool's spot at a zero rate routes and serves as no spot."""
    plain = served()
    zero = served(a100=spot_cost(0.0))
    a100 = by_name(zero)["a100"].spot
    assert zero.spot is not None and a100 is not None
    assert all(getattr(a100, figure) == 0 for figure in SPOT_FIGURES)
    pools = tuple(replace(p, spot=None) for p in zero.mixed_pools)
    assert replace(zero, spot=None, mixed_pools=pools) == plain


def test_same_seed_same_output() -> None:
    spotty = scenario(a100=spot_cost(1.0), h100=spot_cost(0.5, usd=2.0))
    a = serving_json(simulate(spotty, catalog=CATALOG))
    b = serving_json(simulate(spotty.model_copy(deep=True), catalog=CATALOG))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    main = a["deployments"]["main"]
    assert "spot" in main and "spot" in main["mixed_pools"]["a100"]


def test_each_pools_bill_takes_its_own_expected_reclaims_and_engine_cost() -> None:
    result = run_scenario(
        scenario(a100=spot_cost(1.0, share=0.5), h100=spot_cost(1.0, usd=2.0)), CATALOG
    )
    [d] = result.serving.deployments
    to_month = HOURS_PER_MONTH * 3600.0 / result.serving.horizon_s
    rows = by_name(d)
    expected_total = 0.0
    for pool in result.ledger.pools["main"]:
        row = rows[pool.pool].spot
        assert row is not None and pool.capacity is not None
        parts = {p.kind: p for p in pool.fleet.parts}
        expected = parts[f"pool:{pool.pool}:spot"].gpu_hours_per_month * 1.0  # x the rate
        expected_total += expected
        assert pool.capacity.spot_interruptions_per_month == expected
        assert pool.capacity.spot_figures == ("engine" if row.reclaims > 0 else "expected")
        per_reclaim = row.recompute_gpu_hours / row.reclaims if row.reclaims > 0 else 0.0
        assert pool.capacity.spot_recompute_gpu_hours_per_month == pytest.approx(
            expected * per_reclaim, rel=1e-12
        )
        assert pool.capacity.capacity_missing_share == pytest.approx(
            expected * row.replacement_lag_s / 3600.0
            / (rows[pool.pool].gpu_hours_scheduled * to_month),
            rel=1e-12,
        )  # fmt: skip
    bill, spot = result.ledger.capacity["main"], d.spot
    assert spot is not None and spot.reclaims > 0 and bill.spot_figures == "engine"
    assert bill.spot_interruptions_per_month == pytest.approx(expected_total, rel=1e-12)
    (fleet,) = result.ledger.fleets
    assert {p.kind for p in fleet.parts} == {
        "pool:h100:spot", "pool:h100:on_demand", "pool:a100:spot", "pool:a100:on_demand",
    }  # fmt: skip
    assert fleet.usd_per_month == pytest.approx(
        math.fsum(p.usd_per_month for p in fleet.parts), rel=1e-12
    )
    assert math.fsum(p.gpu_hours_per_month for p in fleet.parts) == pytest.approx(
        d.gpu_hours_scheduled * to_month, rel=1e-12
    )
    assert abs(result.first_month.pnl.gpu_cost_usd - fleet.usd_per_month) <= 0.005
    assert fleet.busy_gpu_hours_per_month <= fleet.gpu_hours_per_month


@pytest.mark.parametrize("routing", ["cheapest_first", "least_outstanding"])
def test_a_storm_on_one_pool_loses_no_token(routing: str) -> None:
    """One reclaim per A100 replica every 20 s (5 s lag), none on the H100 pool: every
    request completes with all its tokens, the slots of the pool without spot are never
    reclaimed, and the slots' figures add up to the run's."""
    s = Scenario.model_validate(
        {**document(4.0), "horizon": {"simulated_s": 300.0, "months": 1}}
        | {"deployments": {"main": {**document()["deployments"]["main"],
                                    "pool_routing": routing}}}
    )  # fmt: skip
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    stream = build_requests(s, ExternalData(), 300.0, np.random.default_rng(7), "main")
    rates = (0.0, 0.0, 1 / 20.0, 1 / 20.0)
    storm = SpotReclaims(0.025, 5.0, np.random.default_rng(11), 300.0, rates, (5.0,) * 4)
    run = run_cluster(
        plan.perf, stream.time_s, stream.prompt_tokens, stream.output_tokens,
        stream.cached_tokens, ReplicaSchedule([0.0], [4]), "least_outstanding", True, 300.0,
        replica_perfs=replica_perfs(plan.mixed), chooser=chooser(plan), spot=storm,
    )  # fmt: skip
    reclaimed = run.reclaims
    assert reclaimed is not None and reclaimed.total().reclaims > 10
    assert [slot.reclaims for slot in reclaimed.by_slot[:2]] == [0, 0]
    assert all(slot.reclaims > 0 for slot in reclaimed.by_slot[2:])
    assert sum(slot.reclaims for slot in reclaimed.by_slot) == reclaimed.total().reclaims
    assert (
        sum(s.recomputed_tokens for s in reclaimed.by_slot) == reclaimed.total().recomputed_tokens
    )
    assert sum(s.requests_moved for s in reclaimed.by_slot) == reclaimed.total().requests_moved
    table = run.table
    assert np.isfinite(np.asarray(table.finish_s)).all()
    assert (np.asarray(table.emitted) == stream.output_tokens).all()
    for replica in run.replicas:
        assert replica.outstanding == 0 and not replica.decoding and not replica.waiting


# cheapest first by the marginal rate


def test_the_marginal_rate_puts_reserved_hours_at_zero() -> None:
    h100 = CATALOG.gpu_of("h100-sxm")

    def rate(gpus: int, **cost: Any) -> float:
        rented = RentedGpu.model_validate({"kind": "rented", **cost})
        return marginal_usd_per_gpu_hour(rented, h100, 4.0, gpus)

    assert rate(2, reserved={"gpus": 2, "usd_per_gpu_hour": 2.5}) == 0.0  # paid anyway
    assert rate(2, reserved={"gpus": 5, "usd_per_gpu_hour": 2.5}) == 0.0  # idle commitment
    assert rate(2, reserved={"gpus": 1, "usd_per_gpu_hour": 2.5}) == pytest.approx(2.0)
    spot = {"share": 1.0, "usd_per_gpu_hour": 1.2, "interruptions_per_gpu_hour": 0.0}
    assert rate(2, spot=spot) == pytest.approx(1.2)
    assert rate(2, spot={**spot, "share": 0.25}) == pytest.approx(0.25 * 1.2 + 0.75 * 4.0)
    both = rate(4, reserved={"gpus": 2, "usd_per_gpu_hour": 2.5}, spot=spot)
    assert both == pytest.approx(1.2 / 2)  # half reserved (0), half spot


def test_cheapest_first_uses_a_reserved_pool_before_a_cheaper_on_demand_one() -> None:
    """The H100 pool costs $3/GPU-hour on demand, the A100 pool $1.5; with the H100s
    reserved (paid whether used or not) the light load runs on them, not on the A100s."""
    on_demand = by_name(served(2.0))
    assert on_demand["h100"].gpu_hours_busy == 0.0 and on_demand["a100"].gpu_hours_busy > 0
    reserved = {"cost": {"usd_per_gpu_hour": 3.0, "reserved": {"gpus": 2, "usd_per_gpu_hour": 2.0}}}
    pools = by_name(served(2.0, h100=reserved))
    assert pools["h100"].usd_per_gpu_hour == 0.0
    assert pools["a100"].gpu_hours_busy == 0.0 and pools["h100"].gpu_hours_busy > 0
    assert pools["a100"].output_tokens_per_s == 0.0


def test_the_fallback_gpu_cost_is_in_a_mixed_fleets_signature() -> None:
    """A pool priced by costs.gpu routes by its marginal price there: a month that reserves
    those GPUs simulates the deployment again (its cached figures would route the old way)."""
    fallback = document()
    del fallback["deployments"]["main"]["pools"][0]["cost"]
    fallback["costs"] = {"gpu": {"kind": "rented", "usd_per_gpu_hour": 3.0}}
    reserved = copy.deepcopy(fallback)
    reserved["costs"]["gpu"]["reserved"] = {"gpus": 2, "usd_per_gpu_hour": 2.0}
    signatures = [
        deployment_signature(Scenario.model_validate(d), 9, 0, "main") for d in (fallback, reserved)
    ]
    assert signatures[0] != signatures[1]
