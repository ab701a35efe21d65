"""Spot reclaims in the engine (`serving.interruptions`): no request is ever lost, a zero rate is
no spot at all, the reclaims follow their Poisson expectation, the recompute is the bill's
figure, latency pays the lag, and the same seed gives the same output."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from serving_helpers import CATALOG

from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.pipeline.run import run_scenario
from infersim.report.serving import serving_json
from infersim.scenario.model import Scenario
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.interruptions import SpotReclaims
from infersim.serving.prefix_reuse import block_reuse
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import deployment_plan, simulate
from infersim.workload.stream import build_requests
from infersim.workload.trace import ExternalData

BASE: dict[str, Any] = {
    "name": "spot",
    "seed": 5,
    "deployments": {
        "main": {
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "replicas": 8,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
        }
    },
    "fleet": {"replications": 1},
    "workload": {
        "classes": {
            "chat": {
                "arrival": {"process": "poisson", "rate_per_s": 4.0},
                "prompt_tokens": {"dist": "lognormal", "p50_tokens": 600, "p99_tokens": 4000},
                "output_tokens": {"dist": "lognormal", "p50_tokens": 200, "p99_tokens": 1500},
            }
        }
    },
    "pricing": {
        "api": {"a": {"deployment": "main", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}}
    },
    "horizon": {"simulated_s": 3600},
}


def scenario(spot: dict[str, Any] | None, **changes: Any) -> Scenario:
    document = copy.deepcopy(BASE)
    document["costs"] = {"gpu": {"kind": "rented", **({"spot": spot} if spot else {})}}
    for dotted, value in changes.items():
        node = document
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return Scenario.model_validate(document)


def served(spot: dict[str, Any] | None, **changes: Any) -> DeploymentServing:
    return simulate(scenario(spot, **changes), catalog=CATALOG).deployments[0]


def spot(rate: float, lag_s: float = 600.0, share: float = 1.0) -> dict[str, Any]:
    return {"share": share, "interruptions_per_gpu_hour": rate, "replacement_lag_s": lag_s}


def assert_nothing_lost(d: DeploymentServing) -> None:
    assert d.completed == d.requests > 0
    assert d.served_requests == d.requests
    assert d.served_input_tokens == d.input_tokens
    assert d.served_output_tokens == d.output_tokens
    assert d.gpu_hours_busy <= d.gpu_hours_scheduled


def test_heavy_reclaims_never_lose_a_request() -> None:
    d = served(spot(1.0))
    assert d.spot is not None and d.spot.reclaims >= 2
    assert d.spot.requests_recomputed > 0 and d.spot.recomputed_tokens > 0
    assert d.spot.requests_moved >= d.spot.requests_recomputed
    assert d.spot.recompute_gpu_hours > 0 and d.spot.down_gpu_hours > 0
    assert d.verdict_kind == "ok"
    assert_nothing_lost(d)


def test_a_fleet_of_one_waits_for_its_replacement() -> None:
    """With the only replica down, arrivals wait for the replacement: late, never lost."""
    d = served(spot(1.0, lag_s=300.0), deployments__main__replicas=1,
               workload__classes__chat__arrival={"process": "poisson", "rate_per_s": 0.5},
               horizon__simulated_s=14_400)  # fmt: skip
    assert d.spot is not None and d.spot.reclaims >= 1
    assert d.completed == d.requests > 0
    assert d.ttft_s.p99 is not None and d.ttft_s.p99 > 60.0  # some waited for the replacement


@pytest.mark.parametrize(
    ("mode", "extra"),
    [
        ("autoscale", {"fleet__autoscale": {"min_replicas": 2, "max_replicas": 6}}),
        (
            "size_to_slo",
            {"fleet__slo": {"ttft_p99_s": 1.0}, "deployments__main__max_batch_sequences": 8},
        ),
        ("fixed", {"fleet__load_balancer": "round_robin"}),
        ("fixed", {"fleet__load_balancer": "least_kv"}),
        ("fixed", {"deployments__main__scheduler": {"policy": "prefill_first"}}),
    ],
)
def test_every_mode_and_balancer_loses_nothing(mode: str, extra: dict[str, Any]) -> None:
    d = served(spot(1.0, lag_s=60.0), fleet__mode=mode, **extra)
    assert d.spot is not None and d.spot.reclaims >= 1
    assert_nothing_lost(d)


def test_prefix_aware_with_sessions_loses_nothing() -> None:
    """Block-hash prefix reuse: a reclaimed replica's cache goes cold, its requests find
    their prefix (or not) where they land."""
    d = served(
        spot(1.0),
        fleet__load_balancer="prefix_aware",
        deployments__main__prefix_caching={"hbm_capacity_tokens": 10**8},
        workload__classes__chat__arrival={"process": "poisson", "rate_per_s": 2.0},
        workload__classes__chat__sessions={"turns_per_session": 4, "think_time_s": 30.0},
        horizon__simulated_s=3600,
    )
    assert d.spot is not None and d.spot.reclaims >= 1
    assert d.prefix_cache is not None
    assert d.prefix_cache.hashed_requests == d.requests  # each request counted once
    assert_nothing_lost(d)


def test_a_zero_rate_is_no_spot() -> None:
    plain = served(None, horizon__simulated_s=900)
    zero = served(spot(0.0), horizon__simulated_s=900)
    assert zero.spot is not None
    assert (zero.spot.reclaims, zero.spot.down_gpu_hours, zero.spot.recomputed_tokens) == (0, 0, 0)
    assert replace(zero, spot=None) == plain


def test_reclaims_follow_their_poisson_expectation() -> None:
    """Each scheduled replica is reclaimed at interruptions_per_gpu_hour x its GPUs x the spot
    share of the fleet's hours: here 4 of 8 GPUs reserved, half the rest spot (a quarter)."""
    horizon_s, reps = 40_000.0, 3
    cost_spot = spot(1.0, share=0.5)
    d = served(cost_spot, horizon__simulated_s=horizon_s, fleet__replications=reps,
               workload__classes__chat__arrival={"process": "poisson", "rate_per_s": 0.1},
               costs__gpu__reserved={"gpus": 4, "usd_per_gpu_hour": 2.0})  # fmt: skip
    assert d.spot is not None
    assert d.spot.rate_per_replica_hour == pytest.approx(0.25)
    expected = 0.25 * 8 * horizon_s / 3600.0  # per replication
    sigma = math.sqrt(expected / reps)  # of the mean over replications
    assert abs(d.spot.reclaims - expected) <= 4 * sigma
    assert d.spot.reclaims > 0
    assert_nothing_lost(d)


