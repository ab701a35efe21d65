"""Monte Carlo wall time: the $20-subscription scenario, 1M subscribers drawn in every sample.

The scenario is configs/claims/s5-subscription-heavy-tail.yaml (1,000,000 subscribers, 24
months) with two uncertain inputs added: the H200's rental price, a 90% range of $3.5-5.5 an
hour (public-figures.md, early 2026), and the growth of usage per subscriber, 4-12% a month.
The first month is the same traffic in every sample: it is simulated once (by the parent, which
sends the result to its workers), and the samples re-price it; each later month of a sample
serves its own grown traffic, so a 24-month sample runs 23 serving simulations of its own. The
rest of the time goes into drawing and pricing 1M subscribers for each month of each sample.

Runs the samples serially, then with `--jobs` local processes (2 by default), checks that both
give identical results, and prints the wall times and the speedup (target: >= 1.8x on 2 cores).
Both runs are in this process, after a one-sample run that imports and caches what every run
uses (the catalog); each run simulates the first month's serving again. The parallel run also
pays for starting its workers (`execute.process_context`: forked ones inherit the imports,
spawned ones import again), which this process's serial run does not. Wall times on a shared
machine vary with its load, so the CPU seconds of this process and of its workers and the load
average are printed too, with the speedup the first month's serving allows: it runs before
any sample and on one process only (Amdahl's law with that serial part); the speedup the CPU
seconds give on an idle machine, where the busiest process sets the wall time; and the speedup
of whole commands, which both pay this process's start-up.

With --base-run, the scenario is first run once (untimed) as `run --samples` does, and the
samples get its serving results: no sample then simulates the first month, whose traffic that
run served already, and the part left serial is pricing it once.

Run: python benchmarks/bench_montecarlo.py [--samples N] [--jobs J] [--months M] [--base-run]
(--samples 10000 for the full figure: hours at 24 months a sample; --months 1 prices only
the first month.)
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from infersim.analysis.montecarlo import MonteCarloResult, montecarlo
from infersim.analysis.runs import Point, WorkerState, context_for
from infersim.pipeline.run import run_loaded
from infersim.scenario.compose import load_document
from infersim.scenario.load import LoadedScenario, validate_document
from infersim.serving.result import ServingResult

SCENARIO = Path(__file__).resolve().parent.parent / "configs/claims/s5-subscription-heavy-tail.yaml"
UNCERTAIN = {
    "costs": {"gpu": {"usd_per_gpu_hour": {"low": 3.5, "high": 5.5}}},
    "usage_growth_per_month": {"low": 0.04, "high": 0.12},
}


def scenario(months: int | None) -> LoadedScenario:
    document = load_document(SCENARIO)
    data = document.data
    data["costs"]["gpu"]["usd_per_gpu_hour"] = UNCERTAIN["costs"]["gpu"]["usd_per_gpu_hour"]
    data["workload"]["users"]["plus"]["usage_growth_per_month"] = UNCERTAIN[
        "usage_growth_per_month"
    ]
    if months is not None:
        data["horizon"]["months"] = months
    return validate_document(document, SCENARIO.parent)


def timed(
    loaded: LoadedScenario, samples: int, jobs: int, serving: dict[str, ServingResult]
) -> tuple[MonteCarloResult, float]:
    start = time.perf_counter()
    result = montecarlo(loaded, samples=samples, jobs=jobs, serving=serving)
    return result, time.perf_counter() - start


def first_month_serving_cpu_s(loaded: LoadedScenario, serving: dict[str, ServingResult]) -> float:
    """CPU seconds of the serial part: the first month's serving, simulated unless `serving`
    has it, and priced (what `execute.run_points` does before handing out any sample)."""
    context = replace(context_for(loaded), scope="bench")
    state = WorkerState()
    state.scope(context).serving.update(serving)  # as a run has it before this step
    start = time.process_time()
    state.first_month_serving(context, Point())
    return time.process_time() - start


def children_cpu_s() -> float:
    """CPU seconds of this process's finished child processes (the workers, once joined)."""
    times = os.times()
    return times.children_user + times.children_system


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def identical(a: MonteCarloResult, b: MonteCarloResult) -> bool:
    return a.outputs.keys() == b.outputs.keys() and all(
        np.array_equal(a.outputs[k], b.outputs[k], equal_nan=True) for k in a.outputs
    )


