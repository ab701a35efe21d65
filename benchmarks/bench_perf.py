"""Benchmark the performance model's fast paths, and print its calibration error table.

    python benchmarks/bench_perf.py            # evaluations per second, scalar us per call
    python benchmarks/bench_perf.py --table    # and the calibration / validation errors

Targets: >= 1,000,000 vectorized iteration-time evaluations per second on one core, and a
scalar call under 5 microseconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from infersim.catalog.load import Catalog, load_builtin
from infersim.perf import PerfModel, build_perf_model, steady_state_throughput
from infersim.perf.calibration import CALIBRATION, VALIDATION, calibration_deployment
from infersim.scenario.deployment import SelfHosted

DEPLOYMENTS: dict[str, dict[str, object]] = {
    "dense 70B fp8 TP2": {
        "model": "llama-3.3-70b",
        "gpu": "h100-sxm",
        "tensor_parallel": 2,
        "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8"},
    },
    "MoE mixtral TP2xEP2": {
        "model": "mixtral-8x7b",
        "gpu": "h100-sxm",
        "tensor_parallel": 2,
        "expert_parallel": 2,
    },
    "70B + 1B draft (spec)": {
        "model": "llama-3.3-70b",
        "gpu": "h200-sxm",
        "precision": {"weights": "fp8"},
        "speculative": {"method": "draft_model", "draft_model": "llama-3.2-1b"},
    },
}


def best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def bench(perf: PerfModel, states: int, calls: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    chunk = rng.integers(0, 2048, states)
    prefill_ctx = chunk * rng.integers(0, 8000, states) + chunk * (chunk + 1) // 2
    seqs = rng.integers(0, 256, states)
    decode_ctx = seqs * rng.integers(1, 8000, states)
    vector_s = best_of(5, lambda: perf.iteration_times_s(chunk, prefill_ctx, seqs, decode_ctx))
    columns = (chunk, prefill_ctx, seqs, decode_ctx)
    args = [tuple(int(column[i]) for column in columns) for i in range(1000)]
    call = perf.iteration_time_s

    def scalar_loop() -> None:
        for _ in range(calls // len(args)):
            for a, b, c, d in args:
                call(a, b, c, d)

    scalar_s = best_of(3, scalar_loop)
    return states / vector_s, scalar_s / calls * 1e6


def table(catalog: Catalog) -> None:
    print(f"\n{'point':46} {'published':>10} {'predicted':>10} {'error':>7}")
    for name, points in (("calibration", CALIBRATION), ("validation", VALIDATION)):
        print(f"-- {name}")
        for point in points:
            perf = build_perf_model(calibration_deployment(point), catalog)
            got = steady_state_throughput(perf, point.prompt_tokens, point.output_tokens)
            error = got.output_tokens_per_s / point.output_tokens_per_s - 1
            print(
                f"{point.label:46} {point.output_tokens_per_s:10,.0f} "
                f"{got.output_tokens_per_s:10,.0f} {error:+7.1%}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--table", action="store_true", help="print the calibration table")
    options = parser.parse_args()
    catalog = load_builtin()
    print(f"{'deployment':24} {'vectorized evals/s':>20} {'scalar us/call':>15}")
    for name, fields in DEPLOYMENTS.items():
        perf = build_perf_model(SelfHosted.model_validate(fields), catalog)
        per_s, scalar_us = bench(perf, options.states, options.calls)
        print(f"{name:24} {per_s:20,.0f} {scalar_us:15.2f}")
    if options.table:
        table(catalog)


if __name__ == "__main__":
    main()
