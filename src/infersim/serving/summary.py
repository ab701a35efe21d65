"""From raw event-loop runs to `DeploymentServing`: latencies, tokens, GPU-hours, utilization,
confidence intervals over replications, what the fleet served, and the verdict.

Offered figures count every request the deployment was sent (its prompt and its output
length), served figures the requests the fleet completed, at the rate it completed them: when
a run was overloaded (stopped early, or its queue kept growing while it drained), its
completions are scaled by window / the time it took, so served figures are the fleet's service
rate over the simulated time, never more than was offered. GPU time follows the same rule:
each replica is busy at most the time it is paid for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from infersim.serving.cluster import ClusterRun, ReplicaSchedule
from infersim.serving.interruptions import SlotReclaims, slots_total
from infersim.serving.itl import ItlSource, itl_percentiles
from infersim.serving.mixed import mixed_rows, mixed_totals, spans
from infersim.serving.pools import kv_transfer, pool_gpu_seconds, pool_rows, pool_totals
from infersim.serving.replica import ReplicaStats
from infersim.serving.result import (
    ClassServing,
    DeploymentServing,
    Interval,
    MixedPoolServing,
    Mode,
    Percentiles,
    SpotServing,
)
from infersim.serving.served import class_volumes, served_factor, served_weight
from infersim.serving.verdict import judge, queue_grows, slo_met
from infersim.workload.stream import RequestStream

if TYPE_CHECKING:
    from infersim.perf import PerfModel
    from infersim.scenario.deployment import RentedGpu
    from infersim.serving.simulate import DeploymentPlan

#: Two-sided 95% Student t quantiles by degrees of freedom (1..30); normal beyond.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]  # fmt: skip
INTERVAL_METRICS = (
    "ttft_p99_s", "tpot_p50_s", "e2e_p50_s", "gpu_hours_busy", "output_tokens_per_s",
)  # fmt: skip


@dataclass(frozen=True)
class RunSample:
    """One replication's per-request records (measured window) and totals (scaled)."""

    mode: Mode
    detail: str
    scale: float
    simulated_requests: int
    events: int
    class_idx: NDArray[np.int64]
    measured: NDArray[np.bool_]
    ttft_s: NDArray[np.float64]
    tpot_s: NDArray[np.float64]
    e2e_s: NDArray[np.float64]
    queue_s: NDArray[np.float64]
    slo_met: NDArray[np.bool_]
    prompt: NDArray[np.int64]
    cached: NDArray[np.int64]
    output: NDArray[np.int64]
    completed: NDArray[np.bool_]
    served_weight: NDArray[np.float64]
    """What each request counts for in the served figures before `served_factor`: 1 when
    completed; in a run stopped early, the share of its output emitted by the cut-off (in a
    steady state as much is in flight at a window's start as at its end); else 0."""
    totals: dict[str, float]
    batch_values: NDArray[np.int64]
    """Per iteration or decode segment: its decoding sequences, duration (`batch_weights`),
    iterations and prompt tokens computed, and the KV share in use."""
    batch_weights: NDArray[np.float64]
    batch_work: NDArray[np.int32]
    """Per record: its prompt tokens (>= 0), or minus its steps (a decode segment, < 0)."""
    kv_values: NDArray[np.float64]
    itl: ItlSource
    """What the run's inter-token gaps are computed from (`serving.itl`)."""
    batch: NDArray[np.bool_]
    """Per request: of a batch class (one with a deadline)."""
    on_time: NDArray[np.bool_]
    """Per request of a batch class: completed within its deadline (False otherwise)."""
    overloaded: bool
    """The fleet could not keep up: the run was stopped early, or its queue kept growing."""
    served_factor: float
    """1, or for an overloaded run the window over the time the fleet took (see
    `serving.served.served_factor`)."""
    rejected: int
    """Requests that never fit a replica's KV cache (simulated, not scaled)."""

    @property
    def judged(self) -> NDArray[np.bool_]:
        """The measured requests of interactive classes: what latencies and the SLO judge."""
        return self.measured & ~self.batch


