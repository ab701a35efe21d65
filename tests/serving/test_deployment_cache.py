"""A run's months simulate again only the deployments whose own traffic changed: a deployment
found by its signature gives exactly what simulating it again gives."""

from __future__ import annotations

import json
from typing import Any

from infersim.catalog.load import load_builtin
from infersim.report.serving import serving_json
from infersim.scenario.model import Scenario
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import deployment_signature, simulate


def scenario(other_rate_per_s: float, priority: int = 0) -> Scenario:
    def deployment() -> dict[str, Any]:
        return {"model": "llama-3.1-8b", "gpu": "h100-sxm", "replicas": 1}

    def chat(rate_per_s: float, deployment: str) -> dict[str, Any]:
        return {
            "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
            "prompt_tokens": {"dist": "lognormal", "mean_tokens": 600, "sigma": 0.6},
            "output_tokens": {"dist": "lognormal", "mean_tokens": 150, "sigma": 0.5},
            "deployment": deployment,
        }

    other = chat(other_rate_per_s, "b") | {"priority": priority}
    return Scenario.model_validate(
        {
            "name": "two-fleets",
            "seed": 5,
            "deployments": {"a": deployment(), "b": deployment()},
            "fleet": {"replications": 1},
            "workload": {"classes": {"steady": chat(2.0, "a"), "growing": other}},
            "horizon": {"simulated_s": 120},
        }
    )


def as_json(result: Any) -> str:
    return json.dumps(serving_json(result), sort_keys=True)


def test_an_unchanged_deployment_is_reused_and_gives_the_same_figures() -> None:
    catalog = load_builtin()
    cache: dict[str, DeploymentServing] = {}
    simulate(scenario(3.0), catalog=catalog, deployment_cache=cache)
    grown = simulate(scenario(4.0), catalog=catalog, deployment_cache=cache)
    assert len(cache) == 3  # a once, b twice
    assert as_json(grown) == as_json(simulate(scenario(4.0), catalog=catalog))


def test_what_a_deployment_depends_on_changes_its_signature() -> None:
    base = deployment_signature(scenario(3.0), 5, 0, "a")
    assert deployment_signature(scenario(4.0), 5, 0, "a") == base  # the other fleet's traffic
    assert deployment_signature(scenario(3.0), 6, 0, "a") != base  # the seed
    assert deployment_signature(scenario(3.0, priority=2), 5, 0, "a") != base  # listed classes
    assert deployment_signature(scenario(3.0), 5, 0, "b") != base
