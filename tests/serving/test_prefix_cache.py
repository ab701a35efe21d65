"""The prefix cache of KV blocks: against the trace's ideal reuse, LRU's inclusion property
(a smaller cache never hits more), and lower tiers against recomputation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import CATALOG

from infersim.perf import build_perf_model
from infersim.scenario.deployment import PrefixCaching, SelfHosted
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.prefix_cache import LowerTier, PrefixCache
from infersim.serving.prefix_reuse import BlockReuse
from infersim.workload.trace import TraceData, read_trace
from infersim.workload.trace_fit import leading_reuse_tokens

MOONCAKE = Path(__file__).resolve().parents[2] / "configs" / "traces" / "mooncake-synthetic.jsonl"


@pytest.fixture(scope="module")
def mooncake() -> TraceData:
    return read_trace(MOONCAKE, None)


def replay_hits(trace: TraceData, capacity: int | None) -> int:
    """Tokens found when the requests go one by one through one cache."""
    cache = PrefixCache(512, capacity)
    hits = 0
    for row, prompt in enumerate(trace.prompt_tokens.tolist()):
        blocks = trace.blocks_of(row).tolist()
        hits += cache.lookup(blocks, prompt).tokens
        cache.insert(blocks)
    return hits


def test_unbounded_cache_finds_the_traces_ideal_reuse(mooncake: TraceData) -> None:
    total = int(mooncake.prompt_tokens.sum())
    blocks = [mooncake.blocks_of(i).tolist() for i in range(len(mooncake.times_s))]
    ideal = leading_reuse_tokens(blocks, mooncake.prompt_tokens.tolist(), 512)
    assert round(ideal / total, 3) == 0.651  # the figure the trace's publishers' data gives
    assert replay_hits(mooncake, None) == ideal


def test_a_smaller_cache_never_hits_more_on_the_trace(mooncake: TraceData) -> None:
    hits = [replay_hits(mooncake, c) for c in (50, 500, 2_000, 8_000, 30_000, None)]
    assert hits == sorted(hits)
    assert hits[0] < hits[-1]


requests = st.lists(
    st.tuples(st.lists(st.integers(0, 12), min_size=1, max_size=6), st.integers(1, 6 * 16)),
    min_size=1,
    max_size=40,
)


@given(requests, st.integers(1, 30))
@settings(max_examples=200, deadline=None)
def test_lru_inclusion_a_smaller_cache_never_hits_more(
    reqs: list[tuple[list[int], int]], small: int
) -> None:
    """Each request's blocks are touched last in the order they are inserted, whatever was
    found, so LRU is a stack algorithm here: capacity c holds a subset of capacity c + 1."""
    caches = [PrefixCache(16, small), PrefixCache(16, small + 1), PrefixCache(16, None)]
    hits = [0, 0, 0]
    for blocks, extra in reqs:
        prompt = min(len(blocks) * 16, (len(blocks) - 1) * 16 + extra)  # last block partial
        for i, cache in enumerate(caches):
            hits[i] += cache.lookup(blocks, prompt).tokens
            cache.insert(blocks)
        assert caches[0].blocks_held() <= small
    assert hits[0] <= hits[1] <= hits[2]


def test_leading_run_stops_at_the_first_miss_and_the_last_block_is_partial() -> None:
    cache = PrefixCache(512, None)
    cache.insert([1, 2, 3])
    assert cache.lookup([1, 2, 9, 3], 4 * 512).tokens == 1024  # 3 follows a miss
    assert cache.lookup([1, 2, 3], 2 * 512 + 100).tokens == 2 * 512 + 100
    assert cache.lookup([7, 1], 1024).tokens == 0


def test_evicted_blocks_fall_to_the_lower_tier_and_come_back_up() -> None:
    cache = PrefixCache(10, 2, (LowerTier("dram", 2, 1e9),))
    cache.insert([1, 2, 3, 4])  # 1 and 2 spill to DRAM
    assert (cache.blocks_held(0), cache.blocks_held(1)) == (2, 2)
    hit = cache.lookup([1, 2, 3, 4], 40)
    assert (hit.hbm_tokens, hit.lower_tokens) == (20, (20,))
    cache.insert([5, 6, 7])  # 3, 4 then 5 spill; DRAM keeps the two most recent
    assert cache.lookup([1], 10).tokens == 0


# ---------------------------------------------------------------------------------------------
# Lower tiers in the engine: loading never loses to recomputing above the break-even bandwidth
# ---------------------------------------------------------------------------------------------


def _run(tiers: list[dict[str, float | str]], hbm_tokens: int) -> tuple[np.ndarray, BlockReuse]:
    dep = SelfHosted.model_validate({"model": "llama-3.1-8b", "gpu": "h100-sxm"})
    perf = build_perf_model(dep, CATALOG)
    caching = PrefixCaching.model_validate({"hbm_capacity_tokens": hbm_tokens, "tiers": tiers})
    rng = np.random.default_rng(3)
    n = 60
    # conversations of 8 blocks of 512 tokens, turns far apart (no queueing): a request
    # reuses its conversation's earlier blocks, and the small HBM has evicted some of them
    conv = rng.integers(0, 6, size=n)
    blocks = [[int(c) * 1000 + b for b in range(8)] for c in conv]
    prompts = np.full(n, 8 * 512, dtype=np.int64)
    times = np.arange(n, dtype=np.float64) * 30.0
    reuse = BlockReuse(perf, 1, blocks, prompts, np.zeros(n, np.int64), 512, caching)
    run = run_cluster(
        perf, times, prompts, np.full(n, 4, np.int64), reuse.cached,
        ReplicaSchedule([0.0], [1]), "least_outstanding", True, times[-1] + 60, reuse=reuse,
    )  # fmt: skip
    ttft = np.asarray(run.table.first_token_s) - times
    return ttft, reuse


def test_a_lower_tier_above_break_even_never_makes_ttft_worse() -> None:
    none, _ = _run([], hbm_tokens=8 * 512)
    fast, reuse = _run(
        [{"name": "dram", "capacity_gib": 64, "bandwidth_gb_per_s": 50}], hbm_tokens=8 * 512
    )
    assert reuse.stats.loaded_tokens > 0
    assert np.all(fast <= none + 1e-12)
    assert fast.sum() < none.sum()


def test_a_lower_tier_below_break_even_is_not_used() -> None:
    none, _ = _run([], hbm_tokens=8 * 512)
    slow, reuse = _run(
        [{"name": "ssd", "capacity_gib": 64, "bandwidth_gb_per_s": 1e-3}], hbm_tokens=8 * 512
    )
    assert reuse.stats.found_lower_tokens > 0 and reuse.stats.loaded_tokens == 0
    np.testing.assert_array_equal(slow, none)


def test_break_even_is_where_loading_equals_the_prefill_it_saves() -> None:
    _, reuse = _run([], hbm_tokens=8 * 512)
    saved_s = reuse.recompute_s(8 * 512, 0, 7 * 512)
    assert saved_s > 0
    bytes_ = 7 * 512 * reuse.perf.kv_bytes_per_token
    break_even_gb_per_s = bytes_ / saved_s / 1e9
    assert 0.1 < break_even_gb_per_s < 1e4  # a physical figure, not a degenerate one


def test_the_engine_with_an_unbounded_cache_finds_the_traces_ideal_reuse() -> None:
    """One replica, a cache as large as memory allows, the trace replayed 20x slower (each
    turn completes before the next arrives): the engine's hits are the trace's ideal reuse."""
    from infersim.scenario.load import load_scenario
    from infersim.serving.simulate import simulate
    from infersim.workload.trace import load_external_data

    loaded = load_scenario(MOONCAKE.parent / "mooncake-prefix-cache.yaml")
    s = loaded.scenario
    dep = s.deployments["main"]
    assert isinstance(dep, SelfHosted) and dep.prefix_caching is not None
    caching = dep.prefix_caching.model_copy(update={"hbm_capacity_tokens": 10**12})
    dep = dep.model_copy(update={"replicas": 1, "prefix_caching": caching})
    cls = s.workload.classes["mooncake"]
    cls = cls.model_copy(update={"arrival": cls.arrival.model_copy(update={"rate_scale": 0.05})})
    s = s.model_copy(
        update={
            "deployments": {"main": dep},
            "workload": s.workload.model_copy(update={"classes": {"mooncake": cls}}),
            "horizon": s.horizon.model_copy(update={"simulated_s": 1023 * 20}),
        }
    )
    served = simulate(s, catalog=loaded.catalog, data=load_external_data(s, loaded.base_dir))
    report = served.deployments[0].prefix_cache
    assert report is not None and report.hashed_requests == 3_993
    assert round(report.hit_ratio, 3) == 0.651
    # tokens saved: the hits, less the last token of each fully cached prompt (recomputed)
    assert report.hit_tokens - 3_993 <= report.tokens_saved <= report.hit_tokens
    assert served.deployments[0].cached_input_tokens == report.tokens_saved
