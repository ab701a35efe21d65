"""What spot reclaims in the engine cost in simulation time, on the standard workload.

    python benchmarks/bench_spot.py            # 100,000 requests, 3 runs each
    python benchmarks/bench_spot.py --quick    # 20,000 requests, one run each

The standard workload of bench_engine.py / bench_serving.py (Llama-3.1-8B on one H100 SXM,
lognormal lengths, Poisson at 80% of capacity), rented on demand, then with every GPU-hour
bought as spot at the highest rate a scenario takes (1 reclaim per GPU-hour, 120 s lag),
and on 4 replicas at 4 times the traffic (the same simulated time); then a mixed fleet at 4
times the traffic, 2 H100 replicas on demand and 2 spot ones (a pool of their own), routed
cheapest first, the spot pool reclaimed at that rate. Figures are CPU
time (`time.process_time`, the median of the runs). Target: spot costs at most 20% more
simulation time per request than the same fleet without it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench_serving import Case, standard_scenario

from infersim.catalog.load import Catalog, load_builtin
from infersim.scenario.model import Scenario
from infersim.serving.simulate import simulate

TARGET_OVERHEAD = 0.20
SPOT: dict[str, Any] = {"share": 1.0, "interruptions_per_gpu_hour": 1.0, "replacement_lag_s": 120}


def variant(base: Scenario, replicas: int, spot: bool) -> Scenario:
    document = base.model_dump(mode="json", exclude_none=True)
    document["deployments"]["main"]["replicas"] = replicas
    document["workload"]["classes"]["chat"]["arrival"]["rate_per_s"] *= replicas
    document["fleet"]["max_simulated_requests"] *= replicas  # every request simulated
    document["costs"] = {"gpu": {"kind": "rented", **({"spot": SPOT} if spot else {})}}
    return Scenario.model_validate(document)


def mixed_variant(base: Scenario, spot: bool) -> Scenario:
    """The 4-replica fleet as two pools of the same GPU: on demand, and spot (or on demand)."""
    document = variant(base, 4, False).model_dump(mode="json", exclude_none=True)
    main = document["deployments"]["main"]
    gpu = main.pop("gpu")
    del main["replicas"]
    spot_cost = {"kind": "rented", **({"spot": SPOT} if spot else {})}
    main["pools"] = [
        {"name": "on-demand", "gpu": gpu, "replicas": 2},
        {"name": "spot", "gpu": gpu, "replicas": 2, "cost": spot_cost},
    ]
    return Scenario.model_validate(document)


def cpu_per_request(scenario: Scenario, runs: int, catalog: Catalog) -> tuple[float, float, int]:
    """Median CPU seconds per simulated request, the reclaims, the requests."""
    per: list[float] = []
    reclaims, simulated = 0.0, 0
    for _ in range(runs):
        cpu = time.process_time()
        d = simulate(scenario, catalog=catalog).deployments[0]
        per.append((time.process_time() - cpu) / d.simulated_requests)
        reclaims, simulated = d.spot.reclaims if d.spot is not None else 0.0, d.simulated_requests
    return statistics.median(per), reclaims, simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 requests, one run each")
    options = parser.parse_args()
    runs, requests = (1, 20_000) if options.quick else (3, 100_000)
    catalog = load_builtin()
    base = standard_scenario(Case(requests), catalog)
    print(
        f"{'fleet':12} {'spot':>5} {'requests':>9} {'reclaims':>9} {'req/CPU-s':>10} {'extra':>7}"
    )
    for replicas in (1, 4):
        plain_s, _, simulated = cpu_per_request(variant(base, replicas, False), runs, catalog)
        spot_s, reclaims, _ = cpu_per_request(variant(base, replicas, True), runs, catalog)
        extra = spot_s / plain_s - 1.0
        for label, per_s, count, more in (
            ("no", plain_s, 0.0, ""),
            ("yes", spot_s, reclaims, f"{extra:+.1%}"),
        ):
            print(f"{replicas:>2} replica(s) {label:>5} {simulated:>9,} {count:>9,.0f} "
                  f"{1.0 / per_s:>10,.0f} {more:>7}")  # fmt: skip
        verdict = "ok" if extra <= TARGET_OVERHEAD else "over"
        print(f"   spot overhead {extra:+.1%} (target <= {TARGET_OVERHEAD:.0%}): {verdict}")
    plain_s, _, simulated = cpu_per_request(mixed_variant(base, False), runs, catalog)
    spot_s, reclaims, _ = cpu_per_request(mixed_variant(base, True), runs, catalog)
    extra = spot_s / plain_s - 1.0
    print(f"{'mixed 2+2':12} {'no':>5} {simulated:>9,} {0:>9,} {1.0 / plain_s:>10,.0f}")
    print(f"{'mixed 2+2':12} {'pool':>5} {simulated:>9,} {reclaims:>9,.0f} {1.0 / spot_s:>10,.0f} "
          f"{extra:>+7.1%}")  # fmt: skip
    verdict = "ok" if extra <= TARGET_OVERHEAD else "over"
    print(f"   spot overhead {extra:+.1%} (target <= {TARGET_OVERHEAD:.0%}): {verdict}")


if __name__ == "__main__":
    main()
