"""Benchmark the capacity planner (`infersim plan`) on a 70B chat workload.

    python benchmarks/bench_plan.py            # the full space, serial
    python benchmarks/bench_plan.py --jobs 2   # verification on two processes
    python benchmarks/bench_plan.py --disaggregated   # also every candidate disaggregated

Workload (`benchmarks/plan-chat-70b.yaml`): Llama-3.1-70B, Poisson arrivals at 10 requests/s,
lognormal prompts (p50 800, p99 8,000 tokens) and outputs (p50 200, p99 1,500), SLO TTFT p99
<= 2 s and TPOT p99 <= 80 ms, two replications of every request of a 600 s window.
Space: every catalog GPU x TP 1, 2, 4, 8 x precisions bf16, fp8, int4 x speculative decoding
off/on, rented on demand.

Target: the whole plan in <= 60 s wall on this machine's 2 cores. Other work shares them, so
CPU-seconds are printed beside wall time; stage 1 (screen) and stage 2 (simulation) apart.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from pathlib import Path

from infersim.planner.problem import prepare_problem
from infersim.planner.search import DEFAULT_TOP_K, PlanResult, screen_all, verify_stage
from infersim.planner.space import Constraints, SearchSpace
from infersim.planner.verify import PoolVerifier, serial_verifier
from infersim.scenario.load import load_scenario
from infersim.workload.trace import load_external_data

SCENARIO = Path(__file__).with_name("plan-chat-70b.yaml")
TARGET_WALL_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--disaggregated", action="store_true", help="search disaggregation off and on"
    )
    args = parser.parse_args()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    loaded = load_scenario(SCENARIO)
    data = load_external_data(loaded.scenario, loaded.base_dir)
    problem = prepare_problem(loaded.scenario, loaded.catalog, data, "main")
    space = SearchSpace(
        gpus=tuple(sorted(loaded.catalog.gpus)),
        tensor_parallel=(1, 2, 4, 8),
        expert_parallel=(1,),
        precisions=("bf16", "fp8", "int4"),
        speculative=(False, True),
        chunked_prefill=(True,),
        max_batch_sequences=(None,),
        disaggregated=(False, True) if args.disaggregated else (False,),
        pricing=("on_demand",),
    )
    constraints = Constraints()
    wall1, cpu1 = time.perf_counter(), time.process_time()
    screened = screen_all(problem, space, constraints)
    wall2, cpu2 = time.perf_counter(), time.process_time()
    pool = PoolVerifier(problem, constraints, args.jobs) if args.jobs > 1 else None
    try:
        verifier = pool or serial_verifier(problem, constraints)
        verified, skipped, rounds = verify_stage(screened, verifier, DEFAULT_TOP_K, constraints)
    finally:
        if pool is not None:
            pool.close()
    wall3, cpu3 = time.perf_counter(), time.process_time()
    result = PlanResult(
        space, constraints, problem.scenario.fleet.slo, DEFAULT_TOP_K,
        tuple(screened), tuple(verified), tuple(skipped), rounds,
    )  # fmt: skip
    outcomes = Counter(s.outcome for s in screened)
    print(f"candidates screened : {len(screened)}  ({dict(sorted(outcomes.items()))})")
    print(f"candidates simulated: {len(verified)} in {rounds} rounds; skipped: {len(skipped)}")
    print(f"load + problem      : {wall1 - wall0:6.2f} s wall, {cpu1 - cpu0:6.2f} CPU-s")
    print(f"stage 1 (screen)    : {wall2 - wall1:6.2f} s wall, {cpu2 - cpu1:6.2f} CPU-s")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = children.ru_utime + children.ru_stime
    print(
        f"stage 2 (simulate)  : {wall3 - wall2:6.2f} s wall, {cpu3 - cpu2:6.2f} CPU-s"
        + (f" + {workers:.2f} CPU-s in {args.jobs} workers" if pool is not None else "")
    )
    total = wall3 - wall0
    verdict = "ok" if total <= TARGET_WALL_S else "OVER"
    print(f"total               : {total:6.2f} s wall (target <= {TARGET_WALL_S:g} s: {verdict})")
    winner = result.winner
    if winner is not None:
        print(
            f"winner              : {winner.candidate.label} x {winner.replicas}, "
            f"${winner.usd_per_month:,.0f}/month, TTFT p99 {winner.ttft_p99_s:.3f} s, "
            f"TPOT p99 {(winner.tpot_p99_s or 0) * 1e3:.1f} ms"
        )
    note = result.runner_up_note()
    if note:
        print(f"why the runner-up lost: {note}")


if __name__ == "__main__":
    main()
