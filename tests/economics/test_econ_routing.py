"""Routed user populations are served in the routing's mix of deployments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from econ_fixtures import engine_cost, lognormal_users, scenario, volume

from infersim.catalog.load import Catalog
from infersim.economics import EconomicsError, evaluate_month

DEPLOYMENTS = {
    "big": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
}
COSTS = {"big": engine_cost("big", 3, 0.3, 12), "small": engine_cost("small", 0.3, 0.03, 1.2)}
ROUTED_CLASS = {
    "chat": {
        "arrival": {"process": "poisson", "rate_per_s": 1.0},
        "prompt_tokens": {"dist": "fixed", "tokens": 1000},
        "output_tokens": {"dist": "fixed", "tokens": 250},
    }
}


def routed(routing: dict[str, Any]) -> Any:
    return scenario(
        deployments=DEPLOYMENTS,
        users={"free": lognormal_users("free", 10_000)},
        classes=ROUTED_CLASS,
        routing=routing,
    )


def requests_by_deployment(sc: Any, volumes: list[Any]) -> dict[str, float]:
    result = evaluate_month(sc, Catalog(), COSTS, volumes, [], np.random.default_rng(1))
    row = result.table.row("free")
    volume_requests = {v.deployment: v.requests_per_month for v in volumes}
    return {
        name: (d.requests - volume_requests.get(name, 0.0)) / row.requests
        for name, d in result.deployments.items()
    }


def test_fixed_split() -> None:
    sc = routed({"strategy": "fixed_split", "split": {"big": 0.1, "small": 0.9}})
    shares = requests_by_deployment(sc, [])
    assert shares == pytest.approx({"big": 0.1, "small": 0.9})


def test_difficulty_follows_the_engine_mix() -> None:
    sc = routed({"strategy": "difficulty", "order": ["small", "big"]})
    volumes = [volume("chat", "small", 700.0), volume("chat", "big", 300.0)]
    assert requests_by_deployment(sc, volumes) == pytest.approx({"big": 0.3, "small": 0.7})


def test_cascade_serves_escalated_requests_twice() -> None:
    sc = routed({"strategy": "cascade", "order": ["small", "big"], "escalation_probability": 0.2})
    volumes = [volume("chat", "small", 1000.0), volume("chat", "big", 200.0)]
    result = evaluate_month(sc, Catalog(), COSTS, volumes, [], np.random.default_rng(1))
    row = result.table.row("free")
    big = result.deployments["big"].requests - 200.0
    small = result.deployments["small"].requests - 1000.0
    assert small == pytest.approx(row.requests)
    assert big == pytest.approx(0.2 * row.requests)
    assert {r.segment for r in result.table.rows} >= {"chat@small", "chat@big"}


def test_engine_routed_mix_needs_volumes() -> None:
    sc = routed({"strategy": "difficulty", "order": ["small", "big"]})
    with pytest.raises(EconomicsError, match="routed by 'difficulty'"):
        evaluate_month(sc, Catalog(), COSTS, [], [], np.random.default_rng(1))
