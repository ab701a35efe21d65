"""The search: screen every candidate, then verify the promising ones by simulation.

Stage 2 runs in rounds of `top_k` candidates, taken in the screen's order (estimated
$/month, then the cost floor, then the space's order). After each round, a candidate whose
cost floor is not below the cheapest verified plan cannot beat it and is skipped; rounds go
on while some candidate still could. So the winner is the cheapest configuration that the
simulation finds meets the SLO (ties: fewer GPUs, then the space's order), exactly as if
every candidate had been simulated, and the rounds do not depend on `--jobs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from infersim.errors import UsageError
from infersim.planner.frontier import pareto_frontier, why_runner_up_lost
from infersim.planner.problem import PlanProblem
from infersim.planner.screen import Screened, screen
from infersim.planner.space import Candidate, Constraints, SearchSpace
from infersim.planner.verify import FailureKind, Verified, Verifier
from infersim.scenario.deployment import Slo
from infersim.serving.fleet import MAX_REPLICAS

Progress = Callable[[str, float], None]

#: Candidates verified per round unless told otherwise.
DEFAULT_TOP_K = 8


class NoPlanError(Exception):
    """No configuration meets the SLO (exit 1); the message names the closest miss."""


@dataclass(frozen=True)
class PlanResult:
    space: SearchSpace
    constraints: Constraints
    slo: Slo
    top_k: int
    screened: tuple[Screened, ...]
    """Every candidate, in the space's order."""
    verified: tuple[Verified, ...]
    """Simulated candidates: plans cheapest first, then the failures."""
    skipped: tuple[Screened, ...]
    """Kept by the screen, never simulated: the cost floor is not below the winner's cost."""
    rounds: int

    @property
    def plans(self) -> list[Verified]:
        return [v for v in self.verified if v.feasible]

    @property
    def winner(self) -> Verified | None:
        plans = self.plans
        return plans[0] if plans else None

    @property
    def runner_up(self) -> Verified | None:
        plans = self.plans
        return plans[1] if len(plans) > 1 else None

    @property
    def frontier(self) -> list[Verified]:
        return pareto_frontier(self.verified)

    def runner_up_note(self) -> str | None:
        winner, second = self.winner, self.runner_up
        if winner is None or second is None:
            return None
        return why_runner_up_lost(winner, second)


def screen_all(
    problem: PlanProblem, space: SearchSpace, constraints: Constraints
) -> list[Screened]:
    """Stage 1 over the whole space, in its order."""
    return [screen(problem, candidate, constraints) for candidate in space.candidates()]


def verify_stage(
    screened: Sequence[Screened],
    verifier: Verifier,
    top_k: int,
    constraints: Constraints,
    progress: Progress | None = None,
) -> tuple[list[Verified], list[Screened], int]:
    """Stage 2 (see the module doc): the verified candidates sorted (plans first, then the
    failures, those that missed at a cap included), the skipped ones, and the rounds.

    A candidate is tried at a cap while it could still beat the best plan, fit `--max-gpus`
    and the budget, and stay within sizing's `MAX_REPLICAS`; missing the SLO there raises its
    floor above the cap (sizing takes more replicas to help, never fewer)."""
    order = sorted(
        (s for s in screened if s.kept),
        key=lambda s: (s.estimated_usd_per_month, s.cost_floor_usd_per_month, s.candidate),
    )
    floor = {s.candidate: s.min_replicas or 1 for s in order}
    per_replica = {s.candidate: s.monthly_usd(1) for s in order}
    most = {
        s.candidate: _most_replicas(s.candidate, per_replica[s.candidate], constraints)
        for s in order
    }
    done: dict[Candidate, Verified] = {}
    capped: dict[Candidate, Verified] = {}
    best = math.inf
    rounds = 0
    while True:
        waiting = [
            c
            for c in (s.candidate for s in order)
            if c not in done and floor[c] * per_replica[c] < best and floor[c] <= most[c]
        ]
        batch = waiting[:top_k]
        if not batch:
            break
        rounds += 1
        if progress is not None:
            progress(f"simulating, round {rounds}", len(done) / max(len(order), 1))
        tasks = [(c, min(most[c], _cap(floor[c], per_replica[c], best))) for c in batch]
        for result in verifier(tasks):
            candidate = result.candidate
            if result.failure_kind == "capped":
                capped[candidate] = result
                floor[candidate] = (result.replicas or 0) + 1
                continue
            done[candidate] = result
            if result.feasible and result.usd_per_month is not None:
                best = min(best, result.usd_per_month)
    for candidate, missed in list(capped.items()):
        limit = _limiting_constraint(candidate, per_replica[candidate], constraints)
        if candidate not in done and limit is not None and floor[candidate] > most[candidate]:
            flag, kind = limit
            capped[candidate] = replace(
                missed, failure=f"{missed.failure} (the most {flag} allows)", failure_kind=kind
            )
    verified = [*done.values(), *(v for c, v in capped.items() if c not in done)]
    verified.sort(key=lambda v: (not v.feasible, v.failure_kind == "capped", v.sort_key()))
    skipped = [s for s in order if s.candidate not in done and s.candidate not in capped]
    return verified, skipped, rounds


#: A first try, with no plan to beat yet, caps the fleet at this many times the screen's
#: replica floor; a candidate that misses the SLO there is tried again later, capped higher.
CAP_GROWTH = 4


