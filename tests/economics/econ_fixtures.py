"""Small scenarios and engine figures built inline for the economics tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infersim.catalog.types import GpuSpec
from infersim.economics import ClassVolume, FleetCost, TokenCost
from infersim.scenario.model import Scenario

CHAT_TOKENS = {"prompt_tokens_per_request": 1500, "output_tokens_per_request": 400}


def lognormal_users(
    plan: str,
    users: int,
    median: float = 100.0,
    p99: float = 3000.0,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "plan": plan,
        "users": users,
        "requests_per_user_per_month": {"dist": "lognormal", "median": median, "p99": p99},
        **CHAT_TOKENS,
        **fields,
    }


def scenario(
    users: dict[str, Any] | None = None,
    plans: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
    free_tier: dict[str, Any] | None = None,
    contracts: dict[str, Any] | None = None,
    costs: dict[str, Any] | None = None,
    deployments: dict[str, Any] | None = None,
    classes: dict[str, Any] | None = None,
    routing: dict[str, Any] | None = None,
) -> Scenario:
    """A scenario with a self-hosted 'main' (and whatever `deployments` adds or replaces)."""
    data: dict[str, Any] = {
        "name": "econ-test",
        "deployments": deployments or {"main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"}},
        "workload": {
            "users": users or {},
            "classes": classes
            or {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": 1.0},
                    "prompt_tokens": {"dist": "fixed", "tokens": 1000},
                    "output_tokens": {"dist": "fixed", "tokens": 250},
                }
            },
        },
        "pricing": {
            "plans": plans or {},
            "api": api or {},
            "contracts": contracts or {},
        },
        "costs": costs or {},
    }
    if free_tier is not None:
        data["pricing"]["free_tier"] = free_tier
    if routing is not None:
        data["routing"] = routing
    return Scenario.model_validate(data)


def engine_cost(deployment: str, usd_in: float, usd_cached: float, usd_out: float) -> TokenCost:
    return TokenCost(deployment, usd_in, usd_cached, usd_out, "engine")


def volume(
    name: str,
    deployment: str,
    requests: float,
    prompt: float = 1000.0,
    cached_share: float = 0.0,
    output: float = 250.0,
    batch: bool = False,
    long_share: float = 0.0,
) -> ClassVolume:
    return ClassVolume(
        name=name,
        deployment=deployment,
        requests_per_month=requests,
        input_tokens_per_month=requests * prompt,
        cached_input_tokens_per_month=requests * prompt * cached_share,
        output_tokens_per_month=requests * output,
        batch_api=batch,
        long_context_input_share=long_share,
    )


def engine_consistent_cost(fleet: FleetCost, volumes: list[ClassVolume]) -> TokenCost:
    """What an engine would report: the fleet's bill spread over the tokens it served, with
    output tokens 4x and cached input tokens 0.1x the price of an input token."""
    weighted = sum(
        (v.input_tokens_per_month - v.cached_input_tokens_per_month)
        + 0.1 * v.cached_input_tokens_per_month
        + 4.0 * v.output_tokens_per_month
        for v in volumes
        if v.deployment == fleet.deployment
    )
    per_input = fleet.usd_per_month / weighted * 1e6
    return engine_cost(fleet.deployment, per_input, 0.1 * per_input, 4.0 * per_input)


def gpu_spec(**fields: Any) -> GpuSpec:
    base: dict[str, Any] = {
        "id": "test-gpu",
        "name": "Test GPU",
        "vendor": "nvidia",
        "family": "hopper",
        "bf16_tflops": 989,
        "memory_gb": 80,
        "memory_bandwidth_gb_per_s": 3350,
        "sources": [{"url": "https://example.org/test-fixture"}],
        "checked": dt.date(2026, 11, 29),
    }
    return GpuSpec.model_validate({**base, **fields})


def quote(pricing: str, usd: float, provider: str = "TestCloud") -> dict[str, Any]:
    return {
        "pricing": pricing,
        "usd_per_hour": usd,
        "provider": provider,
        "date": "2026-03-01",
        "source": {"url": "https://example.org/quote"},
    }
