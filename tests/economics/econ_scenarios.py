"""A small self-hosted scenario for the capacity, energy and value-chain tests."""

from __future__ import annotations

from typing import Any

SMALL: dict[str, Any] = {
    "name": "capacity",
    "seed": 3,
    "deployments": {
        "main": {
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "replicas": 2,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
        }
    },
    "fleet": {"replications": 1},
    "workload": {
        "classes": {
            "chat": {
                "arrival": {"process": "poisson", "rate_per_s": 3.0},
                "prompt_tokens": {"dist": "fixed", "tokens": 600},
                "output_tokens": {"dist": "fixed", "tokens": 150},
            }
        }
    },
    "pricing": {
        "api": {"a": {"deployment": "main", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}}
    },
    "horizon": {"simulated_s": 120},
}
