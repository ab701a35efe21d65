"""A long run reports real progress: requests arrived within each event loop, months within a
projection, always moving forward and ending at 1."""

from __future__ import annotations

from typing import Any

from infersim.catalog.load import load_builtin
from infersim.pipeline.run import run_scenario
from infersim.scenario.model import Scenario

BUSY: dict[str, Any] = {
    "name": "busy",
    "seed": 2,
    "deployments": {
        "main": {
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "replicas": 4,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
        }
    },
    "fleet": {"replications": 1},
    "workload": {
        "classes": {
            "chat": {
                "arrival": {"process": "poisson", "rate_per_s": 300.0},
                "prompt_tokens": {"dist": "fixed", "tokens": 200},
                "output_tokens": {"dist": "fixed", "tokens": 20},
            }
        }
    },
    "horizon": {"simulated_s": 120, "months": 2},
}


def test_progress_moves_forward_within_runs_and_months() -> None:
    heard: list[tuple[str, float]] = []
    run_scenario(
        Scenario.model_validate(BUSY),
        load_builtin(),
        progress=lambda stage, fraction: heard.append((stage, fraction)),
    )
    fractions = [f for _, f in heard]
    assert fractions == sorted(fractions)  # never backwards
    assert fractions[-1] == 1.0
    # ~36,000 requests: the event loop reports inside the first month, before it ends
    inside = [f for stage, f in heard if stage.startswith("month 1/2: main") and 0 < f < 0.5]
    assert inside
    assert any(stage.startswith("month 2/2") for stage, _ in heard)
