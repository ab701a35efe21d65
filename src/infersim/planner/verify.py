"""Stage 2, verification: the discrete-event simulation sizes a candidate's fleet to the SLO.

A candidate runs as `infersim run` would run it (`PlanProblem.scenario_for`: the served
traffic, `fleet.mode: size_to_slo`), so its replica count is the smallest whose simulated
runs meet the SLO, and the figures reported are those very runs'. Its bill and cost per
token come from the ledger (`pipeline.ledger.build_ledger`): the same figures a run's P&L
shows. Each verification is a pure function of (problem, candidate): the order and the
process it runs in change nothing.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

from infersim.perf import DoesNotFit, InvalidDeploymentError
from infersim.pipeline.ledger import build_ledger
from infersim.planner.problem import PlanProblem
from infersim.planner.space import Candidate, Constraints
from infersim.serving.fleet import SloUnattainableError
from infersim.serving.simulate import simulate

FailureKind = Literal["slo", "max_gpus", "budget", "capped"]
"""Why a candidate is not a plan: the SLO (at any fleet size), a constraint, or 'capped': it
misses the SLO at the capped fleet size it was tried at (sizing it further was not needed
so far; see `infersim.planner.search`)."""


@dataclass(frozen=True)
class Verified:
    """A candidate sized by simulation. `failure` says why it is not a plan (None: it is)."""

    candidate: Candidate
    failure: str | None
    failure_kind: FailureKind | None = None
    replicas: int | None = None
    prefill_replicas: int | None = None
    """A disaggregated fleet: the replicas of its prefill pool (the rest decode)."""
    gpus: int | None = None
    usd_per_month: float | None = None
    """The fleet's monthly bill: paid GPU-hours x $/GPU-hour, as the ledger books it."""
    usd_per_gpu_hour: float | None = None
    usd_per_mtok_input: float | None = None
    usd_per_mtok_output: float | None = None
    ttft_p99_s: float | None = None
    tpot_p99_s: float | None = None
    slo_attainment: float | None = None
    load_factor: float | None = None
    busy_share: float | None = None
    headroom: float | None = None
    """The smallest margin between an SLO bound and its figure, as a share of the bound
    (TTFT p99, TPOT p50/p99)."""

    @property
    def feasible(self) -> bool:
        return self.failure is None

    def sort_key(self) -> tuple[float, int, Candidate]:
        """Cheapest first; then fewer GPUs; then the space's order."""
        cost = self.usd_per_month if self.usd_per_month is not None else math.inf
        return (cost, self.gpus or 0, self.candidate)


