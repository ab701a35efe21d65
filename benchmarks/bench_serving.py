"""Benchmark the serving simulation on the standard workload, and how its cost grows.

    python benchmarks/bench_serving.py           # 100k x3, 1M once, and the growth table
    python benchmarks/bench_serving.py --quick   # a smoke run: small sizes, one run each

Standard workload: Llama-3.1-8B on one H100 SXM in bf16, Poisson arrivals at 80% of the
replica's steady-state capacity (`infersim.perf.steady_state_throughput` at the mean lengths),
lognormal prompts (mean 1,000 tokens, sigma 0.7) and outputs (mean 250 tokens, sigma 0.7);
every request simulated (mode "des", one replication).

Targets: 100,000 requests in <= 5 s wall on one core (>= 20,000 simulated requests/s), and
1,000,000 requests in <= 60 s with peak memory under 1 GiB. Peak memory is the maximum
resident set of a fresh process that runs only that simulation. Requests/s is on wall time;
the CPU-seconds column shows what the machine's other work took out of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace

from infersim.catalog.load import Catalog, load_builtin
from infersim.perf import build_perf_model, steady_state_throughput
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.serving.simulate import simulate

MODEL, GPU = "llama-3.1-8b", "h100-sxm"
LOAD = 0.8
PROMPT_MEAN, OUTPUT_MEAN, SIGMA = 1000, 250, 0.7
TARGET_100K_S, TARGET_1M_S, TARGET_1M_GIB = 5.0, 60.0, 1.0


@dataclass(frozen=True)
class Case:
    requests: int
    max_batch_sequences: int = 256
    output_mean: int = OUTPUT_MEAN
    max_simulated_requests: int | None = None  # None: above the request count (des)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float
    """Process CPU time: the figure to trust when other work shares the machine."""
    simulated_requests: int
    events: int
    mode: str
    batch_mean: float
    verdict: str | None

    @property
    def requests_per_s(self) -> float:
        return self.simulated_requests / self.wall_s


def standard_scenario(case: Case, catalog: Catalog) -> Scenario:
    deployment = {
        "model": MODEL,
        "gpu": GPU,
        "precision": {"weights": "bf16", "kv_cache": "bf16", "activations": "bf16"},
        "max_batch_sequences": case.max_batch_sequences,
    }
    perf = build_perf_model(SelfHosted.model_validate(deployment), catalog)
    point = steady_state_throughput(perf, PROMPT_MEAN, case.output_mean)
    rate = LOAD * point.output_tokens_per_s / case.output_mean
    limit = case.max_simulated_requests or max(2 * case.requests, 100)
    return Scenario.model_validate(
        {
            "name": "bench-serving",
            "seed": 1,
            "deployments": {"main": deployment},
            "fleet": {"replications": 1, "max_simulated_requests": limit},
            "workload": {
                "classes": {
                    "chat": {
                        "arrival": {"process": "poisson", "rate_per_s": rate},
                        "prompt_tokens": {
                            "dist": "lognormal",
                            "mean_tokens": PROMPT_MEAN,
                            "sigma": SIGMA,
                        },
                        "output_tokens": {
                            "dist": "lognormal",
                            "mean_tokens": case.output_mean,
                            "sigma": SIGMA,
                        },
                    }
                }
            },
            "horizon": {"simulated_s": case.requests / rate},
        }
    )


def run_once(case: Case, catalog: Catalog) -> Timing:
    s = standard_scenario(case, catalog)
    start, cpu = time.perf_counter(), time.process_time()
    d = simulate(s, catalog=catalog).deployments[0]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    batch = d.decode_batch_sequences.mean if d.decode_batch_sequences.mean is not None else 0.0
    return Timing(wall, cpu, d.simulated_requests, d.events, d.mode, batch, d.verdict)


def median_run(case: Case, catalog: Catalog, runs: int) -> Timing:
    timings = [run_once(case, catalog) for _ in range(runs)]
    return replace(
        timings[0],
        wall_s=statistics.median(t.wall_s for t in timings),
        cpu_s=statistics.median(t.cpu_s for t in timings),
    )


def in_fresh_process(case: Case) -> tuple[Timing, float]:
    """One run in a new interpreter: its wall time and its peak resident memory (GiB)."""
    args = [sys.executable, __file__, "--single", json.dumps(case.__dict__)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    fields = json.loads(out.strip().splitlines()[-1])
    peak_gib = fields.pop("peak_gib")
    return Timing(**fields), peak_gib


def single(case_json: str) -> None:
    timing = run_once(Case(**json.loads(case_json)), load_builtin())
    # ru_maxrss is KiB on Linux
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({**timing.__dict__, "peak_gib": peak_gib}))


def row(label: str, t: Timing, extra: str = "") -> str:
    return (
        f"{label:34} {t.simulated_requests:>10,} {t.events:>11,} {t.wall_s:>8.2f} {t.cpu_s:>7.2f} "
        f"{t.requests_per_s:>10,.0f} {t.batch_mean:>7.1f} {t.mode:>8} {extra}".rstrip()
    )


HEADER = (
    f"{'case':34} {'requests':>10} {'events':>11} {'wall s':>8} {'cpu s':>7} {'req/s':>10} "
    f"{'batch':>7} {'mode':>8}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.single:
        single(options.single)
        return
    catalog = load_builtin()
    quick = options.quick
    runs = 1 if quick else 3
    base = 10_000 if quick else 100_000
    big = 50_000 if quick else 1_000_000

    print(f"standard workload: {MODEL} on 1x {GPU} bf16, Poisson at {LOAD:.0%} of capacity,")
    print(f"lognormal prompts mean {PROMPT_MEAN} / outputs mean {OUTPUT_MEAN} (sigma {SIGMA})\n")
    print(HEADER)
    t = median_run(Case(base), catalog, runs)
    target = "" if quick else f"target <= {TARGET_100K_S:g} s"
    print(row(f"{base:,} requests (median of {runs})", t, target))
    t, peak = in_fresh_process(Case(big))
    target = "" if quick else f"target <= {TARGET_1M_S:g} s, < {TARGET_1M_GIB:g} GiB"
    print(row(f"{big:,} requests (fresh process)", t, f"peak {peak:.2f} GiB  {target}"))
    t, peak = in_fresh_process(Case(big, max_simulated_requests=base * 2))
    print(row(f"{big:,} requests, sampled", t, f"peak {peak:.2f} GiB"))

    print("\nhow wall time grows (one run each)")
    print(HEADER)
    for n in (base // 4, base // 2, base):
        print(row(f"requests {n:,}", run_once(Case(n), catalog)))
    for batch in (64, 256):
        print(row(f"max_batch_sequences {batch}", run_once(Case(base, batch), catalog)))
    for output in (OUTPUT_MEAN // 2, OUTPUT_MEAN, OUTPUT_MEAN * 2):
        case = Case(base, output_mean=output)
        print(row(f"output mean {output} tokens", run_once(case, catalog)))


if __name__ == "__main__":
    main()
