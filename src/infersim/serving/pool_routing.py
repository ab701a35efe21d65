"""Mixed fleets: one deployment's replicas in pools of different GPU types or regions,
each pool with its own price, and the policy that routes a request between the pools.

Cheapest first with spill-over: a request goes to the least-loaded replica of the cheapest
pool (by its marginal $/replica-hour: with reserved or spot capacity, the bill of its hours
above the commitment over all its hours, reserved hours being paid whether used or not, see
`economics.capacity.marginal_usd_per_gpu_hour`; else its GPU-hour's price) that has a
replica below its saturation (`PoolSpan.saturated_at`: outstanding requests,
the largest batch its GPU serves within the SLO's time per output token), else of the next
pool by price; when every replica is saturated it goes to the replica with the fewest
outstanding requests per unit of its saturation, over all pools (where it waits the
least). Replicas down (reclaimed spot) are skipped. The latency-aware policy is the engine's
`least_outstanding` balancer over all pools.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infersim.serving.cluster import Chooser
from infersim.serving.replica import Replica


@dataclass(frozen=True)
class PoolSpan:
    """A pool's replicas in the engine's replica list: indices `start` to `stop` (excluded)."""

    name: str
    start: int
    stop: int
    usd_per_replica_hour: float
    """Its marginal price per replica-hour (`MixedPool.usd_per_gpu_hour` x its GPUs)."""
    saturated_at: int
    """Outstanding requests at which a replica of the pool spills arrivals over (>= 1)."""


def cheapest_first(pools: Sequence[PoolSpan]) -> Chooser:
    """The cheapest-first chooser over `pools` (ties: the order given), among the replicas
    that are up (spot: the caller makes sure one is)."""
    order = sorted(range(len(pools)), key=lambda i: (pools[i].usd_per_replica_hour, i))
    spans = [(pools[i].start, pools[i].stop, pools[i].saturated_at) for i in order]
    limits = [1] * max(p.stop for p in pools)
    for pool in pools:
        limits[pool.start : pool.stop] = [pool.saturated_at] * (pool.stop - pool.start)

    def choose(replicas: list[Replica], rid: int) -> int:
        for start, stop, limit in spans:
            best, best_load = -1, math.inf
            for index in range(start, min(stop, len(replicas))):
                replica = replicas[index]
                load = replica.outstanding
                if load < limit and load < best_load and not replica.down:
                    best, best_load = index, load
            if best >= 0:
                return best
        best, least = 0, math.inf
        for index, replica in enumerate(replicas):
            relative = replica.outstanding / limits[index]
            if relative < least and not replica.down:
                best, least = index, relative
        return best

    return choose
