"""Prefix reuse from block hashes in the engine: each replica keeps a `PrefixCache`; when a
request reaches a replica its cached tokens are the leading run of its blocks found there
(lower-tier hits loaded when faster than recomputing them), and when it completes its blocks
are inserted. The cluster's event loop calls `admit` and `complete`; `affinity` serves the
prefix-aware load balancer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infersim.perf import PerfModel, chunk_context_tokens
from infersim.scenario.deployment import PrefixCaching, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import SESSION_BLOCK_TOKENS, Trace
from infersim.serving.prefix_cache import LowerTier, PrefixCache, PrefixCacheReport
from infersim.workload.sessions import session_blocks
from infersim.workload.stream import RequestStream
from infersim.workload.trace import ExternalData

__all__ = ["BlockReuse", "PrefixCacheReport", "ReuseStats", "block_reuse", "prefix_report"]

GIB = 1024**3


@dataclass
class ReuseStats:
    """What the caches did for the requests with block hashes."""

    hashed_requests: int = 0
    hashed_input_tokens: int = 0
    found_hbm_tokens: int = 0
    found_lower_tokens: int = 0
    """Found in a lower tier (loaded or not)."""
    loaded_tokens: int = 0
    """Lower-tier hits loaded into HBM (faster than recomputing them)."""
    load_s: float = 0.0
    skipped_tokens: int = 0
    """Prompt tokens whose prefill was skipped (the engine recomputes a fully cached prompt's
    last token, as vLLM does, to get its logits)."""


def cache_capacities(
    perf: PerfModel, caching: PrefixCaching, block_tokens: int
) -> tuple[int, tuple[LowerTier, ...]]:
    """HBM capacity in blocks (given, else the replica's KV capacity) and the lower tiers'."""
    hbm_tokens = caching.hbm_capacity_tokens or int(perf.kv_capacity_tokens)
    block_bytes = perf.kv_bytes_per_token * block_tokens
    tiers = tuple(
        LowerTier(
            t.name, max(0, int(t.capacity_gib * GIB // block_bytes)), t.bandwidth_gb_per_s * 1e9
        )
        for t in caching.tiers
    )
    return max(1, hbm_tokens // block_tokens), tiers


class BlockReuse:
    """Per-replica prefix caches over one run's requests; `cached` is the engine's view of
    each request's cached prompt tokens (requests without hashes keep their simple share)."""

    def __init__(
        self,
        perf: PerfModel,
        replicas: int,
        blocks: Sequence[list[int] | None],
        prompt_tokens: NDArray[np.int64],
        cached_tokens: NDArray[np.int64],
        block_tokens: int,
        caching: PrefixCaching,
        use_cache: bool = True,
    ) -> None:
        self.perf = perf
        self.blocks = blocks
        self.prompts = prompt_tokens.tolist()
        self.cached = np.array(cached_tokens, dtype=np.int64, copy=True)
        self.use_cache = use_cache
        capacity, tiers = cache_capacities(perf, caching, block_tokens)
        self.capacity_blocks = capacity
        self.tiers = tiers
        self.block_tokens = block_tokens
        self.caches = [PrefixCache(block_tokens, capacity, tiers) for _ in range(replicas)]
        self.stats = ReuseStats()
        self.loading: dict[int, int] = {}  # rid -> replica, while its KV loads

    def affinity(self, replica: int, rid: int) -> int:
        blocks = self.blocks[rid]
        if blocks is None:
            return 0
        return self.caches[replica].peek_tokens(blocks, self.prompts[rid])

    def admit(self, replica: int, rid: int) -> float:
        """Set the request's cached tokens on this replica; the seconds its lower-tier KV
        takes to load (0: nothing to load)."""
        blocks = self.blocks[rid]
        if blocks is None:
            return 0.0
        prompt = self.prompts[rid]
        stats = self.stats
        stats.hashed_requests += 1
        stats.hashed_input_tokens += prompt
        if not self.use_cache:
            self.cached[rid] = 0
            return 0.0
        hit = self.caches[replica].lookup(blocks, prompt)
        stats.found_hbm_tokens += hit.hbm_tokens
        lower = sum(hit.lower_tokens)
        stats.found_lower_tokens += lower
        use, load_s = hit.hbm_tokens, 0.0
        if lower:
            load_s = sum(
                tokens * self.perf.kv_bytes_per_token / tier.bandwidth_bytes_per_s
                for tokens, tier in zip(hit.lower_tokens, self.tiers, strict=True)
            )
            if load_s < self.recompute_s(prompt, hit.hbm_tokens, lower):
                use += lower
                stats.loaded_tokens += lower
                stats.load_s += load_s
            else:
                load_s = 0.0
        use = min(use, prompt - 1)
        stats.skipped_tokens += use
        self.cached[rid] = use
        if load_s > 0:
            self.loading[rid] = replica
        return load_s

    def readmit(self, replica: int, rid: int) -> float:
        """`admit` for a request sent again to another replica (its first was reclaimed):
        its cached tokens there, counted as reuse again, but not as another request."""
        load_s = self.admit(replica, rid)
        if self.blocks[rid] is not None:
            self.stats.hashed_requests -= 1
            self.stats.hashed_input_tokens -= self.prompts[rid]
        return load_s

    def go_cold(self, replica: int) -> None:
        """The replica was replaced: its caches start empty."""
        self.caches[replica] = PrefixCache(self.block_tokens, self.capacity_blocks, self.tiers)

    def recompute_s(self, prompt: int, cached: int, lower: int) -> float:
        """Prefill seconds that loading `lower` more cached tokens would save (the prompt's
        prefill after `cached` tokens, less its prefill after `cached + lower`)."""
        perf = self.perf
        rest = prompt - cached
        left = max(1, rest - lower)
        full = perf.iteration_time_s(rest, chunk_context_tokens(rest, cached), 0, 0)
        short = perf.iteration_time_s(left, chunk_context_tokens(left, prompt - left), 0, 0)
        return full - short

    def complete(self, replica: int, rids: Sequence[int]) -> None:
        if not self.use_cache:
            return
        cache = self.caches[replica]
        for rid in rids:
            blocks = self.blocks[rid]
            if blocks is not None:
                cache.insert(blocks)


def _hashed_classes(scenario: Scenario, data: ExternalData) -> dict[str, Trace]:
    """The classes replaying a trace with prefix block hashes."""
    out: dict[str, Trace] = {}
    for name, cls in scenario.workload.classes.items():
        arrival = cls.arrival
        trace = data.traces.get(arrival.path) if isinstance(arrival, Trace) else None
        if isinstance(arrival, Trace) and trace is not None and trace.has_hashes:
            out[name] = arrival
    return out


def _session_classes(scenario: Scenario) -> list[str]:
    """The classes of multi-turn sessions (their turns carry block hashes)."""
    return [n for n, c in scenario.workload.classes.items() if c.sessions is not None]


def hash_block_tokens(scenario: Scenario, data: ExternalData) -> int:
    """Tokens per hashed block: the hashed traces' (one size per cache, checked before the
    run), else that of sessions."""
    hashed = _hashed_classes(scenario, data)
    if hashed:
        return next(iter(hashed.values())).hash_block_tokens
    return SESSION_BLOCK_TOKENS


def block_reuse(
    perf: PerfModel,
    dep: SelfHosted,
    scenario: Scenario,
    data: ExternalData,
    stream: RequestStream,
    replicas: int,
    use_cache: bool = True,
) -> BlockReuse | None:
    """The caches for a run whose requests carry block hashes (a trace's, or a session's
    turns') on a deployment with prefix caching; None when there is nothing to reuse by
    hash."""
    caching = dep.prefix_caching
    hashed = _hashed_classes(scenario, data)
    sessions = [stream.class_names.index(n) for n in _session_classes(scenario)]
    if caching is None or (
        (stream.trace_row is None or not hashed) and (stream.session is None or not sessions)
    ):
        return None
    paths = sorted({a.path for a in hashed.values()})
    spaces = len(paths) + 1  # block ids of different traces (and of sessions) never match
    blocks: list[list[int] | None] = [None] * len(stream)
    memo: dict[tuple[int, int], list[int]] = {}
    by_class = {
        stream.class_names.index(name): (data.traces[a.path], paths.index(a.path))
        for name, a in hashed.items()
        if name in stream.class_names
    }
    rows = stream.trace_row.tolist() if stream.trace_row is not None else [-1] * len(stream)
    for i, (c, row) in enumerate(zip(stream.class_idx.tolist(), rows, strict=True)):
        if c not in by_class or row < 0:
            continue
        key = (c, row)
        got = memo.get(key)
        if got is None:
            trace, space = by_class[c]
            got = [h * spaces + space for h in trace.blocks_of(row).tolist()]
            memo[key] = got
        blocks[i] = got
    block_tokens = hash_block_tokens(scenario, data)
    if stream.session is not None and sessions:
        ids: dict[tuple[int, ...], int] = {}
        prompts = stream.prompt_tokens.tolist()
        classes = stream.class_idx.tolist()
        for i, session in enumerate(stream.session.tolist()):
            if session < 0:
                continue
            key = session * len(stream.class_names) + classes[i]
            turn = session_blocks(prompts[i], key, block_tokens, ids)
            blocks[i] = [b * spaces + len(paths) for b in turn]
    return BlockReuse(
        perf, replicas, blocks, stream.prompt_tokens, stream.cached_tokens, block_tokens,
        caching, use_cache,
    )  # fmt: skip


def prefix_report(
    perf: PerfModel,
    dep: SelfHosted,
    data: ExternalData,
    scenario: Scenario,
    log: list[ReuseStats],
    ttft_without_s: NDArray[np.float64],
) -> PrefixCacheReport:
    """The replications' cache figures (means) and the TTFT without a cache."""
    caching = dep.prefix_caching
    assert caching is not None
    block_tokens = hash_block_tokens(scenario, data)
    capacity, tiers = cache_capacities(perf, caching, block_tokens)
    source = (
        "prefix_caching.hbm_capacity_tokens"
        if caching.hbm_capacity_tokens is not None
        else "the replica's KV cache capacity"
    )

    def mean(key: str) -> float:
        return float(np.mean([getattr(s, key) for s in log]))

    hit = mean("found_hbm_tokens") + mean("found_lower_tokens")
    total = mean("hashed_input_tokens")
    finite = ttft_without_s[np.isfinite(ttft_without_s)]
    return PrefixCacheReport(
        block_tokens=block_tokens,
        hbm_capacity_blocks=capacity,
        hbm_capacity_source=source,
        tiers=tiers,
        hashed_requests=mean("hashed_requests"),
        hashed_input_tokens=total,
        hit_tokens=hit,
        hit_ratio=hit / total if total else 0.0,
        lower_tier_hit_tokens=mean("found_lower_tokens"),
        loaded_tokens=mean("loaded_tokens"),
        load_s=mean("load_s"),
        tokens_saved=mean("skipped_tokens"),
        ttft_p50_s_without=float(np.percentile(finite, 50)) if len(finite) else None,
        ttft_p99_s_without=float(np.percentile(finite, 99)) if len(finite) else None,
    )
