"""N replicas of one deployment behind a load balancer: the discrete-event loop.

The engine owns its state: one event heap ordered by (time, sequence number), the replicas,
and the arrival stream. Events are replica iterations (or decode segments) ending; arrivals
are read in time order from the stream. A request goes to a replica chosen by the load
balancer when it arrives. The loop stops when every request has finished, or early with an
overload verdict when the backlog grows past what any latency figure could mean.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infersim.perf import PerfModel
from infersim.serving.interruptions import (
    ReclaimStats,
    SlotReclaims,
    SpotReclaims,
    prefix_aware_up,
    skipping_down,
    window_overlap_s,
)
from infersim.serving.prefix_reuse import BlockReuse
from infersim.serving.replica import Replica, RequestTable

#: Requests between two progress reports of a run (a multiple of 1,024).
PROGRESS_EVERY = 16_384
#: Backlog (requests waiting, per replica) past which a run is declared overloaded.
OVERLOAD_BACKLOG_PER_REPLICA = 20_000


@dataclass(frozen=True)
class ClusterRun:
    """The raw outcome of one event loop."""

    table: RequestTable
    replicas: list[Replica]
    end_s: float
    events: int
    overloaded_at_s: float | None
    active_replica_s: float
    """Replica-seconds provisioned (replicas x time each was up)."""
    kv_transfer_tokens: float = 0.0
    """Disaggregated: context tokens whose KV cache moved from the prefill to the decode pool."""
    kv_transfers: int = 0
    """Disaggregated: requests handed from the prefill to the decode pool."""
    reclaims: ReclaimStats | None = None
    """Spot: what the reclaims did (None without spot reclaims)."""


Chooser = Callable[[list[Replica], int], int]


def _round_robin(replicas: list[Replica], counter: int) -> int:
    return counter % len(replicas)


def _least_outstanding(replicas: list[Replica], counter: int) -> int:
    best, best_load = 0, math.inf
    for index, replica in enumerate(replicas):
        if replica.outstanding < best_load:
            best, best_load = index, replica.outstanding
    return best


def _least_kv(replicas: list[Replica], counter: int) -> int:
    best, best_load = 0, math.inf
    for index, replica in enumerate(replicas):
        load = replica.kv_fraction() + replica.outstanding * 1e-9 + len(replica.waiting)
        if load < best_load:
            best, best_load = index, load
    return best


BALANCERS: dict[str, Chooser] = {
    "round_robin": _round_robin,
    "least_outstanding": _least_outstanding,
    "least_kv": _least_kv,
}


def prefix_aware(reuse: BlockReuse) -> Chooser:
    """To the replica with the least estimated prefill work ahead of the request's first
    token: its uncached prompt tokens there, plus a prompt's worth per request already
    outstanding there (what Mooncake's scheduler weighs: cache reuse against queueing)."""

    def choose(replicas: list[Replica], rid: int) -> int:
        prompt = reuse.prompts[rid]
        best, best_work = 0, math.inf
        for index, replica in enumerate(replicas):
            work = prompt - reuse.affinity(index, rid) + replica.outstanding * prompt
            if work < best_work:
                best, best_work = index, work
        return best

    return choose


@dataclass(frozen=True)
class ReplicaSchedule:
    """How many replicas are up from each time on (autoscaling); a fixed fleet has one step.

    An autoscaled disaggregated fleet gives each step's prefill pool in `prefill_counts`
    (`counts` stays the whole fleet: the decode pool is the rest); the two pools' replicas
    are separate slots, the prefill pool's `prefill_peak` first."""

    times_s: Sequence[float]
    counts: Sequence[int]
    prefill_counts: Sequence[int] | None = None

    def count_at(self, t_s: float) -> int:
        index = int(np.searchsorted(np.asarray(self.times_s), t_s, side="right")) - 1
        return int(self.counts[max(index, 0)])

    @property
    def peak(self) -> int:
        return max(self.counts)

    @property
    def prefill_peak(self) -> int:
        """The prefill pool's most replicas at once (0: no per-pool schedule)."""
        return max(self.prefill_counts) if self.prefill_counts is not None else 0

    @property
    def decode_counts(self) -> list[int]:
        """Per step, the decode pool's replicas (per-pool schedules only)."""
        assert self.prefill_counts is not None
        return [c - p for c, p in zip(self.counts, self.prefill_counts, strict=True)]

    @property
    def slots(self) -> int:
        """Replicas the engine holds: the peak, or with per-pool schedules each pool's peak
        (the pools peak at different times)."""
        if self.prefill_counts is None:
            return self.peak
        return self.prefill_peak + max(self.decode_counts)


def run_cluster(
    perf: PerfModel,
    arrival_s: NDArray[np.float64],
    prompt_tokens: NDArray[np.int64],
    output_tokens: NDArray[np.int64],
    cached_tokens: NDArray[np.int64],
    schedule: ReplicaSchedule,
    load_balancer: str,
    chunked_prefill: bool,
    horizon_s: float,
    prefill_replicas: int = 0,
    kv_transfer_s_per_token: float = 0.0,
    progress: Callable[[float], None] | None = None,
    prefill_perf: PerfModel | None = None,
    reuse: BlockReuse | None = None,
    rank: NDArray[np.int64] | None = None,
    itl_from_s: float = 0.0,
    replica_perfs: Sequence[PerfModel] | None = None,
    chooser: Chooser | None = None,
    batch_ranks: int = 0,
    batch_slowdown_max: float | None = None,
    spot: SpotReclaims | None = None,
) -> ClusterRun:
    """Simulate the requests on the replicas until all finish (or overload).

    With `prefill_replicas` > 0 the fleet is disaggregated: that many replicas only prefill,
    and each prefilled request's KV cache moves to a decode replica, taking
    `kv_transfer_s_per_token` per token of context, before it decodes there; the prefill
    replicas run `prefill_perf` (their own parallelism) when given. `progress`, if given,
    hears the share of the requests that have arrived, every `PROGRESS_EVERY` of them.
    With `reuse`, requests with prefix block hashes find their cached tokens in the caches of
    the replica they reach (after loading lower-tier KV), and fill them when they complete.
    `rank`, if given, is each request's scheduling rank (higher first, may preempt lower);
    inter-token gaps are recorded from `itl_from_s` on. A mixed fleet (fixed, not
    disaggregated) gives each replica its own model in `replica_perfs` and routes arrivals
    with `chooser` in place of `load_balancer` (see `serving.pool_routing`). The ranks below
    `batch_ranks` are batch classes; `batch_slowdown_max`, if given, is the share by which
    their work may lengthen a replica's iterations beside interactive work
    (`serving.batch_budget`). With `spot`, replicas are reclaimed and replaced as
    `serving.interruptions` describes (a fleet that is not disaggregated; a mixed fleet's
    `chooser` must skip the replicas that are down).
    """
    table = RequestTable(
        _view(arrival_s, np.float64),
        _view(prompt_tokens, np.int64),
        _view(output_tokens, np.int64),
        _view(cached_tokens if reuse is None else reuse.cached, np.int64),
        None if rank is None else _view(rank, np.int64),
    )
    pooled = schedule.prefill_counts is not None
    if pooled:  # each pool follows its own schedule: the prefill pool's slots first
        prefill_replicas = schedule.prefill_peak
    roles = ["prefill"] * prefill_replicas + ["decode" if prefill_replicas else "mixed"] * (
        schedule.slots - prefill_replicas
    )
    prefill_model = prefill_perf if prefill_perf is not None else perf
    if replica_perfs is not None:
        if pooled or prefill_replicas or len(replica_perfs) != len(roles):
            raise ValueError("replica_perfs: one model per replica of a fixed, mixed fleet")
        models = list(replica_perfs)
    else:
        models = [prefill_model if role == "prefill" else perf for role in roles]
    replicas = [
        Replica(model, table, chunked_prefill, role, itl_from_s, batch_ranks, batch_slowdown_max)
        for model, role in zip(models, roles, strict=True)
    ]
    transfer_tokens, transfers = 0.0, 0
    decode_counts = schedule.decode_counts if pooled else None
    decode_pool = replicas[prefill_replicas:]
    if chooser is not None:
        choose = chooser
    elif load_balancer == "prefix_aware":
        choose = prefix_aware(reuse) if reuse is not None else _least_outstanding
    else:
        choose = BALANCERS[load_balancer]
    heap: list[tuple[float, int, int, int]] = []
    seq = 0
    events = 0
    times = table.arrival_s
    n_requests = len(times)
    next_index = 0
    change_times = [*schedule.times_s[1:], math.inf]
    change_pointer = 0
    active = schedule.count_at(0.0)
    pool = replicas[:prefill_replicas] if prefill_replicas else replicas[:active]
    if schedule.prefill_counts is not None and decode_counts is not None:
        pool = replicas[: schedule.prefill_counts[0]]
        decode_pool = replicas[prefill_replicas : prefill_replicas + decode_counts[0]]
    limit = OVERLOAD_BACKLOG_PER_REPLICA * schedule.slots
    overloaded_at: float | None = None
    now = 0.0
    inf = math.inf
    heappush, heappop = heapq.heappush, heapq.heappop
    # spot: reclaim candidates and replacements, in time order; requests waiting for a
    # replica to come back; each slot's end of replacement; loads aimed at a lost replica
    control: list[tuple[float, int, int]] = []
    parked: list[tuple[int, float | None, bool]] = []  # (request, last token, never admitted)
    down_until = [-inf] * len(replicas)
    down = [0]  # replicas down now
    lost_loads: set[int] = set()
    reclaimed = ReclaimStats(spot.rate_per_replica_s if spot is not None else 0.0)
    up_choose = choose
    streams: list[np.random.Generator] = []  # spot: each slot's reclaims
    if spot is not None:
        if prefill_replicas:
            raise ValueError("spot reclaims: a fleet that is not disaggregated")
        if chooser is not None:  # a mixed fleet's pool routing skips replicas down itself
            up_choose = chooser
        elif load_balancer == "prefix_aware" and reuse is not None:
            up_choose = prefix_aware_up(reuse)
        else:
            up_choose = skipping_down(choose)
        streams = spot.streams(schedule.slots)
        reclaimed.by_slot = [SlotReclaims(spot.rate_of(slot)) for slot in range(len(streams))]
        for slot, stream in enumerate(streams):
            heappush(control, (spot.next_after(stream, 0.0, slot), slot, 1))
    t_control = min(change_times[0], control[0][0] if control else inf)

    def dispatch(rid: int, at_s: float, resume_s: float | None, fresh: bool = False) -> None:
        """A request leaving a reclaimed replica, or arriving (`fresh`) or waiting while
        none is up: to a replica up, or to wait for one."""
        nonlocal seq
        if down[0] and all(r.down for r in pool):
            parked.append((rid, resume_s, fresh))
            return
        target = up_choose(pool, rid)
        if resume_s is not None:  # its last token came then: the next one's gap counts it
            replicas[target].resume_from[rid] = resume_s
        load_s = 0.0
        if reuse is not None:
            load_s = reuse.admit(target, rid) if fresh else reuse.readmit(target, rid)
        if load_s > 0:
            seq += 1
            heappush(heap, (at_s + load_s, seq, -1 - n_requests - rid, 0))
        else:
            seq = _enqueue(heap, seq, replicas[target], target, rid, at_s)

    while True:
        t_arrival = times[next_index] if next_index < n_requests else inf
        t_event = heap[0][0] if heap else inf
        t_change = t_control
        if t_change <= t_arrival and t_change <= t_event and t_change < inf:
            if control and control[0][0] < change_times[change_pointer]:
                assert spot is not None
                if next_index >= n_requests and not heap and not parked:
                    break  # every request has finished: no more reclaims to simulate
                t, slot, kind = heappop(control)
                if kind == 1:  # a slot's reclaim: its next one, and this one if it is up
                    heappush(control, (spot.next_after(streams[slot], t, slot), slot, 1))
                    if slot < active:
                        _reclaim(replicas, slot, t, spot, down_until, down, reclaimed, reuse,
                                 lost_loads, control, dispatch)  # fmt: skip
                elif down_until[slot] == t:  # its replacement serves, empty
                    replicas[slot].down = False
                    down[0] -= 1
                    waiting, parked[:] = list(parked), []
                    for rid, resume_s, fresh in waiting:
                        dispatch(rid, t, resume_s, fresh)
                t_control = min(change_times[change_pointer], control[0][0] if control else inf)
                continue
            active = int(schedule.counts[change_pointer + 1])
            change_pointer += 1
            pool = replicas[:prefill_replicas] if prefill_replicas else replicas[:active]
            if schedule.prefill_counts is not None and decode_counts is not None:
                pool = replicas[: schedule.prefill_counts[change_pointer]]
                decode_pool = replicas[
                    prefill_replicas : prefill_replicas + decode_counts[change_pointer]
                ]
            t_control = min(change_times[change_pointer], control[0][0] if control else inf)
            if parked:  # a replica added by the schedule may be up
                waiting, parked[:] = list(parked), []
                for rid, resume_s, fresh in waiting:
                    dispatch(rid, t_change, resume_s, fresh)
            continue
        if t_event <= t_arrival:
            if t_event == inf:
                break
            now, _, index, version = heappop(heap)
            events += 1
            if index < -n_requests and reuse is not None:  # a request's cached KV has loaded
                rid = -1 - n_requests - index
                target = reuse.loading.pop(rid)
                if lost_loads and rid in lost_loads:  # its replica was reclaimed meanwhile
                    lost_loads.discard(rid)
                    dispatch(rid, now, None)
                    continue
                seq = _enqueue(heap, seq, replicas[target], target, rid, now)
                continue
            if index < 0:  # a prefilled request's KV cache reaches the decode pool
                rid = -1 - index
                target = prefill_replicas + choose(decode_pool, rid)
                decode = replicas[target]
                decode.arrived_with_kv.add(rid)
                seq = _enqueue(heap, seq, decode, target, rid, now)
                continue
            replica = replicas[index]
            if version != replica.version:
                continue
            done = replica.finish(now)
            if reuse is not None:
                reuse.complete(index, done)
                reuse.complete(index, replica.handoffs)
            if replica.handoffs:
                for rid in replica.handoffs:
                    seq += 1
                    context = table.prompt_tokens[rid] + table.emitted[rid]
                    transfer_tokens += context
                    transfers += 1
                    ready = now + context * kv_transfer_s_per_token
                    heappush(heap, (ready, seq, -1 - rid, 0))
                replica.handoffs.clear()
            end = replica.start(now)
            if end is not None:
                seq += 1
                heappush(heap, (end, seq, index, replica.version))
            continue
        now = t_arrival
        events += 1
        if spot is not None and (parked or down[0]):  # among the replicas up, or to wait
            dispatch(next_index, now, None, fresh=True)
        else:
            index = choose(pool, next_index) if len(pool) > 1 else 0
            load_s = reuse.admit(index, next_index) if reuse is not None else 0.0
            if load_s > 0:  # its cached KV loads from a lower tier before it queues
                seq += 1
                heappush(heap, (now + load_s, seq, -1 - n_requests - next_index, 0))
            else:
                seq = _enqueue(heap, seq, replicas[index], index, next_index, now)
        next_index += 1
        if next_index % 1024 == 0:
            if sum(len(r.waiting) for r in replicas) > limit:
                overloaded_at = now
                break
            if progress is not None and next_index % PROGRESS_EVERY == 0:
                progress(next_index / n_requests)
    end_s = max(now, horizon_s)
    up_s = _replica_seconds(schedule, end_s)
    return ClusterRun(
        table, replicas, end_s, events, overloaded_at, up_s, transfer_tokens, transfers,
        reclaimed if spot is not None else None,
    )  # fmt: skip


def _reclaim(
    replicas: list[Replica],
    slot: int,
    t_s: float,
    spot: SpotReclaims,
    down_until: list[float],
    down: list[int],
    stats: ReclaimStats,
    reuse: BlockReuse | None,
    lost_loads: set[int],
    control: list[tuple[float, int, int]],
    dispatch: Callable[[int, float, float | None], None],
) -> None:
    """Replica `slot` is reclaimed at `t_s` (see `serving.interruptions`)."""
    replica = replicas[slot]
    counted = t_s < spot.window_s
    until = t_s + spot.lag_of(slot)
    own = stats.by_slot[slot]
    if counted:
        down_s = window_overlap_s(max(t_s, down_until[slot]), until, spot.window_s)
        own.reclaims += 1
        own.down_replica_s += down_s
    down_until[slot] = until
    heapq.heappush(control, (until, slot, 0))
    if replica.down:  # its replacement, still booting, is reclaimed: the lag starts again
        return
    _, leaving, lost, in_flight = replica.reclaim(t_s)
    replica.down = True
    down[0] += 1
    if reuse is not None:  # its caches are lost with it (its last completions too)
        reuse.go_cold(slot)
        lost_loads.update(rid for rid, target in reuse.loading.items() if target == slot)
    if counted:
        own.requests_moved += len(leaving)
        own.requests_recomputed += in_flight
        own.recomputed_tokens += lost
    for rid, resume_s in leaving:
        dispatch(rid, t_s, resume_s)


def _view(values: NDArray[Any], dtype: type[np.generic]) -> memoryview:
    """A numpy vector read as Python numbers, without a copy (fast scalar access)."""
    return np.ascontiguousarray(values, dtype=dtype).data.toreadonly()


def _enqueue(
    heap: list[tuple[float, int, int, int]],
    seq: int,
    replica: Replica,
    index: int,
    rid: int,
    now: float,
) -> int:
    """Queue a request on a replica; start it if idle, reschedule it if its plan changed."""
    changed = replica.enqueue(rid, now)
    if not replica.busy:
        changed = replica.start(now) is not None
    if changed:
        seq += 1
        heapq.heappush(heap, (replica.end_s, seq, index, replica.version))
    return seq


def _replica_seconds(schedule: ReplicaSchedule, end_s: float) -> float:
    total = 0.0
    bounds = [*schedule.times_s, math.inf]
    for index, count in enumerate(schedule.counts):
        start, stop = bounds[index], min(bounds[index + 1], end_s)
        if stop > start:
            total += count * (stop - start)
    return total
