"""Autoscaling a disaggregated fleet: each pool follows its own load (prefill: input tokens
per second, decode: output tokens per second) by the autoscaler's rule, the engine runs the
two schedules, and the pools' GPU-hours add up to the deployment and the P&L's GPU line."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import CATALOG, scenario

from infersim.pipeline.demand import SECONDS_PER_MONTH
from infersim.pipeline.run import run_scenario
from infersim.scenario.model import Scenario
from infersim.serving.fleet import (
    autoscale_pools,
    decode_capacity_tokens_per_s,
    follow_load,
    prefill_capacity_tokens_per_s,
)
from infersim.serving.pools import pool_counts
from infersim.serving.result import DeploymentServing, PoolRole
from infersim.serving.simulate import deployment_plan, simulate
from infersim.workload.trace import ExternalData

FP8 = {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"}
#: 70B: decode on TP4 one sequence at a time (a slow decode replica), prefill on TP2
DEPLOYMENT: dict[str, Any] = {
    "model": "llama-3.1-70b",
    "tensor_parallel": 4,
    "precision": FP8,
    "prefill_pool": {"tensor_parallel": 2},
    "max_batch_sequences": 1,
    "replicas": 2,
}
#: Two hours: the second three times as busy as the first
WEIGHTS = [1.0, 3.0] + [1.0] * 22
AUTO = {"interval_s": 1800, "scale_up_lag_s": 60, "target_utilization": 0.8}
HORIZON_S = 7200.0


def day(mean_rate_per_s: float = 1.2) -> Scenario:
    return scenario(
        rate_per_s=1,
        horizon_s=HORIZON_S,
        arrival={"process": "diurnal", "mean_rate_per_s": mean_rate_per_s,
                 "hourly_weights": WEIGHTS},
        prompt={"dist": "fixed", "tokens": 6000},
        output={"dist": "fixed", "tokens": 100},
        deployment=DEPLOYMENT,
        fleet={"disaggregated": True, "mode": "autoscale", "autoscale": AUTO},
    )  # fmt: skip


@cache
def served() -> DeploymentServing:
    return simulate(day(), catalog=CATALOG).deployments[0]


def hourly_rates(mean_rate_per_s: float) -> list[float]:
    """The profile's rate in each half-hour interval of the two hours."""
    mean = sum(WEIGHTS) / len(WEIGHTS)
    return [mean_rate_per_s * w / mean for w in WEIGHTS[:2] for _ in range(2)]


def test_each_pool_follows_its_own_load_by_the_autoscalers_rule() -> None:
    s = day()
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    rates = hourly_rates(1.2)
    schedule = autoscale_pools(plan, rates)
    prefill_cap = prefill_capacity_tokens_per_s(plan)
    decode_cap = decode_capacity_tokens_per_s(plan)
    for role, per_token, capacity in (("prefill", 6000, prefill_cap), ("decode", 100, decode_cap)):
        counts = pool_counts(plan, schedule, role)
        wanted = [math.ceil(r * per_token / (capacity * 0.8)) for r in rates]
        # the quiet hour, then the busy one (after the scale-up lag)
        assert counts[0] == wanted[0]
        assert counts[-1] == wanted[-1] > wanted[0], (role, counts, wanted)
        assert counts == sorted(counts)  # the load only rises
    assert schedule.times_s == [0.0, 3600.0 + 60.0]
    # the pools scale by their own loads: the pool ratio is not fixed
    assert schedule.prefill_counts is not None
    ratios = [p / c for p, c in zip(schedule.prefill_counts, schedule.counts, strict=True)]
    assert len(set(ratios)) == 2


def test_follow_load_is_the_mixed_fleets_autoscaler() -> None:
    s = scenario(rate_per_s=1, fleet={"mode": "autoscale", "autoscale": AUTO})
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    rates = [0.5, 40.0, 3.0, 90.0]
    from infersim.scenario.deployment import Autoscale
    from infersim.serving.fleet import autoscale_schedule

    mixed = autoscale_schedule(plan, rates)
    assert mixed == follow_load(rates, plan.capacity_rps, Autoscale.model_validate(AUTO))