def test_the_bill_takes_the_expected_reclaims_and_the_engines_cost_per_reclaim() -> None:
    result = run_scenario(scenario(spot(1.0, share=0.5)), CATALOG)
    [d] = result.serving.deployments
    assert d.spot is not None and d.spot.reclaims > 0 and d.spot.recomputed_tokens > 0
    bill = result.ledger.capacity["main"]
    fleet = result.ledger.fleets[0]
    to_month = HOURS_PER_MONTH * 3600.0 / result.serving.horizon_s
    spot_hours = {p.kind: p for p in fleet.parts}["spot"].gpu_hours_per_month
    expected = spot_hours * 1.0  # spot GPU-hours x interruptions_per_gpu_hour
    assert bill.spot_figures == "engine"
    assert bill.spot_interruptions_per_month == expected
    assert bill.spot_requests_recomputed_per_month == pytest.approx(
        expected * d.spot.requests_recomputed / d.spot.reclaims, rel=1e-12
    )
    assert bill.spot_recompute_gpu_hours_per_month == pytest.approx(
        expected * d.spot.recompute_gpu_hours / d.spot.reclaims, rel=1e-12
    )
    assert bill.capacity_missing_share == pytest.approx(
        expected * 600.0 / 3600.0 / (d.gpu_hours_scheduled * to_month), rel=1e-12
    )  # each reclaim: the replica's GPU down for the 600 s lag
    # the parts add up to the bill, their hours to the fleet's, and the P&L's GPU line is it
    assert {p.kind for p in fleet.parts} == {"spot", "on_demand"}
    assert fleet.usd_per_month == math.fsum(p.usd_per_month for p in fleet.parts)
    assert math.fsum(p.gpu_hours_per_month for p in fleet.parts) == pytest.approx(
        d.gpu_hours_scheduled * to_month, rel=1e-12
    )
    assert abs(result.first_month.pnl.gpu_cost_usd - result.ledger.gpu_cost_usd) <= 0.005
    assert fleet.busy_gpu_hours_per_month <= fleet.gpu_hours_per_month


