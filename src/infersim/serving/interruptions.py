"""Spot reclaims in the engine: replicas taken away mid-run, their requests recomputed elsewhere.

Which capacity is spot: the bill buys `spot.share` of the GPU-hours above the reservation as
spot (`economics.capacity.spot_gpu_hours`), a share of the fleet's hours, not named
replicas (an autoscaled fleet's hours above the commitment come and go). So every replica the
schedule keeps up is reclaimed as a Poisson process at

    rate = interruptions_per_gpu_hour x gpus_per_replica x (spot GPU-hours / scheduled GPU-hours)

which gives, in expectation, exactly the bill's reclaims: spot GPU-hours x
interruptions_per_gpu_hour. A mixed fleet (`deployments.X.pools`) buys each pool's hours on
its own: each slot is reclaimed at its own pool's rate (its pool's interruptions, GPUs per
replica and spot share of the pool's hours; never on a pool without spot), after its pool's
replacement lag, and its figures are counted per slot so each pool's bill takes its own. A
reclaim:

- the decode steps the replica finished by then stand (their tokens were streamed); the step
  or iteration in flight is lost;
- every request on it (decoding, prefilling, queued) goes back to the load balancer (a mixed
  fleet's pool routing) and is admitted on another replica that is up (of any pool),
  recomputing its prompt and the tokens it already emitted (no request is lost; its next
  token comes after the recompute: the gap is in ITL); with no replica up, requests wait for
  the first one back;
- the slot is down for `replacement_lag_s` (no admissions), then serves again, empty (its KV
  and prefix caches cold). The replacement is billed from its launch (its lag is booting and
  loading the weights), so the slot's hours stay paid: the lag costs latency, not dollars,
  and the bill's hours are the schedule's. A replacement still booting can be reclaimed too
  (the clock runs on every scheduled slot): the lag starts again.

The reclaims come from their own random streams, one per replica slot (a fleet of n + 1
replicas sees the reclaims of the fleet of n, plus its last slot's: sizing compares fleets
under the same reclaims), so a run without spot draws exactly what it drew before. Figures
count the reclaims within the simulated time (the drain after it belongs, in a steady
month, to the next window); a sampled run's are scaled up with its requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from infersim.serving.prefix_reuse import BlockReuse
from infersim.serving.replica import Replica

Chooser = Callable[[list[Replica], int], int]


@dataclass(frozen=True)
class SpotReclaims:
    """How the engine reclaims replicas: the rate per scheduled replica, the lag, the stream."""

    rate_per_replica_s: float
    """The rate of every slot; a mixed fleet's: the mean of its slots' rates."""
    replacement_lag_s: float
    rng: np.random.Generator
    window_s: float
    """Reclaims, recompute and down time are counted for reclaims before this time."""
    slot_rates_s: tuple[float, ...] = ()
    """A mixed fleet: each slot's own rate, its pool's (0 on a pool without spot)."""
    slot_lags_s: tuple[float, ...] = ()
    """A mixed fleet: each slot's replacement lag, its pool's."""

    def rate_of(self, slot: int) -> float:
        return self.slot_rates_s[slot] if self.slot_rates_s else self.rate_per_replica_s

    def lag_of(self, slot: int) -> float:
        return self.slot_lags_s[slot] if self.slot_lags_s else self.replacement_lag_s

    def streams(self, slots: int) -> list[np.random.Generator]:
        """One random stream per replica slot: a fleet of n + 1 replicas is reclaimed as
        the fleet of n, plus its last slot's reclaims (common random numbers: sizing a fleet
        compares fleets under the same reclaims, not luckier ones)."""
        return self.rng.spawn(slots)

    def next_after(self, stream: np.random.Generator, t_s: float, slot: int) -> float:
        """Slot `slot`'s next reclaim after `t_s`: its Poisson process runs on every slot all
        the time; the cluster keeps a reclaim when the schedule has the slot up then
        (thinning: a Poisson process over the slot's scheduled time)."""
        rate = self.rate_of(slot)
        if rate <= 0:
            return math.inf
        return t_s + float(stream.exponential(1.0 / rate))


@dataclass
class SlotReclaims:
    """What the reclaims of one replica slot (or, summed, of several) did within the window."""

    rate_per_replica_s: float
    reclaims: int = 0
    requests_recomputed: int = 0
    """Requests in flight (decoding or prefilling) on a reclaimed replica."""
    requests_moved: int = 0
    """Every request that left a reclaimed replica (queued ones included)."""
    recomputed_tokens: int = 0
    """KV tokens computed on a reclaimed replica that had to be computed again."""
    down_replica_s: float = 0.0
    """Replica-seconds within the window from a reclaim to its replacement serving."""


def slots_total(slots: Sequence[SlotReclaims], rate_per_replica_s: float) -> SlotReclaims:
    """The figures of `slots` added up (a pool's, or a whole fleet's)."""
    return SlotReclaims(
        rate_per_replica_s,
        sum(s.reclaims for s in slots),
        sum(s.requests_recomputed for s in slots),
        sum(s.requests_moved for s in slots),
        sum(s.recomputed_tokens for s in slots),
        math.fsum(s.down_replica_s for s in slots),
    )


@dataclass
class ReclaimStats:
    """What the reclaims within the window did (simulated, not scaled), per replica slot;
    the fleet's figures are their sums (`total`)."""

    rate_per_replica_s: float
    by_slot: list[SlotReclaims] = field(default_factory=list)

    def total(self) -> SlotReclaims:
        return slots_total(self.by_slot, self.rate_per_replica_s)


def skipping_down(choose: Chooser) -> Chooser:
    """A load balancer choosing among the pool's replicas that are up (the caller makes
    sure one is); the index is in the whole pool."""

    def pick(pool: list[Replica], counter: int) -> int:
        up = [index for index, replica in enumerate(pool) if not replica.down]
        if len(up) == len(pool):
            return choose(pool, counter) if len(pool) > 1 else 0
        if len(up) == 1:
            return up[0]
        return up[choose([pool[i] for i in up], counter)]

    return pick


def prefix_aware_up(reuse: BlockReuse) -> Chooser:
    """The prefix-aware balancer (`serving.cluster.prefix_aware`) over the replicas that are
    up: each replica's own cache (by its slot in the pool) against its queue."""

    def choose(replicas: list[Replica], rid: int) -> int:
        prompt = reuse.prompts[rid]
        best, best_work = -1, math.inf
        for index, replica in enumerate(replicas):
            if replica.down:
                continue
            work = prompt - reuse.affinity(index, rid) + replica.outstanding * prompt
            if work < best_work:
                best, best_work = index, work
        return best

    return choose


def window_overlap_s(start_s: float, stop_s: float, window_s: float) -> float:
    """Seconds of [start, stop) within [0, window)."""
    return max(0.0, min(stop_s, window_s) - max(start_s, 0.0))