def _most_replicas(candidate: Candidate, usd_per_replica: float, constraints: Constraints) -> int:
    """The most replicas a plan of this candidate may have: sizing's limit, `--max-gpus`,
    and the budget (at the idle-hour price)."""
    most = MAX_REPLICAS
    if constraints.max_gpus is not None:
        most = min(most, constraints.max_gpus // candidate.gpus_per_replica)
    budget = constraints.budget_usd_per_month
    if budget is not None and usd_per_replica > 0:
        most = min(most, math.floor(budget / usd_per_replica))
    return most


def _limiting_constraint(
    candidate: Candidate, usd_per_replica: float, constraints: Constraints
) -> tuple[str, FailureKind] | None:
    """The flag and failure kind of the constraint that sets `_most_replicas`, if one does."""
    most = _most_replicas(candidate, usd_per_replica, constraints)
    if most >= MAX_REPLICAS:
        return None
    gpus = constraints.max_gpus
    if gpus is not None and most == gpus // candidate.gpus_per_replica:
        return constraints.named("max_gpus"), "max_gpus"
    return constraints.named("budget"), "budget"


def _cap(floor: int, usd_per_replica: float, best_usd: float) -> int:
    """The replicas to try a candidate at first: as many as can still cost less than the
    best plan (at the idle-hour price, which a busy hour never undercuts), else
    `CAP_GROWTH` x its floor."""
    if math.isinf(best_usd) or usd_per_replica <= 0:
        return floor * CAP_GROWTH
    return max(floor, math.floor(best_usd / usd_per_replica))


def plan(
    problem: PlanProblem,
    space: SearchSpace,
    constraints: Constraints,
    verifier: Verifier,
    top_k: int = DEFAULT_TOP_K,
    progress: Progress | None = None,
) -> PlanResult:
    """Both stages. Raises `UsageError` when a constraint alone rules everything out, and
    `NoPlanError` (with the closest miss) when no configuration meets the SLO."""
    if progress is not None:
        progress("screening", 0.0)
    screened = screen_all(problem, space, constraints)
    verified, skipped, rounds = verify_stage(screened, verifier, top_k, constraints, progress)
    result = PlanResult(
        space,
        constraints,
        problem.scenario.fleet.slo,
        top_k,
        tuple(screened),
        tuple(verified),
        tuple(skipped),
        rounds,
    )
    if result.winner is None:
        raise_no_plan(result)
    return result


def raise_no_plan(result: PlanResult) -> None:
    """Why nothing qualified: a constraint (exit 2, naming it) or the SLO (closest miss)."""
    by_constraint = [v for v in result.verified if v.failure_kind in ("max_gpus", "budget")]
    if by_constraint:
        first = min(by_constraint, key=Verified.sort_key)
        flag = result.constraints.named(first.failure_kind or "max_gpus")
        raise UsageError(
            f"{flag} leaves no configuration that meets the SLO: the cheapest tried, "
            f"{first.candidate.label}, {first.failure}"
        )
    cut = [s for s in result.screened if s.outcome in ("max_gpus", "budget")]
    if cut and not result.verified:
        first_cut = min(cut, key=lambda s: (s.cost_floor_usd_per_month, s.candidate))
        raise UsageError(
            f"{result.constraints.named(first_cut.outcome)} rules out every configuration: the "
            f"least demanding, {first_cut.candidate.label}, {first_cut.reason}"
        )
    outcomes = {s.outcome for s in result.screened}
    if outcomes and outcomes <= {"quality", "no_price", "provider"}:
        flags = " and ".join(result.constraints.named(o) for o in sorted(outcomes))
        example = result.screened[0]
        raise UsageError(
            f"{flags} {'rule' if len(outcomes) > 1 else 'rules'} out every configuration "
            f"searched (e.g. {example.candidate.label}: {example.reason})"
        )
    raise NoPlanError(f"no configuration meets the SLO; closest miss: {closest_miss(result)}")


def closest_miss(result: PlanResult) -> str:
    """The candidate that came nearest: among the simulated ones, else among those ruled out
    by an SLO floor, the one whose floors are least over their bounds."""
    floors = {s.candidate: s for s in result.screened}
    failed = [v for v in result.verified if not v.feasible]
    if failed:
        best = min(
            failed, key=lambda v: (floor_ratio(floors[v.candidate], result.slo), v.candidate)
        )
        return f"{best.candidate.label}: {best.failure}"
    slo_floor = [s for s in result.screened if s.outcome == "slo_floor"]
    if slo_floor:
        near = min(slo_floor, key=lambda s: (floor_ratio(s, result.slo), s.candidate))
        return f"{near.candidate.label}: {near.reason}"
    if not result.screened:
        return "no candidate was searched"
    first = result.screened[0]
    return f"{first.candidate.label}: {first.reason}"


def floor_ratio(screened: Screened, slo: Slo) -> float:
    """The largest of the screen's latency floors over their SLO bounds (inf: no floor)."""
    ratios = []
    if screened.ttft_floor_s is not None and slo.ttft_p99_s is not None:
        ratios.append(screened.ttft_floor_s / slo.ttft_p99_s)
    bounds = [b for b in (slo.tpot_p50_s, slo.tpot_p99_s) if b is not None]
    if screened.tpot_floor_s is not None and bounds:
        ratios.append(screened.tpot_floor_s / min(bounds))
    return max(ratios) if ratios else math.inf
