"""Fleet modes beyond a fixed fleet: size the fleet to SLOs, or autoscale over a day.

Sizing searches the smallest replica count whose simulated p99 time to first token and
p50/p99 time per output token meet the SLOs at the given load: it starts from the count the
steady-state capacity requires, grows geometrically until the SLOs hold, then bisects.
A disaggregated fleet is sized pool by pool (`size_pools`): the pool ratio is what the
search finds, not a given.
Autoscaling follows the load interval by interval (replicas = load / (capacity x target
utilization)), and a scale-up only takes effect after the lag; paid GPU-hours follow the
replicas that are up. A disaggregated fleet autoscales each pool from its own load
(`autoscale_pools`): prefill from input tokens per second, decode from output tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from infersim.errors import InfersimError
from infersim.perf import prompt_prefill
from infersim.scenario.deployment import Autoscale
from infersim.serving.cluster import ReplicaSchedule
from infersim.serving.result import PoolRole
from infersim.serving.verdict import problems

if TYPE_CHECKING:
    from infersim.serving.simulate import DeploymentPlan
    from infersim.serving.summary import RunSample

MAX_REPLICAS = 100_000
MAX_GROWTH_PROBES = 24


class SloUnattainableError(InfersimError):
    pass


def slo_failures(plan: DeploymentPlan, samples: Sequence[RunSample]) -> list[str]:
    """What fails the runs, pooled as the result will report them (empty when they pass):
    the problems behind the verdict (`serving.verdict`) that more replicas can fix, i.e. all
    but rejected requests (too long for one replica's KV cache at any fleet size; the
    verdict reports them)."""
    return [p.text for p in problems(plan.fleet.slo, samples) if p.kind != "rejected"]


def size_fleet(
    plan: DeploymentPlan,
    expected_requests: float,
    probe: Callable[[ReplicaSchedule], Sequence[RunSample]],
) -> int:
    """The smallest replica count meeting the fleet's SLOs at this load."""
    slo = plan.fleet.slo
    if slo.ttft_p99_s is None and slo.tpot_p50_s is None and slo.tpot_p99_s is None:
        raise SloUnattainableError(
            "fleet.mode size_to_slo needs fleet.slo with ttft_p99_s, tpot_p50_s or tpot_p99_s"
        )
    offered_rps = expected_requests / plan.horizon_s
    lowest = max(1, math.ceil(offered_rps / plan.capacity_rps))
    results: dict[int, list[str]] = {}

    def failures(replicas: int) -> list[str]:
        if replicas not in results:
            results[replicas] = slo_failures(plan, probe(ReplicaSchedule([0.0], [replicas])))
        return results[replicas]

    failed, replicas = lowest - 1, lowest
    for _ in range(MAX_GROWTH_PROBES):
        if not failures(replicas):
            break
        failed, replicas = replicas, min(MAX_REPLICAS, max(replicas + 1, math.ceil(replicas * 1.5)))
    else:
        raise SloUnattainableError(
            f"deployments.{plan.name}: no fleet up to {replicas:,} replicas meets fleet.slo "
            f"({'; '.join(failures(replicas))}); the bound is below what one request alone "
            "takes: relax the SLO or use a faster GPU, precision or parallelism"
        )
    while replicas - failed > 1:
        middle = (failed + replicas) // 2
        if failures(middle):
            failed = middle
        else:
            replicas = middle
    return replicas


def autoscale_schedule(plan: DeploymentPlan, rates: Sequence[float]) -> ReplicaSchedule:
    """Replicas per interval following the load expected in each interval (`rates`, requests
    per second: a diurnal profile, a trace), with scale-ups taking effect only after the
    lag."""
    auto = plan.fleet.autoscale or Autoscale()
    return follow_load(rates, plan.capacity_rps, auto)


def follow_load(loads: Sequence[float], per_replica: float, auto: Autoscale) -> ReplicaSchedule:
    """The autoscaler's rule: per interval, replicas = load / (one replica's capacity x the
    target utilization), rounded up, within [min_replicas, max_replicas]; a scale-up takes
    effect `scale_up_lag_s` into its interval (never past it), a scale-down at once. `loads`
    and `per_replica` in the same unit (requests or tokens per second)."""
    usable = per_replica * auto.target_utilization
    wanted = [
        min(auto.max_replicas, max(auto.min_replicas, math.ceil(load / usable))) for load in loads
    ]
    times: list[float] = [0.0]
    counts: list[int] = [wanted[0]]
    for index in range(1, len(wanted)):
        start = index * auto.interval_s
        target = wanted[index]
        if target == counts[-1]:
            continue
        when = start + auto.scale_up_lag_s if target > counts[-1] else start
        when = min(when, (index + 1) * auto.interval_s)
        if when <= times[-1]:
            counts[-1] = target
        else:
            times.append(when)
            counts.append(target)
    return ReplicaSchedule(times, counts)


