"""What the batch slowdown budget costs in simulation time, and what it does to latency.

    python benchmarks/bench_batch_budget.py            # 100,000 interactive requests
    python benchmarks/bench_batch_budget.py --quick    # 10,000

The standard workload of bench_serving.py (Llama-3.1-8B on one H100 SXM, lognormal lengths,
Poisson at 80% of capacity) plus a batch class (deadline one day) offering another 15% of
capacity, run three ways: the interactive class alone, with the batch class and no cap, and
with `scheduler.batch_slowdown_max` 0.02. Prints CPU seconds per run (`time.process_time`,
one run each) and per event, the cap's extra CPU time over the uncapped batch run (target:
<= 20%, issue 18), the interactive TTFT and TPOT p50 against the batch-free run, and what
the batch did. The three runs serve the same requests (the batch runs the same ones), but
not the same way: without the cap batch work rides in every iteration, so the replica runs
fewer, larger iterations (about 2 events per request); under the cap batch work waits for
the troughs and the replica runs as for interactive work alone (about 3 events per request,
as the batch-free run), plus a budget check at each plan while batch requests wait.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench_serving import Case, standard_scenario

from infersim.catalog.load import load_builtin
from infersim.scenario.model import Scenario
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import simulate

TARGET_EXTRA_CPU_SHARE = 0.20
BATCH_SHARE_OF_CAPACITY = 0.15
CAP = 0.02


def variant(base: Scenario, cap: float | None, batch: bool) -> Scenario:
    data: dict[str, Any] = base.model_dump(mode="json", exclude_none=True)
    chat = data["workload"]["classes"]["chat"]
    if batch:
        rate = chat["arrival"]["rate_per_s"] * BATCH_SHARE_OF_CAPACITY / 0.8
        data["workload"]["classes"]["offline"] = {
            **chat,
            "arrival": {"process": "poisson", "rate_per_s": rate},
            "deadline_s": 86_400.0,
        }
        data["fleet"]["max_simulated_requests"] *= 2
    if cap is not None:
        data["deployments"]["main"]["scheduler"] = {
            "policy": "chunked_decode_first",
            "batch_slowdown_max": cap,
        }
    return Scenario.model_validate(data)


def timed(scenario: Scenario) -> tuple[float, DeploymentServing]:
    catalog = load_builtin()
    cpu = time.process_time()
    d = simulate(scenario, catalog=catalog).deployments[0]
    return time.process_time() - cpu, d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 interactive requests")
    args = parser.parse_args()
    base = standard_scenario(Case(10_000 if args.quick else 100_000), load_builtin())
    runs = {
        "interactive alone": timed(variant(base, None, batch=False)),
        "+ batch, no cap": timed(variant(base, None, batch=True)),
        f"+ batch, cap {CAP:.0%}": timed(variant(base, CAP, batch=True)),
    }
    alone = next(c for c in runs["interactive alone"][1].classes if c.name == "chat")
    header = f"{'run':20} {'requests':>9} {'events':>9} {'ev/req':>6} {'cpu s':>7} {'us/event':>9}"
    print(f"{header} {'TTFT p50':>9} {'TPOT p50':>9}")
    for name, (cpu_s, d) in runs.items():
        chat = next(c for c in d.classes if c.name == "chat")
        ttft = (chat.ttft_s.p50 or 0.0) / (alone.ttft_s.p50 or 1.0) - 1.0
        tpot = (chat.tpot_s.p50 or 0.0) / (alone.tpot_s.p50 or 1.0) - 1.0
        print(
            f"{name:20} {d.simulated_requests:>9,} {d.events:>9,} "
            f"{d.events / d.simulated_requests:>6.2f} {cpu_s:>7.2f} "
            f"{1e6 * cpu_s / d.events:>9.2f} {ttft:>+9.1%} {tpot:>+9.1%}"
        )
        if d.deadline_met_share is not None:
            print(
                f"{'':20} batch: {d.batch_served_output_tokens:,.0f} of "
                f"{d.batch_output_tokens:,.0f} output tokens served, within deadline "
                f"{d.deadline_met_share:.1%}, {d.batch_preemptions:,.0f} preemptions, "
                f"{d.batch_recomputed_tokens:,.0f} tokens recomputed"
            )
    uncapped, capped = runs["+ batch, no cap"][0], runs[f"+ batch, cap {CAP:.0%}"][0]
    extra = capped / uncapped - 1.0
    print(
        f"\nthe cap's extra CPU time over the uncapped batch run: {extra:+.1%} "
        f"(target <= {TARGET_EXTRA_CPU_SHARE:.0%})"
    )


if __name__ == "__main__":
    main()
