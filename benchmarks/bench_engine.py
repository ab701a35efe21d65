"""Benchmark the serving event loop in simulated requests per CPU-second.

    python benchmarks/bench_engine.py                  # both workloads x5, then 1M once
    python benchmarks/bench_engine.py --quick          # a smoke run: small sizes, one run each
    python benchmarks/bench_engine.py --trace-memory   # also 1M under tracemalloc (~2 min)

Workloads (every request simulated: mode "des", one replication):

- 7B on 24 GB: Llama-3.1-8B in bf16 on one 24 GB GPU (an A10-class inline spec: the catalog
  has no 24 GB card), Poisson 4 req/s, fixed 512-token prompts and 128-token outputs,
  max_batch_sequences 48, max_batch_tokens 4,096.
- standard: the workload of bench_serving.py (Llama-3.1-8B on one H100 SXM, lognormal
  lengths, Poisson at 80% of capacity).

Figures are CPU time (`time.process_time`, the median of the repeats), so other work on the
machine weighs little. The 1M-request run goes in a fresh process, which reports its CPU
seconds and its peak resident set (ru_maxrss); with --trace-memory a second fresh process
reports the peak of the allocations tracemalloc sees (Python objects and numpy buffers), at
the price of running some 8x slower.

Targets: >= 50,000 simulated requests per CPU-second on the 7B / 24 GB workload, >= 70,000
on the standard one; 1,000,000 standard requests in <= 20 CPU-s and <= 0.3 GiB peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from bench_serving import Case, standard_scenario

from infersim.catalog.load import Catalog, load_builtin
from infersim.scenario.model import Scenario
from infersim.serving.simulate import simulate

TARGET_7B_PER_CPU_S, TARGET_STANDARD_PER_CPU_S = 50_000, 70_000
TARGET_1M_CPU_S, TARGET_1M_GIB = 20.0, 0.3

#: An A10-class card: 24 GB, 125 dense bf16 TFLOP/s, 600 GB/s (NVIDIA A10 datasheet).
GPU_24GB: dict[str, Any] = {
    "id": "a10-24gb-bench",
    "name": "NVIDIA A10 24GB (benchmark spec)",
    "vendor": "nvidia",
    "family": "ampere",
    "bf16_tflops": 125,
    "int8_tops": 250,
    "memory_gb": 24,
    "memory_bandwidth_gb_per_s": 600,
    "sources": [
        {
            "url": "https://www.nvidia.com/en-us/data-center/products/a10-gpu/",
            "title": "NVIDIA A10 Tensor Core GPU, specifications",
        }
    ],
    "checked": "2026-11-30",
}


def scenario_7b_24gb(requests: int) -> Scenario:
    rate = 4.0
    deployment = {
        "model": "llama-3.1-8b",
        "gpu": GPU_24GB,
        "precision": {"weights": "bf16", "kv_cache": "bf16", "activations": "bf16"},
        "max_batch_sequences": 48,
        "max_batch_tokens": 4096,
    }
    return Scenario.model_validate(
        {
            "name": "bench-engine-7b-24gb",
            "seed": 1,
            "deployments": {"main": deployment},
            "fleet": {"replications": 1, "max_simulated_requests": 2 * requests},
            "workload": {
                "classes": {
                    "chat": {
                        "arrival": {"process": "poisson", "rate_per_s": rate},
                        "prompt_tokens": {"dist": "fixed", "tokens": 512},
                        "output_tokens": {"dist": "fixed", "tokens": 128},
                    }
                }
            },
            "horizon": {"simulated_s": requests / rate},
        }
    )


def build(workload: str, requests: int, catalog: Catalog) -> Scenario:
    if workload == "7b-24gb":
        return scenario_7b_24gb(requests)
    return standard_scenario(Case(requests), catalog)


def cpu_run(scenario: Scenario, catalog: Catalog) -> tuple[float, int, int]:
    """CPU seconds of one simulation, its simulated requests and its events."""
    cpu = time.process_time()
    d = simulate(scenario, catalog=catalog).deployments[0]
    return time.process_time() - cpu, d.simulated_requests, d.events


def requests_per_cpu_s(workload: str, requests: int, runs: int, catalog: Catalog) -> str:
    scenario = build(workload, requests, catalog)
    results = [cpu_run(scenario, catalog) for _ in range(runs)]
    cpu_s = statistics.median(r[0] for r in results)
    _, simulated, events = results[0]
    return f"{workload:10} {simulated:>10,} {events:>10,} {cpu_s:>8.2f} {simulated / cpu_s:>12,.0f}"


def single(workload: str, requests: int, traced: bool) -> None:
    """One run in this (fresh) process: CPU seconds and peak memory, as one JSON line."""
    catalog = load_builtin()
    scenario = build(workload, requests, catalog)
    if traced:
        tracemalloc.start()
    cpu_s, simulated, events = cpu_run(scenario, catalog)
    traced_gib = tracemalloc.get_traced_memory()[1] / 2**30 if traced else 0.0
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    fields = {"cpu_s": cpu_s, "simulated": simulated, "events": events}
    print(json.dumps({**fields, "traced_gib": traced_gib, "rss_gib": rss_gib}))


def in_fresh_process(workload: str, requests: int, traced: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--single", workload, str(requests)]
    args += ["--traced"] if traced else []
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--single", nargs=2, metavar=("WORKLOAD", "REQUESTS"), help="internal")
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--trace-memory", action="store_true", help="also measure 1M under tracemalloc (slow)"
    )
    options = parser.parse_args()
    if options.single:
        single(options.single[0], int(options.single[1]), options.traced)
        return
    catalog = load_builtin()
    runs = 1 if options.quick else 5
    base = 10_000 if options.quick else 100_000
    big = 50_000 if options.quick else 1_000_000

    print(f"simulated requests per CPU-second (median of {runs})")
    print(f"{'workload':10} {'requests':>10} {'events':>10} {'cpu s':>8} {'req/cpu-s':>12}")
    target = f"target >= {TARGET_7B_PER_CPU_S:,}"
    print(requests_per_cpu_s("7b-24gb", base, runs, catalog), target)
    target = f"target >= {TARGET_STANDARD_PER_CPU_S:,}"
    print(requests_per_cpu_s("standard", base, runs, catalog), target)

    plain = in_fresh_process("standard", big, traced=False)
    print(
        f"\n{big:,} standard requests (fresh process): {plain['cpu_s']:.2f} CPU-s, "
        f"{plain['simulated'] / plain['cpu_s']:,.0f} req/CPU-s, peak RSS "
        f"{plain['rss_gib']:.3f} GiB  (target <= {TARGET_1M_CPU_S:g} CPU-s, "
        f"<= {TARGET_1M_GIB:g} GiB)"
    )
    if options.trace_memory:
        traced = in_fresh_process("standard", big, traced=True)
        print(f"peak traced allocations {traced['traced_gib']:.3f} GiB (tracemalloc)")


if __name__ == "__main__":
    main()