def main() -> None:
    startup_s = time.process_time()  # the interpreter's start and the imports above
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--months", type=int, default=None, help="default: the scenario's 24")
    parser.add_argument(
        "--base-run", action="store_true", help="give the samples a run's serving results"
    )
    args = parser.parse_args()
    loaded = scenario(args.months)
    serving: dict[str, ServingResult] = {}
    if args.base_run:
        run_loaded(loaded, serving_cache=serving)
    users = loaded.scenario.workload.users["plus"].users
    months = loaded.scenario.horizon.months
    given = f", given a run's {len(serving)} serving results" if serving else ""
    print(f"{args.samples:,} samples x {users:,} subscribers x {months} months{given}")
    print(f"load average (1/5/15 min) before: {load()}")
    cpu_start = time.process_time()
    timed(loaded, 1, 1, serving)
    cpu_one = time.process_time() - cpu_start
    first_s = first_month_serving_cpu_s(loaded, serving)
    cpu_start = time.process_time()
    serial, serial_s = timed(loaded, args.samples, 1, serving)
    cpu_all = time.process_time() - cpu_start
    print(
        f"serial:   {serial_s:8.2f} s ({serial_s / args.samples:.3f} s a sample),"
        f" {cpu_all:.2f} CPU-s"
    )
    if args.samples > 1:  # the first sample also simulates the first month's serving
        per = (cpu_all - cpu_one) / ((args.samples - 1) * months)
        if months == 1:
            print(
                f"CPU per sample (pricing) after the first sample: {per * 1e3:.1f} ms"
                " (target <= 30)"
            )
        else:
            print(
                f"CPU per sample-month after the first sample: {per * 1e3:.1f} ms (pricing, and"
                " the month's own serving simulation: the <= 30 ms target is the pricing alone,"
                " --months 1)"
            )
    cpu_start, children_start = time.process_time(), children_cpu_s()
    parallel, parallel_s = timed(loaded, args.samples, args.jobs, serving)
    cpu_here = time.process_time() - cpu_start
    cpu_workers = children_cpu_s() - children_start
    print(
        f"--jobs {args.jobs}: {parallel_s:8.2f} s ({parallel_s / args.samples:.3f} s a sample),"
        f" {cpu_here:.2f} CPU-s here + {cpu_workers:.2f} in the workers"
    )
    print(f"speedup:  {serial_s / parallel_s:8.2f}x")
    whole = (startup_s + serial_s) / (startup_s + parallel_s)
    print(
        f"as whole commands, each starting as this one did ({startup_s:.2f} CPU-s of imports):"
        f" {whole:.2f}x"
    )
    share = min(1.0, first_s / cpu_all)
    bound = 1 / (share + (1 - share) / args.jobs)
    print(
        f"{'pricing the given first month' if serving else 'the first month simulated'}"
        f" before any sample: {first_s:.2f} CPU-s, {share:.1%} of the serial run:"
        f" at most {bound:.2f}x on {args.jobs} processes"
    )
    if args.jobs > 1:
        # on an idle machine, the busiest process sets the wall time: this one, or a worker,
        # which starts its share once the first month is done
        busiest = max(cpu_here, first_s + cpu_workers / (args.jobs - 1))
        print(
            f"from the CPU seconds, on an idle machine: about {cpu_all / busiest:.2f}x"
            f" (the busiest process: {busiest:.2f} CPU-s)"
        )
    print(f"load average after: {load()}")
    print(f"identical results: {identical(serial, parallel)}")
    margin = serial.summary("pnl.gross_margin_pct")
    loss = serial.summary("projection.cumulative_cash_usd")
    if margin is not None and loss is not None:
        print(
            f"month-1 gross margin p5/p50/p95: {margin.p5:.1f}/{margin.p50:.1f}/{margin.p95:.1f}%;"
            f" P(cumulative cash < 0) = {loss.below_zero:.0%}"
        )


if __name__ == "__main__":
    main()
