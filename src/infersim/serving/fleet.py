"""Fleet modes beyond a fixed fleet: size the fleet to SLOs, or autoscale over a day.

Sizing searches the smallest replica count whose simulated p99 time to first token and
p50/p99 time per output token meet the SLOs at the given load: it starts from the count the
steady-state capacity requires, grows geometrically until the SLOs hold, then bisects.
Autoscaling follows the load interval by interval (replicas = load / (capacity x target
utilization)), and a scale-up only takes effect after the lag; paid GPU-hours follow the
replicas that are up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from infersim.errors import InfersimError
from infersim.scenario.deployment import Autoscale
from infersim.serving.cluster import ReplicaSchedule
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
    per_replica = plan.capacity_rps * auto.target_utilization
    wanted = [
        min(auto.max_replicas, max(auto.min_replicas, math.ceil(rate / per_replica)))
        for rate in rates
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