def prefill_capacity_tokens_per_s(plan: DeploymentPlan) -> float:
    """Prompt tokens per second one prefill replica computes: the mean prompt prefilled
    alone, back to back."""
    prompt = max(1, round(plan.mean_prompt_tokens))
    return prompt / prompt_prefill(plan.prefill_perf, prompt).total_s


def decode_capacity_tokens_per_s(plan: DeploymentPlan) -> float:
    """Output tokens per second one decode replica serves within the SLO's time per output
    token (as `slo_throughput` bounds a mixed replica): decode-only steps at the largest
    batch of mean-length sequences it holds whose step stays within the bound (one sequence
    when none does; every sequence it holds without a bound)."""
    slo = plan.fleet.slo
    bound = slo.tpot_p99_s if slo.tpot_p99_s is not None else slo.tpot_p50_s
    decode = plan.perf
    prompt = max(1, round(plan.mean_prompt_tokens))
    output = plan.mean_output_tokens
    tokens_per_step = decode.decode_tokens_per_step

    def step_s(batch: int) -> float:
        return decode.iteration_time_s(0, 0, batch, batch * (prompt + output / 2))

    high = max(1, decode.max_sequences(round(prompt + output)))
    if bound is not None and step_s(high) / tokens_per_step > bound:
        low = 1  # the step time grows with the batch: the largest batch within the bound
        while high - low > 1:
            middle = (low + high) // 2
            if step_s(middle) / tokens_per_step <= bound:
                low = middle
            else:
                high = middle
        high = low
    return high * tokens_per_step / step_s(high)


def autoscale_pools(plan: DeploymentPlan, rates: Sequence[float]) -> ReplicaSchedule:
    """A disaggregated fleet autoscaled pool by pool: the prefill pool follows the input
    tokens per second expected in each interval (`rates` x the mean prompt) at one prefill
    replica's rate, the decode pool the output tokens per second at one decode replica's rate
    within the SLO; each by the autoscaler's rule (`follow_load`), so the pool ratio follows
    the load's mix. The two schedules merge onto one time line."""
    auto = plan.fleet.autoscale or Autoscale()
    prefill = follow_load(
        [r * plan.mean_prompt_tokens for r in rates], prefill_capacity_tokens_per_s(plan), auto
    )
    decode = follow_load(
        [r * plan.mean_output_tokens for r in rates], decode_capacity_tokens_per_s(plan), auto
    )
    times = sorted({*prefill.times_s, *decode.times_s})
    steps: list[tuple[float, int, int]] = []
    for t in times:
        p, d = prefill.count_at(t), decode.count_at(t)
        if not steps or (steps[-1][1], steps[-1][2]) != (p, d):
            steps.append((t, p, d))
    return ReplicaSchedule(
        [t for t, _, _ in steps], [p + d for _, p, d in steps], [p for _, p, _ in steps]
    )


PoolProbe = Callable[[int, int], Sequence["RunSample"]]
"""Runs a disaggregated fleet of (prefill, decode) replicas: the samples it will report."""


def pool_lower_bounds(
    plan: DeploymentPlan, expected_requests: float, prompt_tokens: float, output_tokens: float
) -> tuple[int, int]:
    """Fewest replicas each pool needs to keep up at all (busy all the time): prompts at one
    prefill replica's rate, output tokens at one decode replica's fastest (its largest batch
    of sequences of the mean length, decoding only)."""
    offered_rps = expected_requests / plan.horizon_s
    prompt = max(1, round(prompt_tokens))
    prefill_s = prompt_prefill(plan.prefill_perf, prompt).total_s
    decode = plan.perf
    context = prompt + output_tokens
    batch = max(1, decode.max_sequences(round(context)))
    step_s = decode.iteration_time_s(0, 0, batch, batch * (prompt + output_tokens / 2))
    decode_tokens_per_s = batch * decode.decode_tokens_per_step / step_s
    prefill = max(1, math.ceil(offered_rps * prefill_s))
    decode_replicas = max(1, math.ceil(offered_rps * output_tokens / decode_tokens_per_s))
    return prefill, decode_replicas


