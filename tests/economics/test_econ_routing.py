"""Routed user populations are served in the routing's mix of deployments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from econ_fixtures import engine_cost, lognormal_users, scenario, volume

from infersim.catalog.load import Catalog
from infersim.economics import evaluate_month
from infersim.routing import plan_routes

DEPLOYMENTS = {
    "big": {"model": "llama-3.1-70b", "gpu": "h100-sxm", "quality": 0.9},
    "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "quality": 0.7},
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


def test_difficulty_follows_the_router_plan() -> None:
    routing = {"strategy": "difficulty", "order": ["small", "big"], "quality_target": 0.8}
    sc = routed(routing)
    plan = plan_routes(sc)
    volumes = [volume("chat", "small", 700.0), volume("chat", "big", 300.0)]
    shares = requests_by_deployment(sc, volumes)
    assert shares == pytest.approx(plan.served_per_request)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert 0.0 < shares["small"] < 1.0


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


def test_routed_populations_need_no_engine_volumes() -> None:
    routing = {"strategy": "difficulty", "order": ["small", "big"], "quality_target": 0.8}
    result = evaluate_month(routed(routing), Catalog(), COSTS, [], [], np.random.default_rng(1))
    assert result.table.row("free").requests > 0
