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


def pool_totals(
    plan: DeploymentPlan, run: ClusterRun, schedule: ReplicaSchedule, window_s: float, scale: float
) -> dict[str, float]:
    """One run's pool figures, as `RunSample.totals` entries (scaled to the fleet)."""
    stretch = 1.0
    if run.overloaded_at_s is not None:  # busy rate up to the cut-off, over the window
        stretch = window_s / max(run.overloaded_at_s, 1e-9)
    bounds = [*schedule.times_s, plan.horizon_s]
    steps = [
        (count, bounds[i], min(bounds[i + 1], plan.horizon_s))
        for i, count in enumerate(schedule.counts)
        if bounds[i] < plan.horizon_s
    ]
    totals: dict[str, float] = {}
    for role, perf in _layouts(plan):
        members = [r for r in run.replicas if r.role == role]
        paid_s = len(members) * window_s
        busy_s = math.fsum(min(r.stats.busy_s * stretch, window_s) for r in members)
        share = busy_s / paid_s if paid_s > 0 else 0.0
        replica_s = math.fsum(pool_replicas(plan, c, role) * (b - a) for c, a, b in steps)
        scheduled_h = replica_s * perf.gpus_per_replica / 3600.0
        totals[f"{role}_replicas"] = replica_s / plan.horizon_s
        totals[f"{role}_gpu_hours_scheduled"] = scheduled_h
        totals[f"{role}_gpu_hours_busy"] = scheduled_h * share
    totals["kv_transfers"] = run.kv_transfers * scale
    totals["kv_transfer_bytes"] = run.kv_transfer_tokens * plan.perf.kv_bytes_per_token * scale
    totals["kv_transfer_s"] = run.kv_transfer_tokens * plan.kv_transfer_s_per_token * scale
    return totals


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