def measured_from_s(plan: DeploymentPlan, arrival_s: NDArray[np.float64]) -> float:
    """When the measured window starts: requests arriving earlier are the warm-up."""
    window = max(float(arrival_s.max()) if arrival_s.size else 0.0, 1e-9)
    return plan.fleet.warmup_share * min(window, plan.horizon_s)


def summarize_run(
    plan: DeploymentPlan,
    stream: RequestStream,
    run: ClusterRun,
    scale: float,
    mode: Mode,
    detail: str,
    schedule: ReplicaSchedule,
    window_s: float | None = None,
) -> RunSample:
    window_s = plan.horizon_s if window_s is None else window_s
    table = run.table
    arrival = np.asarray(table.arrival_s)
    first = np.asarray(table.first_token_s)
    finish = np.asarray(table.finish_s)
    admit = np.asarray(table.admit_s)
    output = stream.output_tokens
    ttft = first - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output > 1, (finish - first) / (output - 1), np.nan)
    measured = arrival >= measured_from_s(plan, arrival)
    deadline = np.asarray(
        [math.inf if d is None else d for d in plan.class_deadlines_s], dtype=np.float64
    )[stream.class_idx]
    batch = np.isfinite(deadline)
    stats = [r.stats for r in run.replicas]
    gpus = plan.perf.gpus_per_replica
    busy_s = sum(s.busy_s for s in stats)
    prefill_s = sum(s.prefill_s for s in stats)
    computed = sum(s.prefill_tokens for s in stats)
    decode_seq_steps = sum(s.decode_tokens for s in stats) / plan.perf.decode_tokens_per_step
    flops = 2.0 * plan.active_params * (computed + decode_seq_steps * plan.perf.verify_tokens)
    # bytes moved: the weights as read (at the achieved bandwidth, on every GPU; for an MoE
    # only the experts the batch touched) and every sequence's KV cache
    achieved = plan.perf.efficiency.memory_bandwidth * plan.perf.peak_bandwidth_bytes_per_s
    pools = pool_totals(plan, run, schedule, window_s, scale) if plan.prefill_replicas else {}
    peak_flops = peak_bytes = 0.0  # mixed fleets: the busy replicas' own peaks
    if plan.prefill_perf is plan.perf and not plan.mixed:
        moved = (
            sum(s.weight_read_s for s in stats) * achieved * gpus
            + sum(s.kv_read_token_steps for s in stats) * plan.perf.kv_bytes_per_token
        )
        busy_gpu_s = max(busy_s * gpus, 1e-12)
        provisioned = _provisioned_s(schedule, run, scale, plan.horizon_s, window_s) * gpus
        scheduled_h = (
            sum(c * (b - a) for c, a, b in _steps(schedule, plan.horizon_s)) * gpus / 3600.0
        )
    else:  # pools of different layouts: each replica counts its own GPUs
        moved = math.fsum(
            s.weight_read_s * _achieved(r.perf, achieved, plan) * r.perf.gpus_per_replica
            + s.kv_read_token_steps * r.perf.kv_bytes_per_token
            for s, r in zip(stats, run.replicas, strict=True)
        )
        if plan.mixed:
            pairs = list(zip(stats, run.replicas, strict=True))
            peak_flops = math.fsum(
                s.busy_s * r.perf.gpus_per_replica * r.perf.peak_flops_per_gpu for s, r in pairs
            )
            peak_bytes = math.fsum(
                s.busy_s * r.perf.gpus_per_replica * r.perf.peak_bandwidth_bytes_per_s
                for s, r in pairs
            )
        busy_gpu_s = math.fsum(
            s.busy_s * r.perf.gpus_per_replica for s, r in zip(stats, run.replicas, strict=True)
        )
        busy_gpu_s = max(busy_gpu_s, 1e-12)
        if schedule.prefill_counts is not None:  # each pool up as its own schedule says
            provisioned = pool_gpu_seconds(plan, schedule, run.end_s)
        else:
            per_replica = plan.fleet_gpus(schedule.peak) / schedule.peak
            provisioned = (
                _provisioned_s(schedule, run, scale, plan.horizon_s, window_s) * per_replica
            )
        scheduled_h = 0.0  # the pools' sum, below
    provisioned_h = provisioned / 3600.0
    if plan.mixed:
        pools = mixed_totals(plan, run, window_s)
        scheduled_h = math.fsum(v for k, v in pools.items() if k.endswith(".gpu_hours_scheduled"))
        busy_h = math.fsum(v for k, v in pools.items() if k.endswith(".gpu_hours_busy"))
    elif pools:  # the pools add up to the deployment
        scheduled_h = pools["prefill_gpu_hours_scheduled"] + pools["decode_gpu_hours_scheduled"]
        busy_h = pools["prefill_gpu_hours_busy"] + pools["decode_gpu_hours_busy"]
    else:
        busy_h = scheduled_h * _busy_share(stats, run, schedule, window_s, plan)
    completed = np.isfinite(finish)
    interactive = ~batch
    if batch.any():  # batch work waits by design: only interactive queues tell overload
        overloaded = run.overloaded_at_s is not None or queue_grows(
            arrival[interactive], admit[interactive]
        )
    else:
        overloaded = run.overloaded_at_s is not None or queue_grows(arrival, admit)
    totals = {
        "completed": float(completed.sum()) * scale,
        "rejected": sum(s.rejected for s in stats) * scale,
        "preemptions": sum(s.preemptions for s in stats) * scale,
        "recomputed_tokens": sum(s.recomputed_tokens for s in stats) * scale,
        "batch_preemptions": sum(s.batch_preemptions for s in stats) * scale,
        "batch_recomputed_tokens": sum(s.batch_recomputed_tokens for s in stats) * scale,
        "gpu_hours_provisioned": provisioned_h,
        "gpu_hours_scheduled": scheduled_h,
        "gpu_hours_busy": busy_h,
        "prefill_share": prefill_s / busy_s if busy_s > 0 else 0.0,
        "mfu": flops / (busy_gpu_s * plan.perf.peak_flops_per_gpu)
        if not plan.mixed
        else flops / max(peak_flops, 1e-12),
        "mbu": moved / (busy_gpu_s * plan.perf.peak_bandwidth_bytes_per_s)
        if not plan.mixed
        else moved / max(peak_bytes, 1e-12),
        "replicas": sum(c * (b - a) for c, a, b in _steps(schedule, plan.horizon_s))
        / plan.horizon_s,
        "peak_replicas": float(schedule.peak),
        **_rates(stream, table, run, window_s, scale * window_s / plan.horizon_s),
        **pools,
        **_spot_totals(plan, run, stats, scale),
    }
    # views of the records when there is one replica (the ITL source keeps them anyway)
    batch_values = _joined([np.frombuffer(s.batch_sizes, dtype=np.int64) for s in stats])
    batch_weights = _joined([np.frombuffer(s.batch_durations_s, dtype=np.float64) for s in stats])
    kv_values = _joined([np.frombuffer(s.kv_occupancy, dtype=np.float64) for s in stats])
    on_time = batch & completed & (finish - arrival <= deadline)
    met = slo_met(plan.fleet.slo, ttft, tpot)
    return RunSample(
        mode=mode,
        detail=detail,
        scale=scale,
        simulated_requests=len(arrival),
        events=run.events,
        class_idx=stream.class_idx,
        measured=measured,
        ttft_s=ttft,
        tpot_s=tpot,
        e2e_s=finish - arrival,
        queue_s=admit - arrival,
        slo_met=np.where(batch, on_time, met) if batch.any() else met,
        prompt=stream.prompt_tokens,
        cached=stream.cached_tokens,
        output=output,
        completed=completed,
        served_weight=served_weight(run, completed, output),
        totals=totals,
        batch_values=batch_values,
        batch_weights=batch_weights,
        batch_work=_joined([np.frombuffer(s.batch_work, dtype=np.int32) for s in stats]),
        kv_values=kv_values,
        itl=ItlSource(plan.perf, tuple(stats)),
        batch=batch,
        on_time=on_time,
        overloaded=overloaded,
        served_factor=served_factor(run, window_s, overloaded),
        rejected=sum(s.rejected for s in stats),
    )


