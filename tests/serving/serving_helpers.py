"""Build small scenarios in code for the serving tests."""

from __future__ import annotations

from typing import Any

from infersim.catalog.load import load_builtin
from infersim.scenario.model import Scenario

CATALOG = load_builtin()


def scenario(
    *,
    rate_per_s: float,
    prompt: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    horizon_s: float = 600.0,
    seed: int = 1,
    deployment: dict[str, Any] | None = None,
    fleet: dict[str, Any] | None = None,
    arrival: dict[str, Any] | None = None,
) -> Scenario:
    dep = {"model": "llama-3.1-8b", "gpu": "h100-sxm", **(deployment or {})}
    data = {
        "name": "t",
        "seed": seed,
        "deployments": {"main": dep},
        "fleet": {"replications": 1, "max_simulated_requests": 10_000_000, **(fleet or {})},
        "workload": {
            "classes": {
                "c": {
                    "arrival": arrival or {"process": "poisson", "rate_per_s": rate_per_s},
                    "prompt_tokens": prompt or {"dist": "fixed", "tokens": 100},
                    "output_tokens": output or {"dist": "fixed", "tokens": 50},
                }
            }
        },
        "horizon": {"simulated_s": horizon_s},
    }
    return Scenario.model_validate(data)
