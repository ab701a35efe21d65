"""Mixed fleets: one deployment's replicas in pools of different GPU types or regions, and
each pool's replicas, GPU-hours, utilization and tokens.

Every replica of a mixed fleet is simulated (a sample of replicas would not be
representative of pools of different speeds; a steady run may still simulate a window of
time). A pool's GPU-hours are its replicas at its own layout's GPUs over the simulated time;
its busy share is that of its replicas, each busy at most the time it is paid for. The
deployment's scheduled and busy GPU-hours are the pools' sums, so the ledger's GPU line is
the sum of the pools' bills. A pool's output tokens per second are the deployment's in the
share of the output tokens its replicas computed, so the pools' add up to the deployment's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infersim.perf import PerfModel
from infersim.scenario.deployment import RentedGpu
from infersim.serving.cluster import Chooser, ClusterRun
from infersim.serving.pool_routing import PoolSpan, cheapest_first
from infersim.serving.result import MixedPoolServing

if TYPE_CHECKING:
    from infersim.serving.simulate import DeploymentPlan


@dataclass(frozen=True)
class MixedPool:
    """One pool of a mixed fleet as the engine runs it."""

    name: str
    replicas: int
    perf: PerfModel
    usd_per_gpu_hour: float
    """Its marginal GPU-hour's price, what cheapest-first orders by: rented with reserved or
    spot capacity, its hours above the commitment's bill over all its hours
    (`economics.capacity.marginal_usd_per_gpu_hour`: reserved hours are paid anyway); else
    its GPU-hour's price (an owned GPU's at full load)."""
    saturated_at: int
    """Outstanding requests on a replica past which cheapest-first spills over: the largest
    batch its GPU serves within the SLO's time per output token at the workload's mean
    lengths (without a bound, the largest batch it holds)."""
    capacity_rps: float
    """Requests per second one replica serves at that batch."""
    spot: RentedGpu | None = None
    """Its rented GPUs when they have spot capacity (the engine reclaims its replicas)."""

    @property
    def usd_per_replica_hour(self) -> float:
        return self.usd_per_gpu_hour * self.perf.gpus_per_replica


def spans(pools: tuple[MixedPool, ...]) -> list[PoolSpan]:
    """Each pool's replicas in the engine's list, in the order the pools are given."""
    out, start = [], 0
    for pool in pools:
        stop = start + pool.replicas
        out.append(PoolSpan(pool.name, start, stop, pool.usd_per_replica_hour, pool.saturated_at))
        start += pool.replicas
    return out


def replica_perfs(pools: tuple[MixedPool, ...]) -> list[PerfModel]:
    return [pool.perf for pool in pools for _ in range(pool.replicas)]


def chooser(plan: DeploymentPlan) -> Chooser | None:
    """The pool routing: cheapest first with spill-over, or None (least outstanding)."""
    if plan.deployment.routing_policy == "cheapest_first":
        return cheapest_first(spans(plan.mixed))
    return None


def mixed_totals(plan: DeploymentPlan, run: ClusterRun, window_s: float) -> dict[str, float]:
    """One run's pool figures, as `RunSample.totals` entries (`mixed.<pool>.<figure>`;
    output tokens as a share of the run's, see the module doc)."""
    stretch = 1.0
    if run.overloaded_at_s is not None:  # busy rate up to the cut-off, over the window
        stretch = window_s / max(run.overloaded_at_s, 1e-9)
    decoded = math.fsum(r.stats.decode_tokens for r in run.replicas)
    totals: dict[str, float] = {}
    for span, pool in zip(spans(plan.mixed), plan.mixed, strict=True):
        members = run.replicas[span.start : span.stop]
        busy_s = math.fsum(min(r.stats.busy_s * stretch, window_s) for r in members)
        share = busy_s / (window_s * len(members))
        scheduled_h = pool.replicas * pool.perf.gpus_per_replica * plan.horizon_s / 3600.0
        key = f"mixed.{pool.name}"
        totals[f"{key}.gpu_hours_scheduled"] = scheduled_h
        totals[f"{key}.gpu_hours_busy"] = scheduled_h * share
        own = math.fsum(r.stats.decode_tokens for r in members)
        totals[f"{key}.output_share"] = own / decoded if decoded > 0 else 0.0
    return totals


def mixed_rows(plan: DeploymentPlan, mean: dict[str, float]) -> tuple[MixedPoolServing, ...]:
    """The pools from the replications' mean totals."""
    rows = []
    for pool in plan.mixed:
        key = f"mixed.{pool.name}"
        rows.append(
            MixedPoolServing(
                name=pool.name,
                gpu=pool.perf.gpu_id,
                replicas=pool.replicas,
                tensor_parallel=pool.perf.tensor_parallel,
                gpus_per_replica=pool.perf.gpus_per_replica,
                gpu_hours_scheduled=mean[f"{key}.gpu_hours_scheduled"],
                gpu_hours_busy=mean[f"{key}.gpu_hours_busy"],
                output_tokens_per_s=mean["output_tokens_per_s"] * mean[f"{key}.output_share"],
                usd_per_gpu_hour=pool.usd_per_gpu_hour,
                spill_over_sequences=pool.saturated_at,
            )
        )
    return tuple(rows)
