"""Prefix reuse that emerges from a synthetic workload: multi-turn sessions whose turns carry
the context so far, hashed in the traces' 512-token blocks, found by the prefix cache."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from serving_helpers import CATALOG

from infersim.errors import ConfigError
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario
from infersim.scenario.workload import SESSION_BLOCK_TOKENS, Sessions, TokenDist
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.prefix_reuse import block_reuse
from infersim.serving.simulate import deployment_plan, simulate
from infersim.workload.sessions import expand_sessions, session_mean_prompt_tokens
from infersim.workload.stream import build_requests
from infersim.workload.trace import ExternalData, class_mean_tokens, class_share_of_prompt_above

NEW, OUT, TURNS, THINK_S = 700, 300, 4, 60.0
TokenDistAdapter: TypeAdapter[TokenDist] = TypeAdapter(TokenDist)
B = SESSION_BLOCK_TOKENS


def session_scenario(
    capacity_tokens: int | None = 10**9, rate_per_s: float = 0.5, horizon_s: float = 1800.0
) -> Scenario:
    caching: dict[str, Any] = {}
    if capacity_tokens is not None:
        caching["hbm_capacity_tokens"] = capacity_tokens
    return Scenario.model_validate(
        {
            "name": "sessions",
            "seed": 3,
            "deployments": {
                "main": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "prefix_caching": caching}
            },
            "fleet": {"replications": 1},
            "workload": {
                "classes": {
                    "chat": {
                        "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
                        "prompt_tokens": {"dist": "fixed", "tokens": NEW},
                        "output_tokens": {"dist": "fixed", "tokens": OUT},
                        "sessions": {"turns_per_session": TURNS, "think_time_s": THINK_S},
                    }
                }
            },
            "horizon": {"simulated_s": horizon_s},
        }
    )


def prompt_of_turn(k: int) -> int:
    """Turn k's prompt: k turns' new tokens and the k - 1 answers before it."""
    return k * NEW + (k - 1) * OUT


def ideal_reuse_tokens(k: int) -> int:
    """What turn k finds of the earlier turns' prompt blocks: turn k - 1's full blocks (its
    partial last block holds fewer tokens than the same block of turn k)."""
    return 0 if k == 1 else prompt_of_turn(k - 1) // B * B


def test_turns_extend_the_context_and_arrive_a_think_time_apart() -> None:
    sessions = Sessions(turns_per_session=3, think_time_s=10.0)
    new = np.asarray([5, 6, 7, 50, 60, 70], dtype=np.int64)
    out = np.asarray([1, 2, 3, 10, 20, 30], dtype=np.int64)
    turns = expand_sessions(np.asarray([25.0, 100.0]), sessions, new, out, horizon_s=95.0)
    # session 0 starts 20 s (the lead) before its draw: turns at 5, 15, 25 s; session 1's
    # last turn (100 s) is past the window
    assert turns.time_s.tolist() == [5.0, 15.0, 25.0, 80.0, 90.0]
    assert turns.prompt_tokens.tolist() == [5, 5 + 1 + 6, 5 + 1 + 6 + 2 + 7, 50, 50 + 10 + 60]
    assert turns.output_tokens.tolist() == [1, 2, 3, 10, 20]
    assert turns.session.tolist() == [0, 0, 0, 1, 1]


def test_a_session_class_keeps_its_request_rate_and_mean_prompt() -> None:
    s = session_scenario(rate_per_s=2.0, horizon_s=20_000.0)
    stream = build_requests(s, ExternalData(), 20_000.0, np.random.default_rng(5))
    assert len(stream) == pytest.approx(2.0 * 20_000, rel=0.03)
    mean = class_mean_tokens(s.workload.classes["chat"], "prompt_tokens", ExternalData())
    assert mean == session_mean_prompt_tokens(NEW, OUT, Sessions(turns_per_session=TURNS,
                                                                 think_time_s=THINK_S))  # fmt: skip
    assert mean == pytest.approx(np.mean([prompt_of_turn(k) for k in range(1, TURNS + 1)]))
    assert float(stream.prompt_tokens.mean()) == pytest.approx(mean, rel=0.03)


def test_an_unbounded_cache_finds_the_sessions_ideal_reuse() -> None:
    """On one replica, each turn arriving after its predecessor has finished: the cache finds
    exactly the closed-form reuse of every turn whose predecessor is in the window."""
    s = session_scenario()
    plan = deployment_plan(s, CATALOG, "main", ExternalData())
    stream = build_requests(s, ExternalData(), 1800.0, np.random.default_rng(7), "main")
    reuse = block_reuse(plan.perf, plan.deployment, s, ExternalData(), stream, 1)
    assert reuse is not None
    run = run_cluster(
        plan.perf, stream.time_s, stream.prompt_tokens, stream.output_tokens,
        stream.cached_tokens, ReplicaSchedule([0.0], [1]), "least_outstanding", False, 1800.0,
        reuse=reuse,
    )  # fmt: skip
    latency = np.asarray(run.table.finish_s) - stream.time_s
    assert float(latency.max()) < THINK_S  # each turn is done before the next arrives
    turn = {prompt_of_turn(k): k for k in range(1, TURNS + 1)}
    ideal = 0
    for t, p in zip(stream.time_s.tolist(), stream.prompt_tokens.tolist(), strict=True):
        k = turn[p]
        if t >= THINK_S:  # its predecessor arrived within the window
            ideal += ideal_reuse_tokens(k)
    stats = reuse.stats
    assert ideal > 0
    assert stats.found_hbm_tokens + stats.found_lower_tokens == ideal
    assert stats.hashed_input_tokens == int(stream.prompt_tokens.sum())


def test_the_hit_ratio_is_reported_as_for_traces_and_a_small_cache_hits_less() -> None:
    big = simulate(session_scenario(), catalog=CATALOG).deployments[0].prefix_cache
    assert big is not None and big.block_tokens == B
    # the steady state's ideal ratio, less the turns whose predecessor is before the window
    steady = sum(ideal_reuse_tokens(k) for k in range(1, TURNS + 1)) / sum(
        prompt_of_turn(k) for k in range(1, TURNS + 1)
    )
    assert big.hit_ratio <= steady
    assert big.hit_ratio == pytest.approx(steady, rel=0.08)
    small = simulate(session_scenario(capacity_tokens=4 * B), catalog=CATALOG)
    cache = small.deployments[0].prefix_cache
    assert cache is not None and cache.hit_ratio < big.hit_ratio
    assert big.ttft_p50_s_without is not None
    assert math.isfinite(big.ttft_p50_s_without)


def test_without_prefix_caching_sessions_only_shape_the_prompts() -> None:
    s = session_scenario(capacity_tokens=None)
    document = s.model_dump(mode="json", exclude_none=True)
    del document["deployments"]["main"]["prefix_caching"]
    d = simulate(Scenario.model_validate(document), catalog=CATALOG).deployments[0]
    assert d.prefix_cache is None
    assert d.completed == d.requests > 0


@pytest.mark.parametrize(
    ("sessions", "fragment"),
    [
        ("{turns_per_session: 0, think_time_s: 5}", "turns_per_session"),
        ("{turns_per_session: 3, think_time_s: -1}", "think_time_s"),
        ("{turns_per_session: 3}", "think_time_s"),
        ("{turns_per_session: 3, think_time_s: 5, gap: 2}", "gap"),
    ],
)
def test_bad_sessions_are_refused(tmp_path: Path, sessions: str, fragment: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: d\ndeployments:\n  main: {model: llama-3.1-8b, gpu: h100-sxm}\n"
        "workload: {classes: {c: {arrival: {process: poisson, rate_per_s: 1},"
        " prompt_tokens: {dist: fixed, tokens: 10}, output_tokens: {dist: fixed, tokens: 5},"
        f" sessions: {sessions}}}}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=rf"workload\.classes\.c\.sessions.*{fragment}"):
        load_scenario(path)


def test_sessions_on_a_trace_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: d\ndeployments:\n  main: {model: llama-3.1-8b, gpu: h100-sxm}\n"
        "workload: {classes: {c: {arrival: {process: trace, path: t.jsonl},"
        " sessions: {turns_per_session: 2, think_time_s: 5}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"workload\.classes\.c: sessions not used with arrival"):
        load_scenario(path)


def test_the_long_context_share_counts_the_turns_whole_prompts() -> None:
    cls = session_scenario().workload.classes["chat"]
    share = class_share_of_prompt_above(cls, 2000, ExternalData())
    prompts = [prompt_of_turn(k) for k in range(1, TURNS + 1)]  # 700, 1700, 2700, 3700
    assert share == sum(p for p in prompts if p > 2000) / sum(prompts)
    lognormal = cls.model_copy(
        update={"prompt_tokens": TokenDistAdapter.validate_python(
            {"dist": "lognormal", "mean_tokens": NEW, "sigma": 0.5})}
    )  # fmt: skip
    varied = class_share_of_prompt_above(lognormal, 2000, ExternalData())
    assert 0.0 < varied < 1.0
    assert varied == class_share_of_prompt_above(lognormal, 2000, ExternalData())  # fixed seed


def test_a_cached_prefix_share_on_sessions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: d\ndeployments:\n  main: {model: llama-3.1-8b, gpu: h100-sxm,"
        " prefix_caching: {}}\n"
        "workload: {classes: {c: {arrival: {process: poisson, rate_per_s: 1},"
        " prompt_tokens: {dist: fixed, tokens: 10}, output_tokens: {dist: fixed, tokens: 5},"
        " cached_prefix_share: 0.5, sessions: {turns_per_session: 2, think_time_s: 5}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"workload\.classes\.c\.cached_prefix_share: .* not used with sessions"
    ):
        load_scenario(path)
