"""The planner against brute force: same winner, pruning that never drops a cheaper plan,
identical results with --jobs, and the written plan reproduced by `run`."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_fixtures import NO_CONSTRAINTS, small_problem, small_space

from infersim.errors import InfersimError, UsageError
from infersim.pipeline.run import run_scenario
from infersim.planner.problem import PlanProblem, prompt_floor_quantile
from infersim.planner.search import PlanResult, plan, screen_all
from infersim.planner.space import Constraints, SearchSpace
from infersim.planner.verify import (
    DaskVerifier,
    PoolVerifier,
    Verified,
    serial_verifier,
    verify,
)
from infersim.report.plan import plan_document, plan_json
from infersim.scenario.compose import Document
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.load import validate_document

#: Brute force sizes every candidate up to this many replicas (beyond: counted infeasible).
BRUTE_CAP = 48


def brute_force(problem: PlanProblem, space: SearchSpace) -> list[Verified]:
    """Every candidate simulated (capped at BRUTE_CAP replicas), no screen."""
    found = []
    for candidate in space.candidates():
        try:
            found.append(verify(problem, NO_CONSTRAINTS, (candidate, BRUTE_CAP)))
        except InfersimError:  # does not fit, no price: not a plan either
            continue
    return found


def cheapest(found: list[Verified]) -> Verified | None:
    plans = sorted((v for v in found if v.feasible), key=Verified.sort_key)
    return plans[0] if plans else None


def run_planner(problem: PlanProblem, space: SearchSpace, top_k: int = 3) -> PlanResult:
    return plan(problem, space, NO_CONSTRAINTS, serial_verifier(problem, NO_CONSTRAINTS), top_k)


def test_winner_is_brute_force_cheapest(tmp_path: Path) -> None:
    _, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(precisions=("bf16", "fp8", "int4"))
    result = run_planner(problem, space)
    best = cheapest(brute_force(problem, space))
    assert best is not None and result.winner is not None
    assert result.winner.candidate == best.candidate
    assert result.winner.replicas == best.replicas
    assert result.winner.usd_per_month == best.usd_per_month
    # the screen did prune: not every candidate needed a simulation
    assert len(result.verified) < len(result.screened)


@settings(
    max_examples=5, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(
    rate=st.floats(1.0, 30.0),
    ttft=st.floats(0.15, 2.0),
    tpot=st.floats(0.008, 0.06),
    prompt=st.integers(100, 3000),
    output=st.integers(20, 400),
)
def test_pruning_never_drops_a_cheaper_plan(
    tmp_path: Path, rate: float, ttft: float, tpot: float, prompt: int, output: int
) -> None:
    _, problem = small_problem(
        tmp_path, rate_per_s=rate, ttft_s=ttft, tpot_s=tpot, prompt_p50=prompt, output_p50=output
    )
    space = small_space(gpus=("h100-sxm", "l40s"), precisions=("bf16", "fp8"))
    brute = {v.candidate: v for v in brute_force(problem, space)}
    for screened in screen_all(problem, space, NO_CONSTRAINTS):
        truth = brute.get(screened.candidate)
        if truth is None or not truth.feasible:
            continue
        # a candidate the simulation finds feasible is never ruled out, and never needs
        # fewer replicas than the screen's floor
        assert screened.kept, (screened.candidate.label, screened.reason)
        assert truth.replicas is not None and screened.min_replicas is not None
        assert truth.replicas >= screened.min_replicas
        assert truth.usd_per_month is not None
        assert truth.usd_per_month >= screened.cost_floor_usd_per_month - 1e-6
    best = cheapest(list(brute.values()))
    if best is None or (best.replicas or 0) >= BRUTE_CAP:
        return
    result = run_planner(problem, space)
    assert result.winner is not None
    assert result.winner.sort_key() == best.sort_key()


def test_jobs_give_identical_results(tmp_path: Path) -> None:
    _, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(disaggregated=(False, True))
    serial = run_planner(problem, space)
    pool = PoolVerifier(problem, NO_CONSTRAINTS, 2)
    try:
        parallel = plan(problem, space, NO_CONSTRAINTS, pool, 3)
    finally:
        pool.close()
    assert parallel.verified == serial.verified
    assert plan_json(parallel) == plan_json(serial)
    again = run_planner(problem, space)
    assert plan_json(again) == plan_json(serial)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado")
@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")
def test_dask_cluster_gives_identical_results(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    _, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(gpus=("h100-sxm", "l40s"))
    serial = run_planner(problem, space)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        verifier = DaskVerifier(problem, NO_CONSTRAINTS, cluster.scheduler_address)
        try:
            on_dask = plan(problem, space, NO_CONSTRAINTS, verifier, 3)
        finally:
            verifier.close()
    assert on_dask.verified == serial.verified
    assert plan_json(on_dask) == plan_json(serial)


def test_written_plan_reproduces_and_cheaper_candidates_fail(tmp_path: Path) -> None:
    loaded, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(precisions=("bf16", "fp8", "int4"))
    result = run_planner(problem, space)
    winner = result.winner
    assert winner is not None and winner.replicas is not None
    chosen = problem.scenario_for(winner.candidate).deployments["main"]
    assert isinstance(chosen, SelfHosted)
    document = plan_document(loaded.document.data, "main", chosen, winner.replicas)
    rerun = validate_document(Document(document), loaded.base_dir, loaded.catalog)
    run = run_scenario(rerun.scenario, rerun.catalog)
    served = run.serving.deployment("main")
    assert served.peak_replicas == winner.replicas
    assert served.verdict is None  # the plan meets the SLO when run again
    assert served.ttft_s.p99 == winner.ttft_p99_s
    assert served.tpot_s.p99 == winner.tpot_p99_s
    assert served.slo_met_share == winner.slo_attainment
    assert run.ledger.gpu_cost_usd == pytest.approx(winner.usd_per_month, rel=1e-12)
    # the candidates the screen ruled out on an SLO floor, and those the simulation found
    # failing at a capped fleet: at the most replicas that cost no more than the winner,
    # the simulation finds each misses the SLO
    usd = winner.usd_per_month
    assert usd is not None
    failed = {v.candidate for v in result.verified if not v.feasible}
    checked = 0
    for screened in result.screened:
        if screened.outcome != "slo_floor" and screened.candidate not in failed:
            continue
        cap = max(1, math.floor(usd / screened.monthly_usd(1)))
        found = verify(problem, NO_CONSTRAINTS, (screened.candidate, cap))
        assert not found.feasible or (found.usd_per_month or 0.0) >= usd
        checked += 1
    assert checked > 0


def test_max_batch_is_searched_and_written(tmp_path: Path) -> None:
    # the cap on running sequences as a lever: the winner is still brute force's cheapest,
    # and a candidate with a cap writes it into the plan, which `run` reproduces
    loaded, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(
        gpus=("h100-sxm", "l40s"), precisions=("fp8",), max_batch_sequences=(None, 4, 64)
    )
    assert len(space.candidates()) == 12
    result = run_planner(problem, space)
    best = cheapest(brute_force(problem, space))
    assert best is not None and result.winner is not None
    assert result.winner.sort_key() == best.sort_key()
    capped = [v for v in result.plans if v.candidate.max_batch_sequences == 4]
    derived = {
        (v.candidate.gpu, v.candidate.tensor_parallel): v
        for v in result.plans
        if v.candidate.max_batch_sequences is None
    }
    for item in capped:  # 4 sequences at a time never serve the traffic on fewer replicas
        free = derived.get((item.candidate.gpu, item.candidate.tensor_parallel))
        assert free is None or (item.replicas or 0) >= (free.replicas or 0)
    some = next(v for v in [*capped, *result.plans] if v.candidate.max_batch_sequences)
    assert some.replicas is not None and "mb" in some.candidate.label
    chosen = problem.scenario_for(some.candidate).deployments["main"]
    assert isinstance(chosen, SelfHosted)
    document = plan_document(loaded.document.data, "main", chosen, some.replicas)
    assert document["deployments"]["main"]["max_batch_sequences"] == (
        some.candidate.max_batch_sequences
    )
    rerun = validate_document(Document(document), loaded.base_dir, loaded.catalog)
    served = run_scenario(rerun.scenario, rerun.catalog).serving.deployment("main")
    assert served.max_batch_sequences == some.candidate.max_batch_sequences
    assert (served.peak_replicas, served.ttft_s.p99) == (some.replicas, some.ttft_p99_s)


def test_disaggregation_is_searched_and_the_written_pools_reproduce(tmp_path: Path) -> None:
    # disaggregation on/off as a lever, each disaggregated fleet sized pool by pool: the
    # winner is brute force's cheapest, and a disaggregated plan written with its prefill
    # pool fixed runs again to the same figures
    loaded, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(gpus=("h100-sxm", "l40s"), precisions=("fp8",), disaggregated=(False, True))
    result = run_planner(problem, space)
    best = cheapest(brute_force(problem, space))
    assert best is not None and result.winner is not None
    assert result.winner.sort_key() == best.sort_key()
    split = [v for v in result.verified if v.candidate.disaggregated and v.feasible]
    assert split, [v.candidate.label for v in result.verified]
    for item in split:
        assert item.prefill_replicas is not None and item.replicas is not None
        assert 1 <= item.prefill_replicas < item.replicas
        assert item.gpus == item.replicas * item.candidate.gpus_per_replica
    some = split[0]
    assert some.replicas is not None and "disagg" in some.candidate.label
    chosen = problem.scenario_for(some.candidate).deployments["main"]
    assert isinstance(chosen, SelfHosted)
    document = plan_document(
        loaded.document.data, "main", chosen, some.replicas, some.prefill_replicas
    )
    assert document["fleet"]["prefill_replicas"] == some.prefill_replicas
    rerun = validate_document(Document(document), loaded.base_dir, loaded.catalog)
    run = run_scenario(rerun.scenario, rerun.catalog)
    served = run.serving.deployment("main")
    pools = {p.role: p.replicas for p in served.pools}
    assert pools == {
        "prefill": some.prefill_replicas, "decode": some.replicas - some.prefill_replicas
    }  # fmt: skip
    assert served.verdict is None
    assert (served.ttft_s.p99, served.tpot_s.p99) == (some.ttft_p99_s, some.tpot_p99_s)
    assert run.ledger.gpu_cost_usd == pytest.approx(some.usd_per_month, rel=1e-12)
    plain = next(v for v in result.plans if not v.candidate.disaggregated)
    assert plain.prefill_replicas is None


def test_prompt_floor_quantile_is_conservative() -> None:
    # the p99 of n draws is below the floor quantile with chance <= 1e-6: the quantile falls
    # as samples get fewer, and stays below 0.99
    quantiles = [prompt_floor_quantile(n) for n in (1, 50, 500, 5000, 50000)]
    assert quantiles == sorted(quantiles)
    assert quantiles[0] < 1e-5  # one draw: its p99 is itself, below any q but by chance q
    assert 0.9 < quantiles[-1] < 0.99


def test_budget_and_gpu_constraints_are_kept(tmp_path: Path) -> None:
    _, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space()
    free = run_planner(problem, space)
    assert free.winner is not None and free.winner.gpus is not None
    limited = Constraints(max_gpus=free.winner.gpus)
    kept = plan(problem, space, limited, serial_verifier(problem, limited), 3)
    assert kept.winner is not None and (kept.winner.gpus or 0) <= free.winner.gpus
    for item in kept.plans:
        assert (item.gpus or 0) <= free.winner.gpus


def test_a_fleet_capped_by_max_gpus_names_the_constraint(tmp_path: Path) -> None:
    # l40s tp1 needs 2 replicas (its floor is 1), tp2 needs 2 GPUs: with --max-gpus 1 the
    # one fleet tried misses the SLO at the most replicas the constraint allows
    _, problem = small_problem(tmp_path, rate_per_s=12.0, ttft_s=0.8, tpot_s=0.03)
    space = small_space(gpus=("l40s",), precisions=("fp8",))
    free = run_planner(problem, space)
    assert [(v.candidate.tensor_parallel, v.replicas) for v in free.plans] == [(1, 2), (2, 1)]
    limited = Constraints(max_gpus=1)
    with pytest.raises(UsageError, match=r"--max-gpus leaves no configuration .* allows\)"):
        plan(problem, space, limited, serial_verifier(problem, limited), 3)