def test_latency_pays_the_reclaims() -> None:
    """Near capacity, a replica down queues its share of the traffic on the others; moved
    sequences wait for their recompute (a longer gap between two tokens)."""
    busy = {  # 4 replicas of at most 8 sequences each, at some 60% of their capacity
        "deployments__main__replicas": 4,
        "deployments__main__max_batch_sequences": 8,
        "workload__classes__chat__arrival": {"process": "poisson", "rate_per_s": 8.0},
    }
    calm, rough = served(spot(0.0), **busy), served(spot(1.0), **busy)
    assert rough.spot is not None and rough.spot.reclaims >= 1
    for figure in ("ttft_s", "e2e_s"):
        assert getattr(rough, figure).p99 > getattr(calm, figure).p99
    assert rough.itl_s.mean > calm.itl_s.mean


def test_same_seed_same_output() -> None:
    spotty = scenario(spot(1.0), horizon__simulated_s=1800)
    a = serving_json(simulate(spotty, catalog=CATALOG))
    b = serving_json(simulate(spotty.model_copy(deep=True), catalog=CATALOG))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert "spot" in a["deployments"]["main"]


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("replicas", [1, 3])
def test_a_storm_of_reclaims_loses_no_token(chunked: bool, replicas: int) -> None:
    """Far above any scenario's rate (one reclaim per replica every 20 s, 5 s lag: some hit
    a replacement still booting), every request still completes with all its tokens, once,
    after it arrived, and the replicas end empty."""
    s = scenario(None, horizon__simulated_s=300)
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    stream = build_requests(s, ExternalData(), 300.0, np.random.default_rng(7), "main")
    storm = SpotReclaims(1 / 20.0, 5.0, np.random.default_rng(11), 300.0)
    run = run_cluster(
        plan.perf, stream.time_s, stream.prompt_tokens, stream.output_tokens,
        stream.cached_tokens, ReplicaSchedule([0.0], [replicas]), "least_outstanding", chunked,
        300.0, spot=storm,
    )  # fmt: skip
    table, reclaimed = run.table, run.reclaims
    assert reclaimed is not None and reclaimed.total().reclaims > 10 * replicas
    assert reclaimed.total().requests_recomputed > 0 and reclaimed.total().recomputed_tokens > 0
    finish, first = np.asarray(table.finish_s), np.asarray(table.first_token_s)
    assert np.isfinite(finish).all()
    assert (np.asarray(table.emitted) == stream.output_tokens).all()
    assert (first >= stream.time_s).all() and (finish >= first).all()
    for replica in run.replicas:
        assert replica.outstanding == 0 and not replica.decoding and not replica.waiting
        assert replica.stats.busy_s <= run.end_s


