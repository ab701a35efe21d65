"""The cost-latency Pareto frontier of the verified plans, and why the runner-up lost."""

from __future__ import annotations

from collections.abc import Sequence

from infersim.planner.verify import Verified


def pareto_frontier(plans: Sequence[Verified]) -> list[Verified]:
    """The plans no other plan beats on both $/month and TTFT p99 (ties: the cheaper, then
    the space's order), cheapest first: each next one is dearer and faster."""
    feasible = [p for p in plans if p.feasible and p.usd_per_month is not None]
    frontier: list[Verified] = []
    for plan in sorted(feasible, key=lambda p: (p.usd_per_month, p.ttft_p99_s, p.sort_key())):
        latency = plan.ttft_p99_s
        if latency is None:
            continue
        if not frontier or latency < (frontier[-1].ttft_p99_s or 0.0):
            frontier.append(plan)
    return frontier


def why_runner_up_lost(winner: Verified, runner_up: Verified) -> str:
    """One sentence: what the runner-up costs more, and where the difference comes from
    (GPUs needed, or the price of a GPU-hour)."""
    assert winner.usd_per_month is not None and runner_up.usd_per_month is not None
    extra = runner_up.usd_per_month - winner.usd_per_month
    share = extra / winner.usd_per_month if winner.usd_per_month > 0 else 0.0
    w_gpus, r_gpus = winner.gpus or 0, runner_up.gpus or 0
    w_hour, r_hour = winner.usd_per_gpu_hour or 0.0, runner_up.usd_per_gpu_hour or 0.0
    if r_gpus > w_gpus and r_hour <= w_hour:
        cause = (
            f"it needs {r_gpus} GPUs ({runner_up.replicas} replicas of "
            f"{runner_up.candidate.gpus_per_replica}) "
            f"to meet the SLO where the winner needs {w_gpus}, "
            f"at ${r_hour:.2f} vs ${w_hour:.2f} per GPU-hour"
        )
    elif r_hour > w_hour and r_gpus <= w_gpus:
        cause = f"its GPU-hour costs ${r_hour:.2f} vs ${w_hour:.2f}, with {r_gpus} GPUs vs {w_gpus}"
    elif r_gpus == w_gpus and r_hour == w_hour:
        cause = (
            f"the same {r_gpus} GPUs at ${r_hour:.2f}/GPU-hour; ties go to the first in the "
            "search's order (GPU, parallelism, precision, speculative decoding off, "
            "derived batch cap, disaggregation off first)"
        )
    else:
        cause = f"{r_gpus} GPUs at ${r_hour:.2f}/GPU-hour vs the winner's {w_gpus} at ${w_hour:.2f}"
    if extra == 0:
        return (
            f"runner-up {runner_up.candidate.label} costs the same "
            f"(${runner_up.usd_per_month:,.0f}/month) and loses the tie: {cause}"
        )
    return (
        f"runner-up {runner_up.candidate.label} costs ${extra:,.0f}/month more "
        f"({share:+.1%}): {cause}"
    )
