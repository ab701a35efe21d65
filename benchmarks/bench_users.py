"""Wall time to evaluate 10,000,000 subscribers of one capped plan (every user drawn).

Run: python benchmarks/bench_users.py [--users N]. Prints the median of 3 runs; target: seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics import TokenCost, evaluate_month
from infersim.scenario.model import Scenario


def capped_plan(users: int) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "bench-users",
            "deployments": {
                "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
                "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
            },
            "workload": {
                "users": {
                    "plus": {
                        "plan": "plus",
                        "users": users,
                        "deployment": "main",
                        "requests_per_user_per_month": {
                            "dist": "lognormal",
                            "median": 120,
                            "p99": 4000,
                        },
                        "prompt_tokens_per_request": 1500,
                        "output_tokens_per_request": 350,
                        "cached_prefix_share": 0.3,
                        "usage_growth_per_month": 0.04,
                    }
                }
            },
            "pricing": {
                "plans": {
                    "plus": {
                        "price_usd_per_month": 20,
                        "cap": {
                            "requests_per_month": 3000,
                            "at_cap": "downgrade",
                            "downgrade_deployment": "small",
                        },
                    }
                }
            },
            "costs": {"serving_overhead_share": 0.15},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scenario = capped_plan(args.users)
    costs = {
        "main": TokenCost("main", 0.6, 0.06, 2.4, "engine"),
        "small": TokenCost("small", 0.1, 0.01, 0.4, "engine"),
    }
    times = []
    for seed in range(args.repeats):
        start = time.perf_counter()
        result = evaluate_month(
            scenario,
            Catalog(),
            costs,
            [],
            [],
            np.random.default_rng(seed),
            month=6,
            sample_cap=args.users,
        )
        times.append(time.perf_counter() - start)
    dist = result.distributions["plus"]
    print(
        f"{args.users:,} users, one capped plan, every user drawn: "
        f"median {statistics.median(times):.2f} s over {args.repeats} runs "
        f"({', '.join(f'{t:.2f}' for t in times)} s); "
        f"plan margin {result.table.row('plus').gross_margin_pct:.1f}%, "
        f"users losing money {dist.share_losing_money:.2%}"
    )


if __name__ == "__main__":
    main()