def test_a_storm_with_prefix_reuse_loses_nothing() -> None:
    """Block-hash prefix caches under a storm: caches go cold with their replica, requests
    whose KV was loading into a reclaimed replica go elsewhere, each is counted once."""
    s = scenario(
        None,
        horizon__simulated_s=600,
        deployments__main__prefix_caching={
            "hbm_capacity_tokens": 20_000,
            "tiers": [{"name": "dram", "capacity_gib": 64, "bandwidth_gb_per_s": 50}],
        },
        workload__classes__chat__arrival={"process": "poisson", "rate_per_s": 3.0},
        workload__classes__chat__sessions={"turns_per_session": 4, "think_time_s": 10.0},
    )
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    stream = build_requests(s, ExternalData(), 600.0, np.random.default_rng(7), "main")
    reuse = block_reuse(plan.perf, plan.deployment, s, ExternalData(), stream, 3)
    assert reuse is not None
    storm = SpotReclaims(1 / 20.0, 5.0, np.random.default_rng(11), 600.0)
    run = run_cluster(
        plan.perf, stream.time_s, stream.prompt_tokens, stream.output_tokens,
        stream.cached_tokens, ReplicaSchedule([0.0], [3]), "prefix_aware", True, 600.0,
        reuse=reuse, spot=storm,
    )  # fmt: skip
    assert run.reclaims is not None and run.reclaims.total().reclaims > 30
    assert np.isfinite(np.asarray(run.table.finish_s)).all()
    assert (np.asarray(run.table.emitted) == stream.output_tokens).all()
    assert reuse.stats.hashed_requests == len(stream)
    assert reuse.stats.found_lower_tokens > 0 and not reuse.loading


@pytest.mark.parametrize("chunked", [True, False])
def test_a_storm_under_a_batch_slowdown_budget_loses_no_token(chunked: bool) -> None:
    """Reclaims on replicas that hold batch work under a slowdown budget: the budget's sums
    start again from an empty replica, every token still comes once, the replicas end empty."""
    s = scenario(None, horizon__simulated_s=300)
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    stream = build_requests(s, ExternalData(), 300.0, np.random.default_rng(7), "main")
    rank = (np.arange(len(stream.time_s)) % 2).astype(np.int64)  # rank 0: batch
    storm = SpotReclaims(1 / 20.0, 5.0, np.random.default_rng(11), 300.0)
    run = run_cluster(
        plan.perf, stream.time_s, stream.prompt_tokens, stream.output_tokens,
        stream.cached_tokens, ReplicaSchedule([0.0], [2]), "least_outstanding", chunked,
        300.0, rank=rank, batch_ranks=1, batch_slowdown_max=0.02, spot=storm,
    )  # fmt: skip
    table, reclaimed = run.table, run.reclaims
    assert reclaimed is not None and reclaimed.total().reclaims > 10
    assert np.isfinite(np.asarray(table.finish_s)).all()
    assert (np.asarray(table.emitted) == stream.output_tokens).all()
    for replica in run.replicas:
        assert replica.outstanding == 0 and not replica.decoding and not replica.waiting
        assert replica.nb == 0 and replica.ip_seqs == 0 and replica.ip_ctx == 0


def test_a_window_too_short_for_a_reclaim_reports_the_expected_count() -> None:
    """A rate whose reclaims are hours apart, simulated for 10 minutes: the engine sees none,
    the month's reclaims and missing capacity are still their expectation, and the bill says
    the recompute is unknown ('expected')."""
    result = run_scenario(scenario(spot(0.001), horizon__simulated_s=600), CATALOG)
    [d] = result.serving.deployments
    assert d.spot is not None and d.spot.reclaims == 0
    bill = result.ledger.capacity["main"]
    spot_hours = {p.kind: p for p in result.ledger.fleets[0].parts}["spot"].gpu_hours_per_month
    assert bill.spot_figures == "expected"
    assert bill.spot_interruptions_per_month == pytest.approx(spot_hours * 0.001, rel=1e-12)
    assert bill.spot_interruptions_per_month > 1.0  # several a month, none in the window
    assert bill.spot_recompute_gpu_hours_per_month == 0.0
    assert bill.capacity_missing_share > 0.0
