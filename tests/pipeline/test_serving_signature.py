"""What the engine's cached results are keyed by: everything its result depends on."""

from __future__ import annotations

from typing import Any

from infersim.pipeline.run import serving_signature
from infersim.scenario.model import Scenario
from infersim.serving.simulate import deployment_signature


def scenario(deployment: dict[str, Any], gpu_usd_per_hour: float) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "signature",
            "seed": 1,
            "deployments": {"main": {"model": "llama-3.1-8b", **deployment}},
            "workload": {
                "classes": {
                    "chat": {
                        "arrival": {"process": "poisson", "rate_per_s": 1.0},
                        "prompt_tokens": {"dist": "fixed", "tokens": 200},
                        "output_tokens": {"dist": "fixed", "tokens": 100},
                    }
                }
            },
            "costs": {"gpu": {"kind": "rented", "usd_per_gpu_hour": gpu_usd_per_hour}},
        }
    )


POOLS = {
    "pools": [
        {"name": "h100", "gpu": "h100-sxm", "replicas": 1},
        {"name": "a100", "gpu": "a100-sxm-80gb", "replicas": 1},
    ]
}


def signatures(s: Scenario) -> tuple[str, str]:
    return serving_signature(s), deployment_signature(s, s.seed, 0, "main")


def test_the_gpu_price_keys_a_mixed_fleet_whose_pools_take_it() -> None:
    """Cheapest-first routing reads the pools' prices, which default to costs.gpu."""
    cheap, dear = signatures(scenario(POOLS, 2.0)), signatures(scenario(POOLS, 3.0))
    assert cheap[0] != dear[0] and cheap[1] != dear[1]


def test_the_gpu_price_does_not_key_a_fleet_of_one_gpu_type() -> None:
    """Scenarios that differ only in what the GPUs cost share their serving."""
    plain = {"gpu": "h100-sxm", "replicas": 2}
    assert signatures(scenario(plain, 2.0)) == signatures(scenario(plain, 3.0))
