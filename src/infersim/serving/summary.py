"""From raw event-loop runs to `DeploymentServing`: latencies, tokens, GPU-hours, utilization,
and confidence intervals over replications."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from infersim.serving.cluster import ClusterRun, ReplicaSchedule
from infersim.serving.result import ClassServing, DeploymentServing, Interval, Mode, Percentiles
from infersim.workload.stream import RequestStream

if TYPE_CHECKING:
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
    totals: dict[str, float]
    batch_values: NDArray[np.float64]
    batch_weights: NDArray[np.float64]
    kv_values: NDArray[np.float64]
    overloaded: bool
    load_ratio: float
    """Arrival rate over the measured service rate (about 1 or less unless overloaded)."""


def _slo_met(
    plan: DeploymentPlan, ttft: NDArray[np.float64], tpot: NDArray[np.float64]
) -> NDArray[np.bool_]:
    slo = plan.fleet.slo
    met = np.isfinite(ttft)
    if slo.ttft_p99_s is not None:
        met &= ttft <= slo.ttft_p99_s
    limit = slo.tpot_p99_s if slo.tpot_p99_s is not None else slo.tpot_p50_s
    if limit is not None:
        met &= ~(tpot > limit)  # NaN (single-token outputs) counts as met
    return met


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
    window = max(float(arrival.max()) if arrival.size else 0.0, 1e-9)
    measured = arrival >= plan.fleet.warmup_share * min(window, plan.horizon_s)
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
    moved = (
        sum(s.weight_read_s for s in stats) * achieved * gpus
        + sum(s.kv_read_token_steps for s in stats) * plan.perf.kv_bytes_per_token
    )
    busy_gpu_s = max(busy_s * gpus, 1e-12)
    # a window's drain, scaled up with it, must not make the GPUs busier than they were paid
    provisioned_h = _provisioned_s(schedule, run, scale, plan.horizon_s, window_s) * gpus / 3600.0
    completed = np.isfinite(finish)
    totals = {
        "requests": len(arrival) * scale,
        "completed": float(completed.sum()) * scale,
        "rejected": sum(s.rejected for s in stats) * scale,
        "preemptions": sum(s.preemptions for s in stats) * scale,
        "recomputed_tokens": sum(s.recomputed_tokens for s in stats) * scale,
        "input_tokens": float(stream.prompt_tokens.sum()) * scale,
        "cached_input_tokens": float(stream.cached_tokens.sum()) * scale,
        "output_tokens": float(np.asarray(table.emitted).sum()) * scale,
        "gpu_hours_provisioned": provisioned_h,
        "gpu_hours_busy": min(busy_s * gpus * scale / 3600.0, provisioned_h),
        "gpu_hours_scheduled": sum(c * (b - a) for c, a, b in _steps(schedule, plan.horizon_s))
        * gpus
        / 3600.0,
        "prefill_share": prefill_s / busy_s if busy_s > 0 else 0.0,
        "mfu": flops / (busy_gpu_s * plan.perf.peak_flops_per_gpu),
        "mbu": moved / (busy_gpu_s * plan.perf.peak_bandwidth_bytes_per_s),
        "replicas": sum(c * (b - a) for c, a, b in _steps(schedule, plan.horizon_s))
        / plan.horizon_s,
        "peak_replicas": float(schedule.peak),
        **_rates(stream, table, run, window_s, scale * window_s / plan.horizon_s),
    }
    batch_values = np.concatenate([np.asarray(s.batch_sizes, dtype=np.float64) for s in stats])
    batch_weights = np.concatenate([np.asarray(s.batch_durations_s) for s in stats])
    kv_values = np.concatenate([np.asarray(s.kv_occupancy) for s in stats])
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
        slo_met=_slo_met(plan, ttft, tpot),
        prompt=stream.prompt_tokens,
        cached=stream.cached_tokens,
        output=output,
        completed=completed,
        totals=totals,
        batch_values=batch_values,
        batch_weights=batch_weights,
        kv_values=kv_values,
        overloaded=run.overloaded_at_s is not None or _queue_grows(arrival, admit, completed),
        load_ratio=_load_ratio(arrival, completed, run),
    )


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


def _queue_grows(
    arrival: NDArray[np.float64], admit: NDArray[np.float64], completed: NDArray[np.bool_]
) -> bool:
    """An overload signature: requests arriving late wait far longer than earlier ones."""
    n = len(arrival)
    if n < 200:
        return False
    wait = np.where(completed, admit - arrival, np.inf)
    early = float(np.mean(wait[n // 4 : n // 2]))
    late = float(np.mean(wait[3 * n // 4 :]))
    return late > 2 * early + 1.0


def _load_ratio(
    arrival: NDArray[np.float64], completed: NDArray[np.bool_], run: ClusterRun
) -> float:
    if arrival.size == 0:
        return 0.0
    span = max(float(arrival.max()), 1e-9)
    end = run.overloaded_at_s if run.overloaded_at_s is not None else run.end_s
    served = completed.sum() / max(end, 1e-9)
    return float((len(arrival) / span) / served) if served > 0 else math.inf


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


def _scaled_sum(samples: list[RunSample], attr: str, picks: list[NDArray[np.bool_]]) -> float:
    """Mean over replications of a token column summed over a class, scaled up."""
    total = 0.0
    for sample, pick in zip(samples, picks, strict=True):
        mask = pick & sample.completed if attr == "output" else pick
        total += float(getattr(sample, attr)[mask].sum()) * sample.scale
    return total / len(samples)


def _class_rows(samples: list[RunSample], names: tuple[str, ...]) -> tuple[ClassServing, ...]:
    rows = []
    reps = len(samples)
    for index, name in enumerate(names):
        picks = [s.class_idx == index for s in samples]
        if not any(p.any() for p in picks):
            continue
        slo = _pool(samples, "slo_met", picks)
        rows.append(
            ClassServing(
                name=name,
                requests=round(
                    sum(int(p.sum()) * s.scale for s, p in zip(samples, picks, strict=True)) / reps
                ),
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
                input_tokens=_scaled_sum(samples, "prompt", picks),
                cached_input_tokens=_scaled_sum(samples, "cached", picks),
                output_tokens=_scaled_sum(samples, "output", picks),
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
        ttft = Percentiles.of(s.ttft_s[s.measured])
        tpot = Percentiles.of(s.tpot_s[s.measured])
        e2e = Percentiles.of(s.e2e_s[s.measured])
        per_run["ttft_p99_s"].append(ttft.p99 if ttft.p99 is not None else math.nan)
        per_run["tpot_p50_s"].append(tpot.p50 if tpot.p50 is not None else math.nan)
        per_run["e2e_p50_s"].append(e2e.p50 if e2e.p50 is not None else math.nan)
        per_run["gpu_hours_busy"].append(s.totals["gpu_hours_busy"])
        per_run["output_tokens_per_s"].append(s.totals["output_tokens_per_s"])
    intervals = {k: _interval(v) for k, v in per_run.items() if all(math.isfinite(x) for x in v)}
    offered = mean["requests"] / horizon
    capacity = plan.capacity_rps * max(mean["replicas"], 1e-9)
    verdict = None
    if any(s.overloaded for s in samples):
        ratio = max(float(np.mean([s.load_ratio for s in samples])), offered / capacity)
        verdict = (
            f"overloaded: arrival rate {ratio:.1f}x capacity "
            f"({offered:,.2f} requests/s offered, {offered / ratio:,.2f} served)"
        )
    slo = _pool(samples, "slo_met")
    first = samples[0]
    model = plan.deployment.model
    gpu = plan.deployment.gpu
    return DeploymentServing(
        name=plan.name,
        model=model if isinstance(model, str) else model.id,
        gpu=gpu if isinstance(gpu, str) else gpu.id,
        gpus_per_replica=plan.perf.gpus_per_replica,
        replicas=mean["replicas"],
        peak_replicas=round(mean["peak_replicas"]),
        mode=first.mode,
        mode_detail=first.detail,
        scale=first.scale,
        simulated_requests=sum(s.simulated_requests for s in samples),
        events=sum(s.events for s in samples),
        simulated_s=horizon,
        requests=mean["requests"],
        completed=mean["completed"],
        rejected=mean["rejected"],
        preemptions=mean["preemptions"],
        recomputed_tokens=mean["recomputed_tokens"],
        input_tokens=mean["input_tokens"],
        cached_input_tokens=mean["cached_input_tokens"],
        output_tokens=mean["output_tokens"],
        ttft_s=Percentiles.of(_pool(samples, "ttft_s")),
        tpot_s=Percentiles.of(_pool(samples, "tpot_s")),
        e2e_s=Percentiles.of(_pool(samples, "e2e_s")),
        queue_s=Percentiles.of(_pool(samples, "queue_s")),
        slo_met_share=float(slo.mean()) if slo.size else None,
        batch_size=Percentiles.weighted(
            np.concatenate([s.batch_values for s in samples]),
            np.concatenate([s.batch_weights for s in samples]),
        ),
        kv_occupancy=Percentiles.weighted(
            np.concatenate([s.kv_values for s in samples]),
            np.concatenate([s.batch_weights for s in samples]),
        ),
        busy_share=mean["gpu_hours_busy"] / mean["gpu_hours_provisioned"]
        if mean["gpu_hours_provisioned"] > 0
        else 0.0,
        mfu=mean["mfu"],
        mbu=mean["mbu"],
        gpu_hours_provisioned=mean["gpu_hours_provisioned"],
        gpu_hours_scheduled=mean["gpu_hours_scheduled"],
        gpu_hours_busy=mean["gpu_hours_busy"],
        prefill_share=mean["prefill_share"],
        input_tokens_per_s=mean["input_tokens_per_s"],
        output_tokens_per_s=mean["output_tokens_per_s"],
        capacity_requests_per_s=plan.capacity_rps,
        offered_requests_per_s=offered,
        verdict=verdict,
        intervals=intervals,
        classes=_class_rows(samples, class_names),
    )
