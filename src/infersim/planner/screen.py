"""Stage 1, the analytic screen: the performance model and a queueing approximation.

For each candidate, without simulating:

- it must be a valid split and fit in memory (`build_perf_model`), have a price (a catalog
  quote of its kind, from a listed provider when `--provider` lists some, or a purchase
  price), and respect the quality floor;
- floors no fleet size can beat: the TPOT of one sequence decoding alone (every request's
  time per output token is at least one iteration over the tokens it emits per step), and the
  TTFT of a prompt the run's p99 prompt is longer than but with a one-in-a-million chance
  (`PlanProblem.floor_prompt_tokens`), prefilled alone with the largest prefix-cache share:
  every request waits at least its own prefill, so the p99 of TTFT is above that. A floor
  over its SLO bound rules the candidate out;
- a cost floor: fleet sizing (`serving.fleet.size_fleet`) never goes below the replicas the
  steady-state capacity within the TPOT bound requires, so neither can the verified plan
  (a disaggregated fleet: two replicas, one per pool, as pool sizing bisects each pool).
  That floor over `--max-gpus` or the budget rules it out, and the search skips any
  candidate whose floor is not below the cheapest plan verified so far;
- an estimate to rank the survivors: the fewest replicas whose p99 wait for a batch slot
  (Erlang C over replicas x SLO batch slots, each holding a request for its mean service
  time) plus that prompt's prefill fit the TTFT bound (a disaggregated fleet: the sum of
  its pools' steady-state lower bounds, `serving.fleet.pool_lower_bounds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from infersim.economics.errors import EconomicsError
from infersim.economics.gpu_cost import gpu_usd_per_hour
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.perf import (
    DoesNotFit,
    InvalidDeploymentError,
    PerfModel,
    chunk_context_tokens,
    slo_throughput,
)
from infersim.perf.precision import quality_penalty
from infersim.planner.problem import PlanProblem
from infersim.planner.space import PRECISIONS, Candidate, Constraints
from infersim.scenario.deployment import SelfHosted, Slo
from infersim.serving.fleet import pool_lower_bounds
from infersim.serving.simulate import deployment_plan

ScreenOutcome = Literal[
    "kept", "invalid", "does_not_fit", "no_price", "provider", "quality", "slo_floor",
    "max_gpus", "budget",
]  # fmt: skip

#: Probability the screen's TTFT estimate leaves to the wait for a batch slot (its p99).
WAIT_TAIL = 0.01
#: Most replicas the screen's estimate tries above the floor before giving up on the TTFT.
ESTIMATE_GROWTH = 64
#: A disaggregated fleet's fewest replicas: one prefill and one decode replica.
DISAGGREGATED_MIN_REPLICAS = 2


@dataclass(frozen=True)
class Screened:
    """A candidate after the screen: kept (with its floors and estimate) or ruled out."""

    candidate: Candidate
    outcome: ScreenOutcome
    reason: str
    """Why it was ruled out (empty when kept)."""
    quality_penalty: float
    usd_per_gpu_hour_floor: float | None = None
    """Idle-hour price (owned GPUs: power at idle); what a busy hour costs is never less."""
    min_replicas: int | None = None
    estimated_replicas: int | None = None
    ttft_floor_s: float | None = None
    tpot_floor_s: float | None = None

    @property
    def kept(self) -> bool:
        return self.outcome == "kept"

    def monthly_usd(self, replicas: int | None) -> float:
        if replicas is None or self.usd_per_gpu_hour_floor is None:
            return math.inf
        gpus = replicas * self.candidate.gpus_per_replica
        return gpus * HOURS_PER_MONTH * self.usd_per_gpu_hour_floor

    @property
    def cost_floor_usd_per_month(self) -> float:
        return self.monthly_usd(self.min_replicas)

    @property
    def estimated_usd_per_month(self) -> float:
        return self.monthly_usd(self.estimated_replicas)


def _out(candidate: Candidate, outcome: ScreenOutcome, reason: str, penalty: float) -> Screened:
    return Screened(candidate, outcome, reason, penalty)


def screen(problem: PlanProblem, candidate: Candidate, constraints: Constraints) -> Screened:
    """Stage 1 for one candidate (see the module doc)."""
    penalty = quality_penalty(PRECISIONS[candidate.precision])
    limit = constraints.max_quality_penalty
    if limit is not None and penalty > limit:
        named = constraints.named("quality")
        reason = f"quality penalty {penalty:.1%} > {named} {limit:.1%}"
        return _out(candidate, "quality", reason, penalty)
    scenario = problem.scenario_for(candidate)
    gpu = problem.catalog.gpu_of(candidate.gpu)
    deployment = scenario.deployments[problem.name]
    assert isinstance(deployment, SelfHosted) and deployment.cost is not None
    cost = deployment.cost
    missing = problem.provider_miss(deployment)
    if missing is not None:
        return _out(candidate, "provider", f"{missing} ({constraints.named('provider')})", penalty)
    try:
        hour = gpu_usd_per_hour(cost, gpu, 0.0)
    except EconomicsError as exc:
        return _out(candidate, "no_price", str(exc).split(";")[0], penalty)
    try:
        plan = deployment_plan(scenario, problem.catalog, problem.name, problem.data)
    except DoesNotFit as exc:
        return _out(candidate, "does_not_fit", str(exc).split(";")[0], penalty)
    except InvalidDeploymentError as exc:
        return _out(candidate, "invalid", str(exc), penalty)
    perf = plan.perf
    slo = scenario.fleet.slo
    tpot_floor = perf.iteration_time_s(0.0, 0.0, 1.0, 1.0) / perf.decode_tokens_per_step
    ttft_floor = _prefill_alone_s(perf, problem.floor_prompt_tokens, problem.cached_share_max)
    kept = Screened(
        candidate, "kept", "", penalty, hour.usd_per_hour, None, None, ttft_floor, tpot_floor
    )
    tpot_bounds = [b for b in (slo.tpot_p50_s, slo.tpot_p99_s) if b is not None]
    if tpot_bounds and problem.multi_token_outputs and tpot_floor > min(tpot_bounds):
        reason = f"TPOT at least {tpot_floor * 1e3:.1f} ms > {min(tpot_bounds) * 1e3:g} ms"
        return replace(kept, outcome="slo_floor", reason=reason)
    if slo.ttft_p99_s is not None and ttft_floor > slo.ttft_p99_s:
        reason = f"TTFT p99 at least {ttft_floor:.3g} s > {slo.ttft_p99_s:g} s"
        return replace(kept, outcome="slo_floor", reason=reason)
    if candidate.disaggregated:
        # pool sizing bisects each pool down from where the SLOs hold: no floor but one
        # replica per pool; the pools' steady-state lower bounds estimate the fleet
        lowest = DISAGGREGATED_MIN_REPLICAS
        expected = problem.offered_rps * plan.horizon_s
        pools = pool_lower_bounds(plan, expected, plan.mean_prompt_tokens, plan.mean_output_tokens)
        estimate = max(lowest, sum(pools))
    else:
        lowest = max(1, math.ceil(problem.offered_rps / plan.capacity_rps))
        estimate = estimate_replicas(
            problem.offered_rps, plan.capacity_rps, lowest, _slo_batch(problem, perf, slo),
            ttft_floor, slo.ttft_p99_s,
        )  # fmt: skip
    kept = replace(kept, min_replicas=lowest, estimated_replicas=estimate)
    gpus = lowest * candidate.gpus_per_replica
    if constraints.max_gpus is not None and gpus > constraints.max_gpus:
        reason = (
            f"needs at least {gpus} GPUs > {constraints.named('max_gpus')} {constraints.max_gpus}"
        )
        return replace(kept, outcome="max_gpus", reason=reason)
    budget = constraints.budget_usd_per_month
    if budget is not None and kept.cost_floor_usd_per_month > budget:
        floor = kept.cost_floor_usd_per_month
        reason = (
            f"costs at least ${floor:,.0f}/month > {constraints.named('budget')} ${budget:,.0f}"
        )
        return replace(kept, outcome="budget", reason=reason)
    return kept


def _slo_batch(problem: PlanProblem, perf: PerfModel, slo: Slo) -> int:
    """The replica's steady batch within the TPOT bound at the traffic's mean lengths (the
    batch behind the capacity that sizing starts from)."""
    bound = slo.tpot_p99_s if slo.tpot_p99_s is not None else slo.tpot_p50_s
    prompt = max(1, round(problem.mean_prompt_tokens))
    output = max(1, round(problem.mean_output_tokens))
    return slo_throughput(perf, prompt, output, bound).batch_sequences


def _prefill_alone_s(perf: PerfModel, prompt_tokens: float, cached_share: float) -> float:
    """One prompt prefilled alone in a single iteration, its cached prefix skipped: no less
    than its time to first token (chunks only add iterations)."""
    prompt = math.floor(prompt_tokens)
    cached = math.floor(prompt * cached_share)
    computed = prompt - cached
    return perf.iteration_time_s(computed, chunk_context_tokens(computed, cached), 0.0, 0.0)


def estimate_replicas(
    offered_rps: float,
    capacity_rps: float,
    lowest: int,
    batch: int,
    prefill_s: float,
    ttft_bound_s: float | None,
) -> int:
    """The fewest replicas from `lowest` whose p99 wait for a batch slot plus the prefill
    fits the TTFT bound, in an M/M/c queue of replicas x `batch` slots, each serving one
    request every batch / capacity seconds. Erlang B is carried by recursion over the slots
    (the load does not change with them), then turned into Erlang C."""
    if ttft_bound_s is None:
        return lowest
    batch = max(1, batch)
    slot_rps = capacity_rps / batch
    load = offered_rps / slot_rps
    blocking, servers = 1.0, 0
    for replicas in range(lowest, lowest + ESTIMATE_GROWTH):
        while servers < replicas * batch:
            servers += 1
            blocking = load * blocking / (servers + load * blocking)
        spare = servers * slot_rps - offered_rps
        if spare <= 0:
            continue
        rho = load / servers
        waiting = blocking / (1.0 - rho * (1.0 - blocking))  # Erlang C
        wait_s = math.log(waiting / WAIT_TAIL) / spare if waiting > WAIT_TAIL else 0.0
        if prefill_s + wait_s <= ttft_bound_s:
            return replicas
    return lowest + ESTIMATE_GROWTH
