"""The request stream: every class's requests merged in time order, each class drawing from
its own generator so that adding a class leaves the others' draws alone; routing splits and
prefix shares applied as stated."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from infersim.scenario.model import Scenario
from infersim.workload.stream import RequestStream, build_requests
from infersim.workload.trace import ExternalData

CHAT: dict[str, Any] = {
    "arrival": {"process": "poisson", "rate_per_s": 5},
    "prompt_tokens": {"dist": "lognormal", "mean_tokens": 800, "sigma": 0.7},
    "output_tokens": {"dist": "lognormal", "mean_tokens": 200, "sigma": 0.7},
}
BATCH: dict[str, Any] = {
    "arrival": {"process": "bursty", "rate_per_s": 2, "cv": 2},
    "prompt_tokens": {"dist": "uniform", "low_tokens": 2000, "high_tokens": 6000},
    "output_tokens": {"dist": "fixed", "tokens": 400},
    "cached_prefix_share": 0.25,
}
NIGHTLY: dict[str, Any] = {
    "arrival": {"process": "diurnal", "mean_rate_per_s": 1, "hourly_weights": [1] * 24},
    "prompt_tokens": {"dist": "fixed", "tokens": 100},
    "output_tokens": {"dist": "fixed", "tokens": 10},
}


def workload(classes: dict[str, Any], **extra: Any) -> Scenario:
    deployments = extra.pop("deployments", {"main": {"model": "llama-3.1-8b", "gpu": "h100-sxm"}})
    return Scenario.model_validate(
        {"name": "w", "deployments": deployments, "workload": {"classes": classes}, **extra}
    )


def stream(s: Scenario, seed: int = 1, horizon_s: float = 600.0) -> RequestStream:
    return build_requests(s, ExternalData(), horizon_s, np.random.default_rng(seed))


def of_class(r: RequestStream, name: str) -> dict[str, np.ndarray]:
    pick = r.class_idx == r.class_names.index(name)
    return {
        "time_s": r.time_s[pick],
        "prompt": r.prompt_tokens[pick],
        "output": r.output_tokens[pick],
        "cached": r.cached_tokens[pick],
    }


def assert_same_draws(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_requests_are_time_ordered_and_typed() -> None:
    r = stream(workload({"chat": CHAT, "batch": BATCH, "nightly": NIGHTLY}))
    assert len(r) > 1000
    assert np.all(np.diff(r.time_s) >= 0)
    assert r.time_s.min() >= 0 and r.time_s.max() < 600
    for column in (r.prompt_tokens, r.output_tokens, r.cached_tokens, r.class_idx):
        assert column.dtype == np.int64 and column.shape == r.time_s.shape
    assert set(np.unique(r.class_idx)) == {0, 1, 2}
    assert r.class_names == ("chat", "batch", "nightly")
    assert np.all(r.prompt_tokens >= 1) and np.all(r.output_tokens >= 1)


def test_class_counts_follow_their_rates() -> None:
    r = stream(workload({"chat": CHAT, "batch": BATCH}), horizon_s=4000)
    counts = np.bincount(r.class_idx, minlength=2)
    assert counts[0] == pytest.approx(5 * 4000, rel=0.05)
    assert counts[1] == pytest.approx(2 * 4000, rel=0.1)


def test_adding_a_class_after_leaves_the_others_draws_alone() -> None:
    alone = stream(workload({"chat": CHAT}))
    together = stream(workload({"chat": CHAT, "batch": BATCH, "nightly": NIGHTLY}))
    assert_same_draws(of_class(alone, "chat"), of_class(together, "chat"))


def test_adding_a_class_before_leaves_the_others_draws_alone() -> None:
    alone = stream(workload({"chat": CHAT}))
    together = stream(workload({"batch": BATCH, "chat": CHAT}))
    assert_same_draws(of_class(alone, "chat"), of_class(together, "chat"))


def test_same_seed_same_stream_other_seed_other() -> None:
    s = workload({"chat": CHAT, "batch": BATCH})
    first, again, other = stream(s, seed=3), stream(s, seed=3), stream(s, seed=4)
    for column in ("time_s", "prompt_tokens", "output_tokens", "cached_tokens", "class_idx"):
        np.testing.assert_array_equal(getattr(first, column), getattr(again, column))
    assert len(first) != len(other) or not np.array_equal(first.time_s, other.time_s)


def test_cached_prefix_is_the_class_share_of_each_prompt() -> None:
    r = stream(workload({"chat": CHAT, "batch": BATCH}))
    batch, chat = of_class(r, "batch"), of_class(r, "chat")
    np.testing.assert_array_equal(batch["cached"], np.floor(batch["prompt"] * 0.25))
    assert np.all(chat["cached"] == 0)
    assert batch["prompt"].min() >= 2000 and batch["prompt"].max() <= 6000
    assert np.all(batch["output"] == 400)


def test_fixed_split_routes_the_stated_shares() -> None:
    s = workload(
        {"chat": {**CHAT, "arrival": {"process": "poisson", "rate_per_s": 50}}},
        deployments={
            "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
            "large": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "replicas": 2},
        },
        routing={"strategy": "fixed_split", "split": {"small": 0.3, "large": 0.7}},
    )
    r = stream(s, horizon_s=2000)
    assert r.deployment_names == ("small", "large")
    share_small = np.mean(r.deployment_idx == 0)
    assert share_small == pytest.approx(0.3, abs=0.01)


def test_class_pinned_to_a_deployment_goes_there() -> None:
    s = workload(
        {"chat": {**CHAT, "deployment": "large"}, "batch": {**BATCH, "deployment": "small"}},
        deployments={
            "small": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
            "large": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
        },
    )
    r = stream(s)
    np.testing.assert_array_equal(r.deployment_idx, np.where(r.class_idx == 0, 1, 0))
