"""One replica's continuous-batching scheduler (iteration-level batching, as in vLLM).

Each iteration, every decoding sequence emits `decode_tokens_per_step` tokens in expectation
(1, or the speculative-decoding figure); prefill work is admitted FCFS while sequence and KV
limits allow, in chunks within the per-iteration token budget (chunked prefill) or as whole
prompts in prefill-only iterations. KV memory is paged: a sequence holds its tokens in blocks
of `kv_block_tokens`, so it wastes at most one partial block; admission needs room for the
whole context, and when decode growth runs out of blocks the most recently admitted sequence
is preempted and later recomputed.

Cost grows with requests, not tokens: between admissions and completions the decode batch is
fixed, so its iterations are planned together as one *segment* (their cumulative times
computed at once by `DecodeTimer`: scalar arithmetic for short segments, numpy for long ones,
the same floats either way) and cut short only when an arrival lands on this replica.

Decode progress is counted in steps: a sequence that joined decode at step j has context
`base + e * (step - j)`; the replica keeps only sums over sequences, so a step costs O(1).

The scheduler policy is prefill-first (vLLM v0: waiting prompts run whole in prefill-only
iterations, which stall the decoding sequences) or chunked decode-first (Sarathi-Serve / vLLM
v1: every iteration runs all decoding sequences and fills the token budget with prefill
chunks). When requests carry priority ranks, the waiting queue is served highest rank first
(first come, first served within a rank), and a request that cannot be admitted preempts
decoding sequences of a lower rank (the lowest, most recently joined first).

With a batch slowdown budget (`serving.batch_budget`), the lowest ranks (batch classes) run
beside interactive work only within it: a batch request is admitted, and a batch prompt's
chunk joins an iteration, only while the predicted iteration stays within the budget; batch
sequences over it are preempted (the prefilling ones, then the decoding ones, of the lowest
rank and last admitted first) and recomputed later; prompts prefill interactive ones first;
an interactive request that finds no room preempts a prefilling batch sequence too, and
growth past the KV cache preempts batch sequences first. With no interactive sequence on the
replica (a trough) batch work runs freely. A batch arrival cuts a decode segment in flight
only when the batch request first in line (admitted first) fits the budget.

Inter-token latency (ITL, as vLLM's benchmark_serving defines it: the gap between consecutive
tokens of a request, over all tokens) follows exactly from the records: every decoding
sequence emits a token at the end of each step, so each step of a segment gives `n` gaps of
that step's time (`serving.summary.inter_token_gaps` recomputes them from the segment's
sequences and starting context). Only the tokens whose previous one came before their step
began (a prefill-only iteration ran in between: a stall) are recorded one by one, as the
extra time; and a preempted sequence's next token comes when its recompute finishes.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from infersim.perf import PerfModel, chunk_context_tokens
from infersim.perf.model import DecodeTimer
from infersim.serving.batch_budget import SlowdownBudget

#: Longest segment planned at once (steps); longer runs are planned in several pieces.
MAX_SEGMENT_STEPS = 2048


def _floats() -> array[float]:
    return array("d")


def _ints() -> array[int]:
    return array("q")


def _int32s() -> array[int]:
    return array("i")


@dataclass
class RequestTable:
    """Per-request inputs (views of the workload's arrays) and outcomes (typed arrays): 8
    bytes a value, no Python object each, fast scalar access; `np.asarray` reads them
    without a copy."""

    arrival_s: Sequence[float]
    prompt_tokens: Sequence[int]
    output_tokens: Sequence[int]
    cached_tokens: Sequence[int]
    rank: Sequence[int] | None = None
    """Per request, its scheduling rank (higher first); None: first come, first served."""
    first_token_s: array[float] = field(default_factory=_floats)
    finish_s: array[float] = field(default_factory=_floats)
    admit_s: array[float] = field(default_factory=_floats)
    emitted: array[int] = field(default_factory=_ints)
    preemptions: array[int] = field(default_factory=_ints)

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        self.first_token_s = array("d", [math.nan]) * n
        self.finish_s = array("d", [math.nan]) * n
        self.admit_s = array("d", [math.nan]) * n
        self.emitted = array("q", [0]) * n
        self.preemptions = array("q", [0]) * n


@dataclass
class ReplicaStats:
    """What a replica did: work, time, and the time-weighted batch and KV occupancy."""

    busy_s: float = 0.0
    prefill_s: float = 0.0
    weight_read_s: float = 0.0
    """Time reading weights at the achieved bandwidth (the experts touched, for an MoE)."""
    iterations: int = 0
    prefill_tokens: float = 0.0
    recomputed_tokens: float = 0.0
    decode_tokens: float = 0.0
    kv_read_token_steps: float = 0.0
    preemptions: int = 0
    rejected: int = 0
    batch_preemptions: int = 0
    """Of `preemptions`, those of batch classes' sequences."""
    batch_recomputed_tokens: float = 0.0
    """Of `recomputed_tokens`, those of batch classes' sequences."""
    batch_sizes: array[int] = field(default_factory=_ints)
    """Per iteration or decode segment (a record): its decode sequences, duration, KV share
    in use, and its work: the prompt tokens of a prefill iteration (>= 0), or minus the
    steps of a decode segment (< 0)."""
    batch_durations_s: array[float] = field(default_factory=_floats)
    kv_occupancy: array[float] = field(default_factory=_floats)
    batch_work: array[int] = field(default_factory=_int32s)
    segment_context: array[float] = field(default_factory=_floats)
    """Per decode segment of more than one step, in order: the decode context at its start."""
    itl_from_record: int = -1
    """The first record whose decode steps end within the measured window (-1: none yet)."""
    itl_late_record: array[int] = field(default_factory=_ints)
    """Tokens of a record's first step whose previous token came `itl_late_s` before the
    step began (a stall), and how many (`itl_late_tokens`)."""
    itl_late_s: array[float] = field(default_factory=_floats)
    itl_late_tokens: array[int] = field(default_factory=_ints)
    itl_gap_s: array[float] = field(default_factory=_floats)
    """Gaps outside decode steps (a preempted sequence's next token, from its recompute)."""


class RankedQueue:
    """A waiting queue served highest rank first, first come first served within a rank;
    the deque operations the replica uses."""

    def __init__(self, rank: Sequence[int], levels: int) -> None:
        self.rank = rank
        self.levels: list[deque[int]] = [deque() for _ in range(levels)]
        self.highest_first = self.levels[::-1]
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __getitem__(self, index: int) -> int:
        assert index == 0
        for level in self.highest_first:
            if level:
                return level[0]
        raise IndexError("empty queue")

    def _top(self) -> deque[int]:
        for level in self.highest_first:
            if level:
                return level
        raise IndexError("empty queue")

    def append(self, rid: int) -> None:
        self.levels[self.rank[rid]].append(rid)
        self.size += 1

    def appendleft(self, rid: int) -> None:
        self.levels[self.rank[rid]].appendleft(rid)
        self.size += 1

    def popleft(self) -> int:
        rid = self._top().popleft()
        self.size -= 1
        return rid


class Replica:
    """A replica's queue, running batch and KV cache; driven by the cluster's event loop."""

    def __init__(
        self,
        perf: PerfModel,
        table: RequestTable,
        chunked_prefill: bool,
        role: str = "mixed",
        itl_from_s: float = 0.0,
        batch_ranks: int = 0,
        batch_slowdown_max: float | None = None,
    ) -> None:
        self.perf = perf
        self.role = role  # "mixed"; or, disaggregated, "prefill" / "decode"
        self.handoffs: list[int] = []  # prefilled requests leaving for the decode pool
        self.arrived_with_kv: set[int] = set()  # handed-off requests: no prefill needed
        self.table = table
        self.chunked = chunked_prefill
        self.capacity = perf.kv_capacity_tokens
        self.block = perf.kv_block_tokens
        self.e = perf.decode_tokens_per_step
        self.verify = perf.verify_tokens
        self.max_seqs = perf.max_batch_sequences
        self.max_tokens = perf.max_batch_tokens
        self.stats = ReplicaStats()
        self.waiting: deque[int] | RankedQueue = deque()
        # priority between classes: decoding sequences per rank, to find whom to preempt
        self.rank: Sequence[int] = () if table.rank is None else table.rank
        self.rank_counts: list[int] | None = None
        if table.rank is not None:
            levels = max(table.rank, default=0) + 1
            self.waiting = RankedQueue(table.rank, levels)
            self.rank_counts = [0] * levels
        # batch classes: the ranks below `batch_ranks`; their decoding sequences' sums
        if (batch_ranks or batch_slowdown_max is not None) and self.rank_counts is None:
            raise ValueError("batch_ranks and batch_slowdown_max need ranked requests")
        self.batch_ranks = batch_ranks
        self.budget = (
            None
            if batch_slowdown_max is None
            else SlowdownBudget(perf, batch_slowdown_max, chunked_prefill)
        )
        self.capped = False  # the iteration being planned holds interactive work to protect
        self.nb = 0
        self.sb_base = 0.0
        self.sb_join = 0
        self.ip_seqs = 0  # with a budget: interactive prompts prefilling, their context sum
        self.ip_ctx = 0
        self.prefilling: list[int] = []
        self.todo: dict[int, int] = {}  # prompt tokens still to compute
        self.in_kv: dict[int, int] = {}  # tokens already in the KV cache, while prefilling
        self.reserved = 0  # KV tokens held by prefilling sequences
        self.step = 0
        self.n = 0
        self.s_base = 0.0
        self.s_join = 0
        self.decoding: dict[int, tuple[int, float]] = {}  # rid -> (join step, base context)
        self.finishes: list[tuple[int, int]] = []  # heap of (finish step, rid)
        self.outstanding = 0
        # the iteration or segment in flight
        self.busy = False
        self.start_s = 0.0
        self.end_s = 0.0
        self.seg_cum: list[float] | None = None  # the segment's cumulative step times
        self.timer = DecodeTimer(perf)
        target = perf.target
        self.weights_s, self.experts_s = target.weights_s, target.experts_s
        self.expert_miss = target.expert_miss
        self.seg_steps = 0
        self.finishing: list[int] = []  # prefills that complete with the current iteration
        self.version = 0
        # ITL: tokens emitted from this time on count; each decoding sequence's last token
        # came at the end of the last decode step, or (joined since) at its time in `pending`
        self.itl_from_s = itl_from_s
        self.itl_mark_s = itl_from_s
        self.last_emit_s = 0.0
        self.pending: dict[int, float] = {}
        self.pending_from_s = math.inf  # the earliest time in `pending`
        self.resume_from: dict[int, float] = {}  # preempted: when its last token came
        self.down = False  # a reclaimed spot replica, until its replacement serves

    # ----------------------------------------------------------------------------- state
    def decode_context(self) -> float:
        return self.s_base + self.e * (self.n * self.step - self.s_join)

    def kv_used(self) -> float:
        n = self.n
        return (
            self.reserved
            + (self.s_base + self.e * (n * self.step - self.s_join))
            + (n + len(self.prefilling)) * self.block
        )

    def kv_fraction(self) -> float:
        return self.kv_used() / self.capacity

    def decoded_so_far(self) -> dict[int, float]:
        """Per decoding sequence, the output tokens emitted by the last completed step (the
        table only records them when a sequence finishes or is preempted)."""
        return {
            rid: self.table.emitted[rid] + self.e * (self.step - join)
            for rid, (join, _) in self.decoding.items()
        }

    # ----------------------------------------------------------------------------- arrivals
    def enqueue(self, rid: int, now_s: float) -> bool:
        """Queue a request; True when the plan in flight changed (the caller reschedules)."""
        self.waiting.append(rid)
        self.outstanding += 1
        if self.seg_cum is None:
            return False
        if self.n + len(self.prefilling) >= self.max_seqs and not self._may_preempt_for(rid):
            return False
        if self.budget is not None and self._is_batch(rid):
            # admitted in queue order: a batch request first in line that is over the budget
            # blocks the arrival too, and one that is not would be admitted first
            first = self.waiting[0]
            if not self._batch_fits(first if self._is_batch(first) else rid):
                return False  # nothing to admit at the cut: nothing to replan
        # cut the decode segment at the end of the step in progress
        done = bisect_right(self.seg_cum, now_s - self.start_s)
        keep = min(done + 1, self.seg_steps)
        if keep == self.seg_steps:
            return False
        self.seg_steps = keep
        self.end_s = self.start_s + self.seg_cum[keep - 1]
        self.version += 1
        return True

    def _context_of(self, rid: int) -> int:
        """Tokens a (possibly preempted) request must hold in the KV cache when admitted."""
        return self.table.prompt_tokens[rid] + self.table.emitted[rid]

    def _admit(self, now_s: float) -> None:
        table = self.table
        waiting, prefilling = self.waiting, self.prefilling
        block, capacity = self.block, self.capacity
        budget = self.budget
        rank, batch_ranks = self.rank, self.batch_ranks  # with a budget, requests are ranked
        while waiting:
            rid = waiting[0]
            if budget is not None and rank[rid] < batch_ranks and not self._batch_fits(rid):
                break  # no interactive request waits behind a batch one
            if self.n + len(prefilling) >= self.max_seqs:
                if self._preempt_for(rid):
                    continue
                break
            need = table.prompt_tokens[rid] + table.emitted[rid]  # _context_of
            if need + 2 * block > capacity:
                waiting.popleft()  # can never fit: reject rather than block the queue
                self.outstanding -= 1
                self.stats.rejected += 1
                continue
            if self.kv_used() + need + block > capacity:
                if self._preempt_for(rid):
                    continue
                break
            waiting.popleft()
            if math.isnan(table.admit_s[rid]):
                table.admit_s[rid] = now_s
            if rid in self.arrived_with_kv:  # its KV cache came from the prefill pool
                self.arrived_with_kv.discard(rid)
                self._join(rid, need, table.first_token_s[rid])
                continue
            if budget is not None:
                self._queue_prefill(rid, need)
            else:
                prefilling.append(rid)
            self.reserved += need
            cached = min(table.cached_tokens[rid], need)
            self.todo[rid] = need - cached
            self.in_kv[rid] = cached
            if table.emitted[rid]:
                self._recomputed(rid, need - cached)

    def _victim(self, rid: int) -> int | None:
        """The decoding sequence a waiting `rid` may preempt: one of the lowest rank below
        its own, the most recently joined; None without priorities or such a sequence."""
        if self.rank_counts is None:
            return None
        return self._lowest_below(self.rank[rid])

    def _lowest_below(self, limit: int) -> int | None:
        """The decoding sequence of the lowest rank below `limit`, the most recently joined
        (None without one); with priorities."""
        counts = self.rank_counts
        assert counts is not None
        rank = self.rank
        lowest = next((r for r in range(min(limit, len(counts))) if counts[r]), None)
        if lowest is None:
            return None
        return next(v for v in reversed(self.decoding) if rank[v] == lowest)

    def _may_preempt_for(self, rid: int) -> bool:
        """Whether `rid` finds a sequence to preempt for room (`_preempt_for`)."""
        if self._victim(rid) is not None:
            return True
        if self.budget is None or self._is_batch(rid):
            return False
        return any(self._is_batch(other) for other in self.prefilling)

    def _preempt_for(self, rid: int) -> bool:
        """Preempt a lower-rank decoding sequence to make room for `rid` (with a batch
        budget, an interactive `rid` may also preempt a prefilling batch sequence); whether
        one was."""
        victim = self._victim(rid)
        if victim is None:
            if self.budget is None or self._is_batch(rid):
                return False
            found = self._batch_victim()
            if found is None:
                return False
            self._abort_prefill(found[0])  # no batch sequence decodes: a prefilling one
            return True
        join, base = self.decoding.pop(victim)
        self._evict(victim, join, base)
        return True

    # ----------------------------------------------------------------------------- planning
    def start(self, now_s: float) -> float | None:
        """Plan the next iteration or decode segment; its end time, or None when idle."""
        if self.waiting:
            self._admit(now_s)
        if self.budget is not None:
            self._hold_to_budget()
        if self.prefilling:
            end = self._start_prefill(now_s)
            if end is not None:
                return end
        if self.n == 0:
            self.busy = False
            return None
        return self._start_segment(now_s)

    def _start_prefill(self, now_s: float) -> float | None:
        """Plan a prefill iteration; None when the batch budget defers every prompt waiting
        to be prefilled while sequences decode (they run a decode segment instead)."""
        chunked = self.chunked
        decode_seqs = self.n if chunked and self.role != "prefill" else 0
        budget = self.max_tokens - decode_seqs * self.verify
        prefill_tokens = 0
        prefill_ctx = 0
        todos, in_kv = self.todo, self.in_kv
        finishing: list[int] = []
        interactive: tuple[int, float, int, float] | None = None  # its work, once known
        capped, spent = self.capped, False
        rank, batch_ranks = self.rank, self.batch_ranks
        for rid in self.prefilling:
            todo = todos[rid]
            chunk = todo if not chunked else min(todo, budget)
            if chunk <= 0 or (prefill_tokens and chunk > budget):
                break
            if capped and rank[rid] < batch_ranks:  # the interactive prompts come first
                if interactive is None:
                    batch_ctx = self.batch_context()
                    seqs_ctx = (self.n - self.nb, self.decode_context() - batch_ctx)
                    interactive = (prefill_tokens, prefill_ctx, *seqs_ctx)
                room = self._batch_chunk(interactive, prefill_tokens, prefill_ctx, chunk, rid)
                if room <= 0:
                    break
                spent = room < chunk  # the budget is spent: the prompts after this one wait
                chunk = room
            prefill_ctx += chunk_context_tokens(chunk, in_kv[rid])
            prefill_tokens += chunk
            in_kv[rid] += chunk
            todos[rid] = todo - chunk
            budget -= chunk
            if todo == chunk:
                finishing.append(rid)
            if spent:
                break
        self.finishing = finishing
        if not prefill_tokens and interactive is not None and self.n:
            return None  # batch prompts deferred: the decoding sequences run on
        decode_ctx = self.decode_context() if decode_seqs else 0.0
        perf = self.perf
        seconds = perf.iteration_time_s(prefill_tokens, prefill_ctx, decode_seqs, decode_ctx)
        decode_only = perf.iteration_time_s(0, 0, decode_seqs, decode_ctx) if decode_seqs else 0.0
        self.stats.prefill_s += seconds - decode_only  # the prefill's marginal time
        self._record(seconds, decode_seqs, decode_ctx, 1, prefill_tokens)
        self.stats.prefill_tokens += prefill_tokens
        self.seg_cum = None
        self.seg_steps = 1 if decode_seqs else 0
        return self._begin(now_s, seconds)

    def _start_segment(self, now_s: float) -> float:
        growth = self.n * self.e
        while True:
            free = self.capacity - self.kv_used()
            kv_steps = math.floor(free / growth) if growth > 0 else MAX_SEGMENT_STEPS
            if kv_steps >= 1 or self.n <= 1:
                break
            self._preempt_last()
            growth = self.n * self.e
        steps = max(1, min(self.finishes[0][0] - self.step, kv_steps, MAX_SEGMENT_STEPS))
        if self.capped and self.nb:
            steps = self._budget_steps(steps)
        ctx0 = self.decode_context()
        if steps == 1:
            seconds = self.perf.iteration_time_s(0, 0, self.n, ctx0)
            self.seg_cum = [seconds]
        else:
            self.seg_cum = self.timer.cumulative_s(self.n, ctx0, growth, steps)
            seconds = self.seg_cum[-1]
        self.seg_steps = steps
        self.finishing = []
        return self._begin(now_s, seconds)

    def _begin(self, now_s: float, seconds: float) -> float:
        self.busy = True
        self.start_s = now_s
        self.end_s = now_s + seconds
        self.version += 1
        return self.end_s

    def _record(
        self, seconds: float, seqs: int, ctx0: float, steps: int, prefill_tokens: int = 0
    ) -> None:
        stats = self.stats
        stats.busy_s += seconds
        stats.iterations += steps
        # weights read: the dense part, plus the experts this many tokens touch (an MoE)
        if self.experts_s:
            touched = 1.0 - self.expert_miss ** (seqs * self.verify + prefill_tokens)
            stats.weight_read_s += steps * (self.weights_s + self.experts_s * touched)
        else:
            stats.weight_read_s += steps * self.weights_s
        stats.batch_sizes.append(seqs)
        stats.batch_durations_s.append(seconds)
        stats.batch_work.append(-steps if steps > 1 or not prefill_tokens else prefill_tokens)
        stats.kv_occupancy.append(self.kv_used() / self.capacity)
        if seqs:
            e = self.e
            stats.decode_tokens += seqs * e * steps
            growth = seqs * e
            stats.kv_read_token_steps += steps * ctx0 + growth * steps * (steps - 1) / 2
            if steps > 1:
                stats.segment_context.append(ctx0)

    def _preempt_last(self) -> None:
        if self.budget is not None:  # batch sequences first
            victim = self._lowest_below(self.batch_ranks)
            if victim is not None:
                join, base = self.decoding.pop(victim)
                self._evict(victim, join, base)
                return
        rid, (join, base) = self.decoding.popitem()  # most recently joined
        self._evict(rid, join, base)

    def _evict(self, rid: int, join: int, base: float) -> None:
        """Preempt a decoding sequence (already out of `decoding`): it waits to be recomputed."""
        self.resume_from[rid] = self.pending.pop(rid, self.last_emit_s)
        if self.rank_counts is not None:
            self._ranked(rid, join, base, -1)
        self.n -= 1
        self.s_base -= base
        self.s_join -= join
        generated = math.floor(self.e * (self.step - join))
        self.table.emitted[rid] = min(
            self.table.emitted[rid] + generated, self.table.output_tokens[rid] - 1
        )
        self._preempted(rid)

    # ----------------------------------------------------------------------------- reclaim
    def reclaim(self, now_s: float) -> tuple[list[int], list[tuple[int, float | None]], int, int]:
        """The replica is lost (a spot reclaim) at `now_s`: the steps of a decode segment
        done by then complete; the iteration in flight is lost. Every request on it leaves
        (decoding, prefilling, then queued), its KV cache gone: returns the requests that
        completed, those leaving with when their last token came (None: none yet), and the
        KV tokens computed here that must be computed again, and how many requests were in
        flight (decoding or prefilling). The replica is left empty."""
        done: list[int] = []
        stats = self.stats
        if self.busy and self.seg_cum is not None:  # a decode segment: its steps done so far
            steps = bisect_right(self.seg_cum, now_s - self.start_s)
            ended_s = self.start_s
            if steps:
                self.seg_steps = steps
                ended_s = self.start_s + self.seg_cum[steps - 1]
                done = self.finish(ended_s)
            stats.busy_s += now_s - ended_s  # the step in progress, lost
        elif self.busy:  # an iteration with prefill work, cut at `now_s`
            lost_s = self.end_s - now_s
            seconds = stats.batch_durations_s[-1]
            seqs = stats.batch_sizes[-1]
            decode_s = (
                self.perf.iteration_time_s(0, 0, seqs, self.decode_context()) if seqs else 0.0
            )
            stats.busy_s -= lost_s
            stats.prefill_s -= lost_s * (1.0 - decode_s / seconds) if seconds > 0 else 0.0
            stats.batch_durations_s[-1] = seconds - lost_s
            stats.batch_sizes[-1] = 0  # its decode step never ended: no token came
        table = self.table
        leaving: list[tuple[int, float | None]] = []
        lost = 0
        in_flight = len(self.decoding) + len(self.prefilling)
        for rid, (join, _) in self.decoding.items():
            generated = math.floor(self.e * (self.step - join))
            emitted = min(table.emitted[rid] + generated, table.output_tokens[rid] - 1)
            table.emitted[rid] = emitted
            context = table.prompt_tokens[rid] + emitted
            lost += context - min(table.cached_tokens[rid], context)
            leaving.append((rid, self.pending.get(rid, self.last_emit_s)))
        for rid in self.prefilling:
            context = self._context_of(rid)
            lost += self.in_kv[rid] - min(table.cached_tokens[rid], context)
            leaving.append((rid, self.resume_from.pop(rid, None)))
        while self.waiting:
            rid = self.waiting.popleft()
            leaving.append((rid, self.resume_from.pop(rid, None)))
        self.decoding.clear()
        self.finishes.clear()
        self.prefilling.clear()
        self.todo.clear()
        self.in_kv.clear()
        self.pending.clear()
        self.resume_from.clear()
        self.arrived_with_kv.clear()
        self.pending_from_s = math.inf
        self.n = self.reserved = self.s_join = self.outstanding = self.seg_steps = 0
        self.s_base = 0.0
        self.nb = self.sb_join = self.ip_seqs = self.ip_ctx = 0  # the batch budget's sums
        self.sb_base = 0.0
        self.capped = False
        if self.rank_counts is not None:
            self.rank_counts = [0] * len(self.rank_counts)
        self.finishing = []
        self.seg_cum = None
        self.busy = False
        self.version += 1
        return done, leaving, lost, in_flight

    # ----------------------------------------------------------------------------- completion
    def finish(self, now_s: float) -> list[int]:
        """Complete the iteration or segment in flight; the requests that finished."""
        done: list[int] = []
        steps = self.seg_steps
        if self.seg_cum is not None:  # a decode segment, possibly cut short
            self._record(self.seg_cum[steps - 1], self.n, self.decode_context(), steps)
        if steps:  # the decoding sequences emitted a token (or e) at the end of each step
            pending = self.pending
            if self.last_emit_s != self.start_s or (pending and self.pending_from_s < self.start_s):
                self._late_tokens()
            elif pending:
                pending.clear()
                self.pending_from_s = math.inf
            if now_s >= self.itl_mark_s:  # the first within the measured window
                self.stats.itl_from_record = len(self.stats.batch_sizes) - 1
                self.itl_mark_s = math.inf
            self.last_emit_s = now_s
        self.step += steps
        finishes = self.finishes
        if finishes and finishes[0][0] <= self.step:
            self._complete_decodes(now_s, done)
        table = self.table
        budgeted = self.budget is not None  # then requests are ranked
        for rid in self.finishing:
            self.prefilling.remove(rid)
            context = table.prompt_tokens[rid] + table.emitted[rid]  # _context_of
            self.reserved -= context
            if budgeted and self.rank[rid] >= self.batch_ranks:
                self.ip_seqs -= 1
                self.ip_ctx -= context
            del self.todo[rid], self.in_kv[rid]
            if math.isnan(table.first_token_s[rid]):
                table.first_token_s[rid] = now_s
            else:  # a recompute after preemption: its next token comes now
                last = self.resume_from.pop(rid, now_s)
                if now_s >= self.itl_from_s:
                    self.stats.itl_gap_s.append(now_s - last)
            table.emitted[rid] += 1
            if table.output_tokens[rid] <= table.emitted[rid]:
                self._done(rid, now_s, done)
            elif self.role == "prefill":
                self.outstanding -= 1
                self.handoffs.append(rid)
            else:
                self._join(rid, context + 1, now_s)
        self.finishing = []
        self.seg_cum = None
        self.seg_steps = 0
        self.busy = False
        return done

    def _late_tokens(self) -> None:
        """Record the tokens of the step starting now whose previous token came earlier."""
        start = self.start_s
        stats = self.stats
        record = len(stats.batch_sizes) - 1
        pending = self.pending
        steady = self.n - len(pending)
        if steady and self.last_emit_s < start:
            stats.itl_late_record.append(record)
            stats.itl_late_s.append(start - self.last_emit_s)
            stats.itl_late_tokens.append(steady)
        for emitted_s in pending.values():
            if emitted_s < start:
                stats.itl_late_record.append(record)
                stats.itl_late_s.append(start - emitted_s)
                stats.itl_late_tokens.append(1)
        pending.clear()
        self.pending_from_s = math.inf

    def _join(self, rid: int, context: int, emitted_s: float) -> None:
        """Start decoding a request whose `context` tokens are in the KV cache and whose
        last token came at `emitted_s`."""
        remaining = self.table.output_tokens[rid] - self.table.emitted[rid]
        base = float(context)
        self.pending[rid] = emitted_s
        if emitted_s < self.pending_from_s:
            self.pending_from_s = emitted_s
        if self.rank_counts is not None:
            self._ranked(rid, self.step, base, 1)
        self.decoding[rid] = (self.step, base)
        self.n += 1
        self.s_base += base
        self.s_join += self.step
        heapq.heappush(self.finishes, (self.step + math.ceil(remaining / self.e), rid))

    def _complete_decodes(self, now_s: float, done: list[int]) -> None:
        finishes = self.finishes
        while finishes and finishes[0][0] <= self.step:
            finish_step, rid = heapq.heappop(finishes)
            entry = self.decoding.get(rid)
            if entry is None:
                continue  # preempted since: a stale entry
            join, base = entry
            if (
                join + math.ceil((self.table.output_tokens[rid] - self.table.emitted[rid]) / self.e)
                != finish_step
            ):
                continue
            del self.decoding[rid]
            if self.rank_counts is not None:
                self._ranked(rid, join, base, -1)
            self.n -= 1
            self.s_base -= base
            self.s_join -= join
            self.table.emitted[rid] = self.table.output_tokens[rid]
            self._done(rid, now_s, done)

    def _done(self, rid: int, now_s: float, done: list[int]) -> None:
        self.table.finish_s[rid] = now_s
        self.outstanding -= 1
        done.append(rid)

    # ----------------------------------------------------------------------------- batch work
    def _is_batch(self, rid: int) -> bool:
        return self.rank[rid] < self.batch_ranks if self.batch_ranks else False

    def batch_context(self) -> float:
        """The context sum of the decoding batch sequences."""
        return self.sb_base + self.e * (self.nb * self.step - self.sb_join)

    def _ranked(self, rid: int, join: int, base: float, sign: int) -> None:
        """Count a sequence joining (+1) or leaving (-1) decode in its rank's figures."""
        rank = self.rank[rid]
        assert self.rank_counts is not None
        self.rank_counts[rank] += sign
        if rank < self.batch_ranks:
            self.nb += sign
            self.sb_base += sign * base
            self.sb_join += sign * join

    def _preempted(self, rid: int) -> None:
        """Count a preemption; `rid` waits to be recomputed."""
        self.table.preemptions[rid] += 1
        self.stats.preemptions += 1
        if self._is_batch(rid):
            self.stats.batch_preemptions += 1
        self.waiting.appendleft(rid)

    def _recomputed(self, rid: int, tokens: float) -> None:
        self.stats.recomputed_tokens += tokens
        if self._is_batch(rid):
            self.stats.batch_recomputed_tokens += tokens

    def _prospective(self) -> tuple[int, float, int, float]:
        """The decode batch to come, prefilling sequences counted as decoding: the
        interactive sequences and their context sum, then every sequence and theirs."""
        decode_ctx = self.decode_context()
        return (
            self.n - self.nb + self.ip_seqs,
            decode_ctx - self.batch_context() + self.ip_ctx,
            self.n + len(self.prefilling),
            decode_ctx + self.reserved,
        )

    def _batch_fits(self, rid: int) -> bool:
        """Whether batch request `rid` may be admitted: in a trough, or when its decoding
        keeps the decode step to come within the budget (a prefill replica: always, its
        chunks are budgeted)."""
        assert self.budget is not None
        n, nb = self.n, self.nb
        seqs_i = n - nb + self.ip_seqs
        if not seqs_i or self.role == "prefill":
            return True
        # `_prospective`, inlined (the same floats): asked at every plan while batch waits
        e, step = self.e, self.step
        decode_ctx = self.s_base + e * (n * step - self.s_join)
        ctx_i = decode_ctx - (self.sb_base + e * (nb * step - self.sb_join)) + self.ip_ctx
        context = self.table.prompt_tokens[rid] + self.table.emitted[rid]  # _context_of
        ctx = decode_ctx + self.reserved + context
        return self.budget.decode_fits(seqs_i, ctx_i, n + len(self.prefilling) + 1, ctx)

    def _hold_to_budget(self) -> None:
        """Before planning: note whether interactive work is here, and preempt batch
        sequences until the decode step to come is within the budget."""
        assert self.budget is not None
        seqs_i = self.n - self.nb + self.ip_seqs
        self.capped = seqs_i > 0
        if not seqs_i or self.role == "prefill":
            return
        if not self.nb and len(self.prefilling) == self.ip_seqs:
            return  # no batch sequence here: nothing over the budget
        seqs_i, ctx_i, seqs, ctx = self._prospective()
        while seqs > seqs_i and not self.budget.decode_fits(seqs_i, ctx_i, seqs, ctx):
            found = self._batch_victim()
            if found is None:
                return
            victim, prefilling = found
            if prefilling:
                self._abort_prefill(victim)
            else:
                join, base = self.decoding.pop(victim)
                self._evict(victim, join, base)
            seqs_i, ctx_i, seqs, ctx = self._prospective()

    def _budget_steps(self, steps: int) -> int:
        """The steps, at most `steps`, of a decode segment whose last is within the budget:
        batch contexts may grow faster than interactive ones (the next plan preempts)."""
        budget = self.budget
        assert budget is not None
        n, seqs_i, e = self.n, self.n - self.nb, self.e
        ctx = self.decode_context()
        ctx_i = ctx - self.batch_context()
        if not seqs_i:
            return steps

        def fits(k: int) -> bool:  # the (k+1)-th step
            return budget.decode_fits(seqs_i, ctx_i + seqs_i * e * k, n, ctx + n * e * k)

        if fits(steps - 1):
            return steps
        if not fits(0):
            return 1
        low, high = 0, steps - 1  # low fits, high does not
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low + 1

    def _batch_victim(self) -> tuple[int, bool] | None:
        """The batch sequence to preempt first, and whether it is prefilling: of the lowest
        rank, a prefilling one (the last admitted) before a decoding one (the last joined)."""
        limit, rank, counts = self.batch_ranks, self.rank, self.rank_counts
        assert counts is not None
        decoding_rank = next((r for r in range(limit) if counts[r]), limit)
        best: int | None = None
        for rid in reversed(self.prefilling):
            level = rank[rid]
            if level < limit and level <= decoding_rank and (best is None or level < rank[best]):
                best = rid
        if best is not None:
            return best, True
        victim = self._lowest_below(limit)
        return None if victim is None else (victim, False)

    def _abort_prefill(self, rid: int) -> None:
        """Preempt a prefilling sequence: its chunks computed so far are recomputed later."""
        self.prefilling.remove(rid)
        need = self._context_of(rid)
        self.reserved -= need
        todo, in_kv = self.todo.pop(rid), self.in_kv.pop(rid)
        cached = min(self.table.cached_tokens[rid], need)
        # a first prefill's computed part is lost; a recompute counted whole is cut short
        self._recomputed(rid, in_kv - cached if not self.table.emitted[rid] else -todo)
        self._preempted(rid)

    def _queue_prefill(self, rid: int, context: int) -> None:
        """Add an admitted prompt (`context` tokens to hold) to the prefilling ones,
        interactive ones before batch ones."""
        prefilling = self.prefilling
        rank, batch_ranks = self.rank, self.batch_ranks  # with a budget: ranked requests
        if rank[rid] >= batch_ranks:
            self.ip_seqs += 1
            self.ip_ctx += context
            for index, other in enumerate(prefilling):
                if rank[other] < batch_ranks:
                    prefilling.insert(index, rid)
                    return
        prefilling.append(rid)

    def _batch_chunk(
        self,
        interactive: tuple[int, float, int, float],
        prefill_tokens: int,
        prefill_ctx: float,
        chunk: int,
        rid: int,
    ) -> int:
        """How much of `chunk` of batch prompt `rid` joins the iteration within the budget,
        after `prefill_tokens` (context sum `prefill_ctx`) planned so far."""
        assert self.budget is not None
        batch = (prefill_tokens - interactive[0], prefill_ctx - interactive[1])
        decode_seqs = self.n if self.chunked and self.role != "prefill" else 0
        decode_ctx = self.decode_context() if decode_seqs else 0.0
        return self.budget.batch_chunk(
            interactive, batch, chunk, self.in_kv[rid], decode_seqs, decode_ctx
        )