def bottleneck(plan: DeploymentPlan, samples: Sequence[RunSample]) -> PoolRole:
    """The pool to grow: decode when time per output token misses its bound (decode replicas
    alone make it), prefill when the time to first token does (the first token comes from
    the prefill pool); else, overloaded or short of attainment, the busier pool."""
    slo = plan.fleet.slo
    ttft = np.concatenate([s.ttft_s[s.measured] for s in samples])
    tpot = np.concatenate([s.tpot_s[s.measured] for s in samples])
    late_first = late_tokens = 0.0
    if ttft.size and slo.ttft_p99_s is not None:
        late_first = float(np.mean(~(ttft <= slo.ttft_p99_s)))
    if tpot.size:
        finite = tpot[np.isfinite(tpot)]
        bounds = [b for b in (slo.tpot_p50_s, slo.tpot_p99_s) if b is not None]
        if finite.size and bounds:
            late_tokens = float(np.mean(finite > min(bounds)))
            if slo.tpot_p50_s is not None and float(np.median(finite)) > slo.tpot_p50_s:
                return "decode"
    if not any(s.overloaded for s in samples) and (late_first > 0.01 or late_tokens > 0.01):
        return "prefill" if late_first >= late_tokens else "decode"
    busy = {
        role: math.fsum(s.totals[f"{role}_gpu_hours_busy"] for s in samples)
        / max(math.fsum(s.totals[f"{role}_gpu_hours_scheduled"] for s in samples), 1e-12)
        for role in ("prefill", "decode")
    }
    return "prefill" if busy["prefill"] >= busy["decode"] else "decode"


def size_pools(plan: DeploymentPlan, lower: tuple[int, int], probe: PoolProbe) -> tuple[int, int]:
    """The (prefill, decode) replicas meeting the fleet's SLOs: from the pools' lower bounds,
    grow the bottleneck pool (`bottleneck`) geometrically until the SLOs hold, then shrink
    each pool in turn by bisection. The result passes, and one replica fewer in either pool
    fails (given the other)."""
    slo = plan.fleet.slo
    if slo.ttft_p99_s is None and slo.tpot_p50_s is None and slo.tpot_p99_s is None:
        raise SloUnattainableError(
            "fleet.mode size_to_slo needs fleet.slo with ttft_p99_s, tpot_p50_s or tpot_p99_s"
        )
    results: dict[tuple[int, int], Sequence[RunSample]] = {}

    def samples(prefill: int, decode: int) -> Sequence[RunSample]:
        if (prefill, decode) not in results:
            results[prefill, decode] = probe(prefill, decode)
        return results[prefill, decode]

    def fails(prefill: int, decode: int) -> bool:
        return bool(slo_failures(plan, samples(prefill, decode)))

    prefill, decode = lower
    for _ in range(2 * MAX_GROWTH_PROBES):
        if not fails(prefill, decode):
            break
        if prefill + decode >= MAX_REPLICAS:
            break
        if bottleneck(plan, samples(prefill, decode)) == "prefill":
            prefill = max(prefill + 1, math.ceil(prefill * 1.5))
        else:
            decode = max(decode + 1, math.ceil(decode * 1.5))
    else:
        prefill = decode = 0
    if prefill == 0 or fails(prefill, decode):
        shown = "; ".join(slo_failures(plan, samples(*max(results, key=sum))))
        raise SloUnattainableError(
            f"deployments.{plan.name}: no disaggregated fleet up to {max(map(sum, results)):,} "
            f"replicas meets fleet.slo ({shown}); relax the SLO or use a faster GPU, precision "
            "or parallelism"
        )

    def shrink(low: int, high: int, passes: Callable[[int], bool]) -> int:
        """The fewest in (low, high] that passes; high passes, low is taken to fail."""
        while high - low > 1:
            middle = (low + high) // 2
            if passes(middle):
                high = middle
            else:
                low = middle
        return high

    prefill = shrink(0, prefill, lambda p: not fails(p, decode))
    decode = shrink(0, decode, lambda d: not fails(prefill, d))
    return prefill, decode