def test_the_engine_runs_both_schedules_and_busy_stays_within_paid() -> None:
    d = served()
    assert d.verdict is None
    assert d.completed == d.requests  # tokens conserved: every request prefilled and decoded
    prefill, decode = d.pools
    k = d.kv_transfer
    assert k is not None and k.transfers == d.requests  # each one handed to the decode pool
    # the pools' GPU-hours: their schedules' replica-time at their own layouts
    s = day()
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    schedule = autoscale_pools(plan, hourly_rates(1.2))
    spans = np.diff([*schedule.times_s, HORIZON_S])
    for pool, gpus in ((prefill, 2), (decode, 4)):
        counts = pool_counts(plan, schedule, pool.role)
        replica_s = float(np.dot(counts, spans))
        assert pool.gpu_hours_scheduled == pytest.approx(replica_s * gpus / 3600, rel=1e-12)
        assert 0.0 < pool.gpu_hours_busy <= pool.gpu_hours_scheduled  # busy <= paid
    assert d.gpu_hours_scheduled == prefill.gpu_hours_scheduled + decode.gpu_hours_scheduled
    assert d.gpu_hours_busy == prefill.gpu_hours_busy + decode.gpu_hours_busy
    assert d.peak_replicas == schedule.peak
    # the pools' tokens are the deployment's: prompts prefilled (all but the few whose first
    # token falls after the window, in the drain), outputs decoded
    assert prefill.tokens_per_s == d.input_tokens_per_s
    assert decode.tokens_per_s == d.output_tokens_per_s
    prefilled = d.input_tokens_per_s * HORIZON_S / 6000
    assert d.requests - 5 <= prefilled <= d.requests


def test_a_fixed_fleet_at_the_pools_peaks_pays_more_for_the_same_requests() -> None:
    auto = served()
    peak_prefill = max(pool_counts_of(auto, "prefill"))
    peak_decode = max(pool_counts_of(auto, "decode"))
    fixed = simulate(
        day().model_copy(
            update={
                "fleet": day().fleet.model_copy(
                    update={"mode": "fixed", "prefill_replicas": peak_prefill}
                ),
                "deployments": {
                    "main": day()
                    .deployments["main"]
                    .model_copy(update={"replicas": peak_prefill + peak_decode})
                },
            }
        ),
        catalog=CATALOG,
    ).deployments[0]
    assert fixed.requests == auto.requests
    assert auto.gpu_hours_scheduled < fixed.gpu_hours_scheduled
    assert fixed.gpu_hours_scheduled == pytest.approx((peak_prefill * 2 + peak_decode * 4) * 2)


def pool_counts_of(d: DeploymentServing, role: PoolRole) -> list[int]:
    s = day()
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    return pool_counts(plan, autoscale_pools(plan, hourly_rates(1.2)), role)


def test_the_pnl_gpu_line_is_the_autoscaled_pools_bill() -> None:
    document = day().model_dump(mode="json", exclude_none=True)
    document["costs"] = {"gpu": {"kind": "rented", "usd_per_gpu_hour": 2.0}}
    document["horizon"] = {"simulated_s": HORIZON_S, "months": 1}
    result = run_scenario(Scenario.model_validate(document), CATALOG)
    d = result.serving.deployment("main")
    pools_gpu_hours = math.fsum(p.gpu_hours_scheduled for p in d.pools)
    bill = pools_gpu_hours * SECONDS_PER_MONTH / HORIZON_S * 2.0
    assert result.first_month.pnl.gpu_cost_usd == pytest.approx(bill, abs=0.005)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    rate=st.floats(0.5, 60.0),
    horizon_s=st.floats(10, 90),
    output_mean=st.integers(5, 300),
    seed=st.integers(0, 2**16),
)
def test_autoscaled_pools_are_never_busier_than_paid(
    rate: float, horizon_s: float, output_mean: int, seed: int
) -> None:
    """Light to heavily overloaded loads (the autoscaler's max_replicas caps the pools)."""
    s = scenario(
        rate_per_s=rate,
        horizon_s=horizon_s,
        seed=seed,
        prompt={"dist": "lognormal", "mean_tokens": 800, "sigma": 0.8, "max_tokens": 8000},
        output={"dist": "lognormal", "mean_tokens": output_mean, "sigma": 0.8, "max_tokens": 4000},
        deployment={"replicas": 2},
        fleet={
            "disaggregated": True,
            "mode": "autoscale",
            "replications": 2,
            "autoscale": {"interval_s": horizon_s / 3, "max_replicas": 3},
        },
    )
    d = simulate(s, catalog=CATALOG).deployments[0]
    assert 0 < d.gpu_hours_busy <= d.gpu_hours_scheduled <= d.gpu_hours_provisioned
    for pool in d.pools:
        assert 0 <= pool.gpu_hours_busy <= pool.gpu_hours_scheduled
    assert d.gpu_hours_scheduled == pytest.approx(
        math.fsum(p.gpu_hours_scheduled for p in d.pools), rel=1e-12
    )
    assert 0 <= d.served_output_tokens <= d.output_tokens