def _spot_totals(
    plan: DeploymentPlan, run: ClusterRun, stats: list[ReplicaStats], scale: float
) -> dict[str, float]:
    """A run's spot reclaims (`RunSample.totals` entries, scaled to the fleet); none without
    spot capacity. A deployment with spot at a zero rate reclaims nothing."""
    if not plan.spot:
        return {}
    if plan.mixed:
        return _mixed_spot_totals(plan, run, stats, scale)
    reclaimed = run.reclaims
    if reclaimed is None:
        return dict.fromkeys(SPOT_TOTALS, 0.0)
    prefill_tokens = sum(s.prefill_tokens for s in stats)
    per_token_s = sum(s.prefill_s for s in stats) / prefill_tokens if prefill_tokens else 0.0
    gpus = plan.perf.gpus_per_replica
    total = reclaimed.total()
    return _spot_entries(
        "", total, total.recomputed_tokens * per_token_s * gpus / 3600.0,
        total.down_replica_s * gpus / 3600.0, scale,
    )  # fmt: skip


def _spot_entries(
    key: str, total: SlotReclaims, recompute_gpu_hours: float, down_gpu_hours: float, scale: float
) -> dict[str, float]:
    """`RunSample.totals` entries of reclaims (`total`, simulated), scaled to the fleet, under
    `key` (a pool's `mixed.<pool>.`, or the deployment's: '')."""
    return {
        f"{key}spot_rate_per_replica_hour": total.rate_per_replica_s * 3600.0,
        f"{key}spot_reclaims": total.reclaims * scale,
        f"{key}spot_requests_recomputed": total.requests_recomputed * scale,
        f"{key}spot_requests_moved": total.requests_moved * scale,
        f"{key}spot_recomputed_tokens": total.recomputed_tokens * scale,
        f"{key}spot_recompute_gpu_hours": recompute_gpu_hours * scale,
        f"{key}spot_down_gpu_hours": down_gpu_hours * scale,
    }