def verify(
    problem: PlanProblem, constraints: Constraints, task: tuple[Candidate, int | None]
) -> Verified:
    """Size the candidate's fleet by simulation and price it (see the module doc). With a
    cap, the fleet of `cap` replicas is simulated first, and sized only if it meets the SLO
    (sizing then stays within the cap); else the result is 'capped'. A disaggregated
    candidate is sized outright: its pools are sized together, no fleet size stands for it."""
    candidate, cap = task
    if cap is not None and not candidate.disaggregated:
        capped = problem.scenario_for(candidate, replicas=cap)
        probe = simulate(capped, problem.seed, problem.catalog, problem.data)
        found = probe.deployment(problem.name)
        if found.verdict_kind in ("overloaded", "slo_missed"):
            missed = f"misses the SLO at {cap} replicas: {_problems(found.verdict)}"
            return Verified(
                candidate, missed, "capped",
                replicas=cap, gpus=cap * candidate.gpus_per_replica,
                ttft_p99_s=found.ttft_s.p99, tpot_p99_s=found.tpot_s.p99,
                slo_attainment=found.slo_met_share,
            )  # fmt: skip
    scenario = problem.scenario_for(candidate)
    try:
        serving = simulate(scenario, problem.seed, problem.catalog, problem.data)
    except SloUnattainableError as exc:
        return Verified(candidate, _unattainable(str(exc)), "slo")
    except (DoesNotFit, InvalidDeploymentError) as exc:  # the screen keeps none of these
        return Verified(candidate, str(exc), "slo")
    result = serving.deployment(problem.name)
    ledger = build_ledger(scenario, problem.catalog, serving, problem.data, problem.traffic)
    fleet = next(f for f in ledger.fleets if f.deployment == problem.name)
    tokens = ledger.token_costs[problem.name]
    slo = scenario.fleet.slo
    replicas = result.peak_replicas
    gpus = replicas * candidate.gpus_per_replica
    prefill = next((p for p in result.pools if p.role == "prefill"), None)
    if result.pools:
        gpus = sum(p.gpus for p in result.pools)
    failure = result.verdict
    kind: FailureKind | None = None if failure is None else "slo"
    if failure is None and constraints.max_gpus is not None and gpus > constraints.max_gpus:
        named = constraints.named("max_gpus")
        failure, kind = f"needs {gpus} GPUs > {named} {constraints.max_gpus}", "max_gpus"
    budget = constraints.budget_usd_per_month
    if failure is None and budget is not None and fleet.usd_per_month > budget:
        named = constraints.named("budget")
        failure = f"costs ${fleet.usd_per_month:,.0f}/month > {named} ${budget:,.0f}"
        kind = "budget"
    margins = [
        (bound - value) / bound
        for value, bound in (
            (result.ttft_s.p99, slo.ttft_p99_s),
            (result.tpot_s.p50, slo.tpot_p50_s),
            (result.tpot_s.p99, slo.tpot_p99_s),
        )
        if value is not None and bound is not None
    ]
    return Verified(
        candidate=candidate,
        failure=failure,
        failure_kind=kind,
        replicas=replicas,
        prefill_replicas=None if prefill is None else prefill.replicas,
        gpus=gpus,
        usd_per_month=fleet.usd_per_month,
        usd_per_gpu_hour=fleet.usd_per_gpu_hour,
        usd_per_mtok_input=tokens.usd_per_mtok_input,
        usd_per_mtok_output=tokens.usd_per_mtok_output,
        ttft_p99_s=result.ttft_s.p99,
        tpot_p99_s=result.tpot_s.p99,
        slo_attainment=result.slo_met_share,
        load_factor=result.load_factor,
        busy_share=fleet.busy_share,
        headroom=min(margins) if margins else None,
    )


def _problems(verdict: str | None) -> str:
    """A verdict's problems without its kind ('SLO missed: ...')."""
    return (verdict or "").split(": ", 1)[-1]


def _unattainable(message: str) -> str:
    """Sizing's message without the deployment prefix and the advice."""
    text = message.split(": ", 1)[-1]
    return text.split("; the bound is")[0]


Task = tuple[Candidate, int | None]
"""A candidate, and the replica cap to try it at first (None: size it outright)."""
Verifier = Callable[[Sequence[Task]], list[Verified]]


def serial_verifier(problem: PlanProblem, constraints: Constraints) -> Verifier:
    def run(batch: Sequence[Task]) -> list[Verified]:
        return [verify(problem, constraints, task) for task in batch]

    return run


class PoolVerifier:
    """Verifications spread over `jobs` local processes, results in the order asked: the
    same `Verified`s as serial, since each is a pure function of its candidate."""

    def __init__(self, problem: PlanProblem, constraints: Constraints, jobs: int) -> None:
        self._pool = ProcessPoolExecutor(max_workers=jobs)
        self._task = functools.partial(verify, problem, constraints)

    def __call__(self, batch: Sequence[Task]) -> list[Verified]:
        return list(self._pool.map(self._task, batch))

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class DaskVerifier:
    """Verifications on an existing Dask cluster (the optional `distributed` package, as the
    analyses use it: `infersim.analysis.execute`), results in the order asked: the same
    `Verified`s as serial. The problem is sent to the workers once."""

    def __init__(self, problem: PlanProblem, constraints: Constraints, scheduler: str) -> None:
        # imported here: the analyses' execution module brings their reports with it
        from infersim.analysis import AnalysisError
        from infersim.analysis.execute import DASK_CONNECT_TIMEOUT_S, Execution

        Execution(1, "dask", scheduler).check()  # the flags, and `distributed` installed
        distributed = importlib.import_module("distributed")
        try:
            self._client = distributed.Client(
                scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s", set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise AnalysisError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})"
            ) from None
        self._problem = self._client.scatter(problem, broadcast=True)
        self._constraints = constraints

    def __call__(self, batch: Sequence[Task]) -> list[Verified]:
        futures = self._client.map(
            verify,
            [self._problem] * len(batch),
            [self._constraints] * len(batch),
            list(batch),
            pure=False,
        )
        results: list[Verified] = self._client.gather(futures)
        return results

    def close(self) -> None:
        self._client.close()
