"""A prefix cache of KV blocks, as vLLM's automatic prefix caching and Mooncake's store keep
them: a block is named by the hash of its prefix (equal hashes = the same tokens, so the same
KV), a request reuses the longest *leading* run of its blocks found in the cache (the last
block may be partial), and a cache of finite capacity evicts its least recently used block.

Lower tiers (host DRAM, SSD) catch the blocks evicted from the tier above, each with its own
capacity and LRU; a hit there is loaded over the tier's bandwidth instead of recomputed, when
that is faster (`worth_loading`). Pure data: no clock, no engine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LowerTier:
    """A tier below HBM: its capacity in blocks and its load bandwidth."""

    name: str
    capacity_blocks: int
    bandwidth_bytes_per_s: float


@dataclass(frozen=True)
class Hit:
    """What a lookup found: tokens of the leading run in each tier (HBM first)."""

    hbm_tokens: int
    lower_tokens: tuple[int, ...]
    """Per lower tier, the run's tokens found there (and not in a tier above)."""

    @property
    def tokens(self) -> int:
        return self.hbm_tokens + sum(self.lower_tokens)


@dataclass
class PrefixCache:
    """KV blocks in HBM (and lower tiers), LRU. `capacity_blocks` None is unbounded."""

    block_tokens: int
    capacity_blocks: int | None
    tiers: Sequence[LowerTier] = ()
    _levels: list[OrderedDict[int, None]] = field(init=False)

    def __post_init__(self) -> None:
        self._levels = [OrderedDict() for _ in range(1 + len(self.tiers))]

    def _capacity(self, level: int) -> int | None:
        return self.capacity_blocks if level == 0 else self.tiers[level - 1].capacity_blocks

    def blocks_held(self, level: int = 0) -> int:
        return len(self._levels[level])

    def _level_of(self, block: int) -> int | None:
        for level, held in enumerate(self._levels):
            if block in held:
                return level
        return None

    def lookup(self, blocks: Sequence[int], prompt_tokens: int) -> Hit:
        """The longest leading run of `blocks` held in any tier, in tokens per tier (the run
        is cut at `prompt_tokens`: the last block may be partial). Touches what it finds."""
        per_level = [0] * len(self._levels)
        for found, block in enumerate(blocks):
            level = self._level_of(block)
            tokens = min(self.block_tokens, prompt_tokens - found * self.block_tokens)
            if level is None or tokens <= 0:
                break
            self._levels[level].move_to_end(block)
            per_level[level] += tokens
        return Hit(per_level[0], tuple(per_level[1:]))

    def peek_tokens(self, blocks: Sequence[int], prompt_tokens: int) -> int:
        """The tokens `lookup` would find, without touching anything (for routing)."""
        run = 0
        for block in blocks:
            if self._level_of(block) is None:
                break
            run += 1
        return min(run * self.block_tokens, prompt_tokens)

    def insert(self, blocks: Iterable[int]) -> None:
        """A request's blocks, now computed, become the most recently used in HBM (a block held
        in a lower tier moves up); evictions cascade down the tiers and out of the last."""
        hbm = self._levels[0]
        for block in blocks:
            if block in hbm:
                hbm.move_to_end(block)
                continue
            for lower in self._levels[1:]:
                lower.pop(block, None)
            hbm[block] = None
            self._spill(0)

    def _spill(self, level: int) -> None:
        capacity = self._capacity(level)
        held = self._levels[level]
        while capacity is not None and len(held) > capacity:
            block, _ = held.popitem(last=False)
            if level + 1 < len(self._levels):
                self._levels[level + 1][block] = None
                self._spill(level + 1)


@dataclass(frozen=True)
class PrefixCacheReport:
    """A deployment's prefix reuse from block hashes, over its requests that carry them."""

    block_tokens: int
    hbm_capacity_blocks: int
    hbm_capacity_source: str
    tiers: tuple[LowerTier, ...]
    hashed_requests: float
    """Per replication, mean."""
    hashed_input_tokens: float
    hit_tokens: float
    """Found in a cache (HBM or a tier) at the request's replica."""
    hit_ratio: float
    """hit_tokens / hashed_input_tokens."""
    lower_tier_hit_tokens: float
    loaded_tokens: float
    """Lower-tier hits loaded (faster than recomputing them); the others were recomputed."""
    load_s: float
    tokens_saved: float
    """Prompt tokens whose prefill was skipped (the engine recomputes a fully cached prompt's
    last token): the cached input tokens of these requests."""
    ttft_p50_s_without: float | None
    ttft_p99_s_without: float | None
    """TTFT of the same requests (first replication) run again with no prefix cache."""