def _mixed_spot_totals(
    plan: DeploymentPlan, run: ClusterRun, stats: list[ReplicaStats], scale: float
) -> dict[str, float]:
    """A mixed fleet's reclaims per pool with spot (`mixed.<pool>.spot_*`, its slots' sums)
    and the deployment's, the pools' sums (its rate: the mean over its replicas). The tokens
    a pool's reclaims lost are recomputed wherever they went, at the fleet's measured prefill
    GPU-time per token, and counted to the pool reclaimed."""
    reclaimed = run.reclaims
    prefill_tokens = sum(s.prefill_tokens for s in stats)
    prefill_gpu_s = math.fsum(
        s.prefill_s * r.perf.gpus_per_replica for s, r in zip(stats, run.replicas, strict=True)
    )
    per_token_gpu_s = prefill_gpu_s / prefill_tokens if prefill_tokens else 0.0
    totals: dict[str, float] = {}
    for span, pool in zip(spans(plan.mixed), plan.mixed, strict=True):
        if pool.spot is None:
            continue
        slots = reclaimed.by_slot[span.start : span.stop] if reclaimed is not None else []
        gpus = pool.perf.gpus_per_replica
        total = slots_total(slots, slots[0].rate_per_replica_s if slots else 0.0)
        totals.update(
            _spot_entries(
                f"mixed.{pool.name}.", total,
                total.recomputed_tokens * per_token_gpu_s / 3600.0,
                total.down_replica_s * gpus / 3600.0, scale,
            )
        )  # fmt: skip
    out = {
        name: math.fsum(v for k, v in totals.items() if k.endswith(f".{name}"))
        for name in SPOT_TOTALS
    }
    out["spot_rate_per_replica_hour"] = (
        reclaimed.rate_per_replica_s * 3600.0 if reclaimed is not None else 0.0
    )
    return {**out, **totals}


