"""The router against its definition: bands of difficulty, cascades served twice."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infersim.routing import plan_routes
from infersim.scenario.model import Scenario


def routed(routing: dict[str, Any], small: dict[str, Any] | None = None) -> Scenario:
    small_model = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "quality": 0.6, **(small or {})}
    return Scenario.model_validate(
        {
            "name": "r",
            "deployments": {
                "small": small_model,
                "frontier": {"kind": "api", "list_price": "article:gpt-4o", "quality": 0.9},
            },
            "routing": routing,
            "workload": {"classes": {"c": {
                "arrival": {"process": "poisson", "rate_per_s": 1},
                "prompt_tokens": {"dist": "fixed", "tokens": 100},
                "output_tokens": {"dist": "fixed", "tokens": 10},
            }}},
        }
    )  # fmt: skip


def difficulty(target: float, **extra: Any) -> Scenario:
    return routed(
        {
            "strategy": "difficulty",
            "order": ["small", "frontier"],
            "quality_target": target,
            **extra,
        }
    )


def test_fixed_split_is_the_split() -> None:
    plan = plan_routes(
        routed({"strategy": "fixed_split", "split": {"small": 0.9, "frontier": 0.1}})
    )
    assert plan.served_per_request == pytest.approx({"small": 0.9, "frontier": 0.1})
    assert plan.quality < plan.frontier_quality


def test_extreme_targets_send_everything_to_one_end() -> None:
    assert plan_routes(difficulty(0.001)).served_per_request["small"] == pytest.approx(1.0)
    everything = plan_routes(difficulty(0.999))
    assert everything.served_per_request["frontier"] == pytest.approx(1.0)
    assert everything.quality == pytest.approx(everything.frontier_quality)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 0.95), st.floats(0.05, 0.95))
def test_a_higher_target_sends_more_to_the_frontier_and_buys_quality(a: float, b: float) -> None:
    low, high = sorted((a, b))
    plan_low, plan_high = plan_routes(difficulty(low)), plan_routes(difficulty(high))
    assert plan_high.served_per_request["frontier"] >= plan_low.served_per_request["frontier"]
    assert plan_high.quality >= plan_low.quality - 1e-12
    assert sum(plan_low.served_per_request.values()) == pytest.approx(1.0)


def test_band_matches_the_threshold_formula() -> None:
    # small answers d <= q - width * logit(target); with d ~ N(0.5, 0.2) the share is the CDF
    import math

    target, q, width = 0.7, 0.6, 0.1
    threshold = q - width * math.log(target / (1 - target))
    expected = 0.5 * math.erfc(-(threshold - 0.5) / (0.2 * math.sqrt(2)))
    share = plan_routes(difficulty(target)).served_per_request["small"]
    assert share == pytest.approx(expected, abs=1e-3)


def test_quantization_penalty_shrinks_the_small_models_band() -> None:
    plain = plan_routes(difficulty(0.6)).served_per_request["small"]
    int4 = routed(
        {"strategy": "difficulty", "order": ["small", "frontier"], "quality_target": 0.6},
        small={"precision": {"weights": "int4"}},
    )
    assert plan_routes(int4).served_per_request["small"] < plain


def test_cascade_serves_escalated_requests_twice() -> None:
    plan = plan_routes(
        routed(
            {"strategy": "cascade", "order": ["small", "frontier"], "escalation_probability": 0.3}
        )
    )
    assert plan.served_per_request == pytest.approx({"small": 1.0, "frontier": 0.3})
    small_alone = plan_routes(difficulty(0.001)).quality
    assert small_alone < plan.quality < plan.frontier_quality
