"""Disaggregated serving: the prefill and the decode pool's GPU-hours, utilization and
tokens, and the KV caches moved from one to the other.

Each pool's GPU-hours are its replicas (the fleet's, not the sample's) at its own layout's
GPUs over the simulated time; its busy share is that of its simulated replicas, each busy at
most the time it is paid for. The deployment's scheduled and busy GPU-hours are the pools'
sums, so the ledger's GPU line (the deployment's scheduled GPU-hours) is the pools' bill.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from infersim.serving.cluster import ClusterRun, ReplicaSchedule
from infersim.serving.result import KvTransfer, PoolRole, PoolServing

if TYPE_CHECKING:
    from infersim.perf import PerfModel
    from infersim.serving.simulate import DeploymentPlan


def pool_replicas(plan: DeploymentPlan, replicas: int, role: PoolRole) -> int:
    """Replicas of the pool in a fleet of `replicas` (the prefill pool first)."""
    prefill = min(plan.prefill_replicas, replicas)
    return prefill if role == "prefill" else replicas - prefill


def _layouts(plan: DeploymentPlan) -> tuple[tuple[PoolRole, PerfModel], ...]:
    return (("prefill", plan.prefill_perf), ("decode", plan.perf))


def pool_counts(plan: DeploymentPlan, schedule: ReplicaSchedule, role: PoolRole) -> list[int]:
    """Per step of the schedule, the pool's replicas: its own schedule when each pool
    autoscales, else its share of each step's fleet."""
    if schedule.prefill_counts is not None:
        own = schedule.prefill_counts if role == "prefill" else schedule.decode_counts
        return list(own)
    return [pool_replicas(plan, c, role) for c in schedule.counts]


def pool_totals(
    plan: DeploymentPlan, run: ClusterRun, schedule: ReplicaSchedule, window_s: float, scale: float
) -> dict[str, float]:
    """One run's pool figures, as `RunSample.totals` entries (scaled to the fleet). With
    per-pool schedules the pool's replica i is paid while the pool has more than i replicas,
    and counts as busy at most that long."""
    stretch = 1.0
    if run.overloaded_at_s is not None:  # busy rate up to the cut-off, over the window
        stretch = window_s / max(run.overloaded_at_s, 1e-9)
    bounds = [*schedule.times_s, plan.horizon_s]
    spans = [
        (i, bounds[i], min(bounds[i + 1], plan.horizon_s))
        for i in range(len(schedule.counts))
        if bounds[i] < plan.horizon_s
    ]
    totals: dict[str, float] = {}
    for role, perf in _layouts(plan):
        members = [r for r in run.replicas if r.role == role]
        counts = pool_counts(plan, schedule, role)
        if schedule.prefill_counts is None:
            paid = [window_s] * len(members)
        else:
            paid = [
                math.fsum(b - a for i, a, b in spans if counts[i] > slot)
                for slot in range(len(members))
            ]
        paid_s = math.fsum(paid)
        busy_s = math.fsum(
            min(r.stats.busy_s * stretch, up) for r, up in zip(members, paid, strict=True)
        )
        share = busy_s / paid_s if paid_s > 0 else 0.0
        replica_s = math.fsum(counts[i] * (b - a) for i, a, b in spans)
        scheduled_h = replica_s * perf.gpus_per_replica / 3600.0
        totals[f"{role}_replicas"] = replica_s / plan.horizon_s
        totals[f"{role}_gpu_hours_scheduled"] = scheduled_h
        totals[f"{role}_gpu_hours_busy"] = scheduled_h * share
    totals["kv_transfers"] = run.kv_transfers * scale
    totals["kv_transfer_bytes"] = run.kv_transfer_tokens * plan.perf.kv_bytes_per_token * scale
    totals["kv_transfer_s"] = run.kv_transfer_tokens * plan.kv_transfer_s_per_token * scale
    return totals


def pool_gpu_seconds(plan: DeploymentPlan, schedule: ReplicaSchedule, end_s: float) -> float:
    """GPU-seconds the pools' schedules keep up until `end_s`, each pool at its layout."""
    bounds = [*schedule.times_s, math.inf]
    total = 0.0
    for role, perf in _layouts(plan):
        for i, count in enumerate(pool_counts(plan, schedule, role)):
            start, stop = bounds[i], min(bounds[i + 1], end_s)
            if stop > start:
                total += count * perf.gpus_per_replica * (stop - start)
    return total


def pool_rows(plan: DeploymentPlan, mean: dict[str, float]) -> tuple[PoolServing, ...]:
    """The pools from the replications' mean totals."""
    tokens = {"prefill": mean["input_tokens_per_s"], "decode": mean["output_tokens_per_s"]}
    return tuple(
        PoolServing(
            role=role,
            replicas=round(mean[f"{role}_replicas"]),
            tensor_parallel=perf.tensor_parallel,
            expert_parallel=perf.expert_parallel,
            gpus_per_replica=perf.gpus_per_replica,
            gpu_hours_scheduled=mean[f"{role}_gpu_hours_scheduled"],
            gpu_hours_busy=mean[f"{role}_gpu_hours_busy"],
            tokens_per_s=tokens[role],
        )
        for role, perf in _layouts(plan)
    )


def kv_transfer(mean: dict[str, float]) -> KvTransfer:
    transfers = mean["kv_transfers"]
    return KvTransfer(
        transfers=transfers,
        bytes=mean["kv_transfer_bytes"],
        seconds_per_transfer=mean["kv_transfer_s"] / transfers if transfers > 0 else 0.0,
    )