SPOT_TOTALS = (
    "spot_rate_per_replica_hour", "spot_reclaims", "spot_requests_recomputed",
    "spot_requests_moved", "spot_recomputed_tokens", "spot_recompute_gpu_hours",
    "spot_down_gpu_hours",
)  # fmt: skip


def _spot_row(plan: DeploymentPlan, mean: dict[str, float]) -> SpotServing | None:
    if not plan.spot:
        return None
    if plan.mixed:  # the spot pools' lags, each weighted by its pool's expected reclaims
        spot = [p for p in plan.mixed if p.spot is not None]
        weights = [p.replicas * mean[f"mixed.{p.name}.spot_rate_per_replica_hour"] for p in spot]
        if math.fsum(weights) == 0:  # none reclaimed: by replicas
            weights = [float(p.replicas) for p in spot]
        lags = [_lag_s(p.spot) for p in spot]
        lag_s = math.fsum(w * g for w, g in zip(weights, lags, strict=True)) / math.fsum(weights)
        return _spot_serving(mean, "", lag_s)
    assert plan.cost is not None
    return _spot_serving(mean, "", _lag_s(plan.cost))


def _lag_s(cost: RentedGpu | None) -> float:
    assert cost is not None and cost.spot is not None
    return cost.spot.replacement_lag_s


def _spot_serving(mean: dict[str, float], key: str, lag_s: float) -> SpotServing:
    """The spot figures under `key` (a pool's `mixed.<pool>.`, or the deployment's: '')."""
    return SpotServing(
        rate_per_replica_hour=mean[f"{key}spot_rate_per_replica_hour"],
        replacement_lag_s=lag_s,
        reclaims=mean[f"{key}spot_reclaims"],
        requests_recomputed=mean[f"{key}spot_requests_recomputed"],
        requests_moved=mean[f"{key}spot_requests_moved"],
        recomputed_tokens=mean[f"{key}spot_recomputed_tokens"],
        recompute_gpu_hours=mean[f"{key}spot_recompute_gpu_hours"],
        down_gpu_hours=mean[f"{key}spot_down_gpu_hours"],
    )


def _mixed_rows(plan: DeploymentPlan, mean: dict[str, float]) -> tuple[MixedPoolServing, ...]:
    """A mixed fleet's pools, each with its own spot reclaims where it has spot."""
    return tuple(
        row
        if pool.spot is None
        else replace(row, spot=_spot_serving(mean, f"mixed.{pool.name}.", _lag_s(pool.spot)))
        for row, pool in zip(mixed_rows(plan, mean), plan.mixed, strict=True)
    )


#: Largest whole-number value whose weighted percentiles are taken by counting.
COUNTED_UP_TO = 1 << 20


def _joined(parts: list[NDArray[Any]]) -> NDArray[Any]:
    """The replications' arrays end to end (the one itself when there is one: no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _decode_batch(sequences: NDArray[np.int64], weights: NDArray[Any]) -> Percentiles:
    """Weighted percentiles of the sequences decoding, over the records that decode."""
    counts = np.bincount(sequences, weights=weights)
    if counts.size:
        counts[0] = 0.0  # prefill-only iterations decode nothing: not a batch of 0
    return Percentiles.of_counts(counts)


def _whole_percentiles(values: NDArray[np.float64], weights: NDArray[np.float64]) -> Percentiles:
    """Weighted percentiles of whole numbers: by counting when they are small enough."""
    if values.size and values.max() > COUNTED_UP_TO:
        return Percentiles.weighted(values, weights)
    return Percentiles.weighted_counts(values, weights)


def _achieved(perf: PerfModel, achieved: float, plan: DeploymentPlan) -> float:
    """A replica's achieved memory bandwidth: the plan's, or in a mixed fleet its own GPU's."""
    if not plan.mixed:
        return achieved
    return perf.efficiency.memory_bandwidth * perf.peak_bandwidth_bytes_per_s


def _busy_share(
    stats: list[ReplicaStats],
    run: ClusterRun,
    schedule: ReplicaSchedule,
    window_s: float,
    plan: DeploymentPlan,
) -> float:
    """Share of the paid replica-time (over the simulated window) the GPUs computed.

    Each replica counts at most the time it is paid for, because a replica cannot compute
    more than its wall time: the work it did in the drain after the window (the window's
    late arrivals) runs, in a steady state, batched together with the next window's early
    arrivals, which the run began without; past capacity it never gets done at all. A run
    stopped early for overload counts its busy rate up to the cut-off over the window."""
    stretch = 1.0
    if run.overloaded_at_s is not None:
        stretch = window_s / max(run.overloaded_at_s, 1e-9)
    if len(schedule.counts) == 1:
        paid = [window_s] * len(stats)
    else:  # an autoscaled fleet, simulated whole: replica i is up while the count exceeds i
        steps = _steps(schedule, plan.horizon_s)
        paid = [sum(b - a for c, a, b in steps if c > i) for i in range(len(stats))]
    total = math.fsum(paid)
    if total <= 0:
        return 0.0
    busy = math.fsum(min(s.busy_s * stretch, up) for s, up in zip(stats, paid, strict=True))
    return busy / total  # <= 1: each term is at most its replica's paid time


def _rates(
    stream: RequestStream, table: Any, run: ClusterRun, window_s: float, replica_scale: float
) -> dict[str, float]:
    """Tokens per second served within the simulated window (until an overloaded run was
    stopped): past capacity this is the capacity, below it the offered rate. A request in
    flight at the cut-off counts the share of its output emitted by then."""
    cutoff = run.overloaded_at_s if run.overloaded_at_s is not None else window_s
    cutoff = max(cutoff, 1e-9)
    first = np.asarray(table.first_token_s)
    finish = np.asarray(table.finish_s)
    output = stream.output_tokens.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = 1.0 + (output - 1.0) * (cutoff - first) / (finish - first)
    emitted = np.where(
        finish <= cutoff,
        output,
        np.where(first <= cutoff, np.where(np.isfinite(finish), partial, table.emitted), 0.0),
    )
    prompts = stream.prompt_tokens[first <= cutoff]
    return {
        "input_tokens_per_s": float(prompts.sum()) / cutoff * replica_scale,
        "output_tokens_per_s": float(np.nansum(emitted)) / cutoff * replica_scale,
    }


def _provisioned_s(
    schedule: ReplicaSchedule, run: ClusterRun, scale: float, horizon_s: float, window_s: float
) -> float:
    """Replica-seconds the whole fleet is paid: as simulated when it all ran; for a sample,
    the fleet over the horizon plus the sample's drain after its window (scaling the drain up
    with the window would bill it many times over)."""
    if scale == 1.0 or len(schedule.counts) > 1:
        return run.active_replica_s
    return schedule.peak * (horizon_s + max(0.0, run.end_s - window_s))


def _steps(schedule: ReplicaSchedule, horizon_s: float) -> list[tuple[int, float, float]]:
    bounds = [*schedule.times_s, horizon_s]
    return [
        (count, bounds[i], min(bounds[i + 1], horizon_s))
        for i, count in enumerate(schedule.counts)
        if bounds[i] < horizon_s
    ]


def _interval(values: list[float]) -> Interval:
    mean = float(np.mean(values))
    if len(values) < 2:
        return Interval(mean, None, None)
    t = _T95[len(values) - 2] if len(values) - 1 <= len(_T95) else 1.96
    half = t * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half)


def _pool(
    samples: list[RunSample], attr: str, picks: list[NDArray[np.bool_]] | None = None
) -> NDArray[Any]:
    """An attribute's measured values, pooled over replications (optionally one class)."""
    parts = []
    for index, sample in enumerate(samples):
        mask = sample.measured if picks is None else sample.measured & picks[index]
        parts.append(getattr(sample, attr)[mask])
    return np.concatenate(parts)


def _class_rows(
    samples: list[RunSample], names: tuple[str, ...], deadlines_s: tuple[float | None, ...]
) -> tuple[ClassServing, ...]:
    rows = []
    reps = len(samples)
    for index, name in enumerate(names):
        picks = [s.class_idx == index for s in samples]
        if not any(p.any() for p in picks):
            continue
        slo = _pool(samples, "slo_met", picks)
        volumes = class_volumes(samples, picks)
        offered, served = volumes.offered, volumes.served
        rows.append(
            ClassServing(
                name=name,
                offered_requests=offered["requests"],
                completed=round(
                    sum(
                        int((s.completed & p).sum()) * s.scale
                        for s, p in zip(samples, picks, strict=True)
                    )
                    / reps
                ),
                ttft_s=Percentiles.of(_pool(samples, "ttft_s", picks)),
                tpot_s=Percentiles.of(_pool(samples, "tpot_s", picks)),
                e2e_s=Percentiles.of(_pool(samples, "e2e_s", picks)),
                queue_s=Percentiles.of(_pool(samples, "queue_s", picks)),
                slo_met_share=float(slo.mean()) if slo.size else None,
                input_tokens=offered["prompt"],
                cached_input_tokens=offered["cached"],
                output_tokens=offered["output"],
                served_requests=served["requests"],
                served_input_tokens=served["prompt"],
                served_cached_input_tokens=served["cached"],
                served_output_tokens=served["output"],
                deadline_s=deadlines_s[index],
                deadline_missed_output_tokens=0.0
                if deadlines_s[index] is None
                else sum(
                    float(s.output[p & ~s.on_time].sum()) * s.scale
                    for s, p in zip(samples, picks, strict=True)
                )
                / reps,
            )
        )
    return tuple(rows)


def merge_samples(
    plan: DeploymentPlan, samples: list[RunSample], class_names: tuple[str, ...]
) -> DeploymentServing:
    """Pool the replications: latencies from all measured requests, totals averaged, and 95%
    confidence intervals of the key figures across replications."""
    mean = {key: float(np.mean([s.totals[key] for s in samples])) for key in samples[0].totals}
    horizon = plan.horizon_s
    per_run: dict[str, list[float]] = {key: [] for key in INTERVAL_METRICS}
    for s in samples:
        ttft = Percentiles.of(s.ttft_s[s.judged])
        tpot = Percentiles.of(s.tpot_s[s.judged])
        e2e = Percentiles.of(s.e2e_s[s.judged])
        per_run["ttft_p99_s"].append(ttft.p99 if ttft.p99 is not None else math.nan)
        per_run["tpot_p50_s"].append(tpot.p50 if tpot.p50 is not None else math.nan)
        per_run["e2e_p50_s"].append(e2e.p50 if e2e.p50 is not None else math.nan)
        per_run["gpu_hours_busy"].append(s.totals["gpu_hours_busy"])
        per_run["output_tokens_per_s"].append(s.totals["output_tokens_per_s"])
    intervals = {k: _interval(v) for k, v in per_run.items() if all(math.isfinite(x) for x in v)}
    classes = _class_rows(samples, class_names, plan.class_deadlines_s)
    has_batch = any(s.batch.any() for s in samples)
    # latencies judge the interactive classes (batch work waits by design)
    judged = [~s.batch for s in samples] if has_batch else None

    def total(attr: str) -> float:  # a deployment figure: exactly its classes' sum
        return math.fsum(getattr(c, attr) for c in classes)

    requests = total("offered_requests")
    served_requests = total("served_requests")
    offered_rps = requests / horizon
    served_rps = served_requests / horizon
    capacity = plan.capacity_rps * max(mean["replicas"], 1e-9)
    verdict = judge(plan.fleet.slo, samples, offered_rps, served_rps, capacity)
    slo = _pool(samples, "slo_met", judged)
    deadline_met = _pool(samples, "on_time", [s.batch for s in samples]) if has_batch else None
    missed = math.fsum(c.deadline_missed_output_tokens for c in classes)
    served_output = total("served_output_tokens")
    busy_h = mean["gpu_hours_busy"]
    extra_h = missed * busy_h / served_output if missed > 0 and served_output > 0 else 0.0
    batch_values = _joined([s.batch_values for s in samples])
    durations = _joined([s.batch_weights for s in samples])
    work = _joined([s.batch_work for s in samples])
    prefilling = work > 0
    first = samples[0]
    model = plan.deployment.model
    gpu = plan.deployment.gpu
    scheduled = mean["gpu_hours_scheduled"]
    return DeploymentServing(
        name=plan.name,
        model=model if isinstance(model, str) else model.id,
        gpu="+".join(p.perf.gpu_id for p in plan.mixed)
        or (gpu if isinstance(gpu, str) else gpu.id),
        gpus_per_replica=plan.perf.gpus_per_replica,
        replicas=mean["replicas"],
        peak_replicas=round(mean["peak_replicas"]),
        mode=first.mode,
        mode_detail=first.detail,
        scale=first.scale,
        simulated_requests=sum(s.simulated_requests for s in samples),
        events=sum(s.events for s in samples),
        simulated_s=horizon,
        requests=requests,
        completed=mean["completed"],
        rejected=mean["rejected"],
        preemptions=mean["preemptions"],
        recomputed_tokens=mean["recomputed_tokens"],
        input_tokens=total("input_tokens"),
        cached_input_tokens=total("cached_input_tokens"),
        output_tokens=total("output_tokens"),
        served_requests=served_requests,
        served_input_tokens=total("served_input_tokens"),
        served_cached_input_tokens=total("served_cached_input_tokens"),
        served_output_tokens=total("served_output_tokens"),
        scheduler=plan.scheduler.value,
        priority_ranks=1 if plan.class_ranks is None else max(plan.class_ranks) + 1,
        ttft_s=Percentiles.of(_pool(samples, "ttft_s", judged)),
        tpot_s=Percentiles.of(_pool(samples, "tpot_s", judged)),
        e2e_s=Percentiles.of(_pool(samples, "e2e_s", judged)),
        queue_s=Percentiles.of(_pool(samples, "queue_s", judged)),
        slo_met_share=float(slo.mean()) if slo.size else None,
        itl_s=itl_percentiles([s.itl for s in samples]),
        decode_batch_sequences=_decode_batch(batch_values, durations),
        decode_batch_sequences_per_iteration=_decode_batch(batch_values, np.maximum(-work, 1)),
        prefill_batch_tokens=_whole_percentiles(
            work[prefilling].astype(np.float64), np.ones(int(prefilling.sum()))
        ),
        kv_occupancy=Percentiles.weighted(
            _joined([s.kv_values for s in samples]),
            durations,
        ),
        busy_share=mean["gpu_hours_busy"] / scheduled if scheduled > 0 else 0.0,
        mfu=mean["mfu"],
        mbu=mean["mbu"],
        gpu_hours_provisioned=mean["gpu_hours_provisioned"],
        gpu_hours_scheduled=scheduled,
        gpu_hours_busy=mean["gpu_hours_busy"],
        prefill_share=mean["prefill_share"],
        input_tokens_per_s=mean["input_tokens_per_s"],
        output_tokens_per_s=mean["output_tokens_per_s"],
        capacity_requests_per_s=plan.capacity_rps,
        offered_requests_per_s=offered_rps,
        verdict=verdict.message,
        verdict_kind=verdict.kind,
        load_factor=verdict.load_factor,
        max_batch_sequences=plan.perf.max_batch_sequences,
        max_batch_sequences_source=plan.perf.max_batch_sequences_source,
        deadline_met_share=(
            float(deadline_met.mean()) if deadline_met is not None and deadline_met.size else None
        ),
        batch_extra_gpu_hours=extra_h,
        batch_slowdown_max=plan.batch_slowdown_max,
        batch_preemptions=mean["batch_preemptions"],
        batch_recomputed_tokens=mean["batch_recomputed_tokens"],
        intervals=intervals,
        classes=classes,
        pools=pool_rows(plan, mean) if plan.prefill_replicas else (),
        kv_transfer=kv_transfer(mean) if plan.prefill_replicas else None,
        mixed_pools=_mixed_rows(plan, mean) if plan.mixed else (),
        spot=_spot_row(plan, mean),
    )
