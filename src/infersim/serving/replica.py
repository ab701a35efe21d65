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
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __getitem__(self, index: int) -> int:
        assert index == 0
        return self._top()[0]

    def _top(self) -> deque[int]:
        for level in reversed(self.levels):
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
        if self.n + len(self.prefilling) >= self.max_seqs and self._victim(rid) is None:
            return False
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
        while waiting:
            rid = waiting[0]
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
            prefilling.append(rid)
            self.reserved += need
            cached = min(table.cached_tokens[rid], need)
            self.todo[rid] = need - cached
            self.in_kv[rid] = cached
            if table.emitted[rid]:
                self.stats.recomputed_tokens += need - cached

    def _victim(self, rid: int) -> int | None:
        """The decoding sequence a waiting `rid` may preempt: one of the lowest rank below
        its own, the most recently joined; None without priorities or such a sequence."""
        counts = self.rank_counts
        if counts is None:
            return None
        rank = self.rank
        lowest = next((r for r in range(rank[rid]) if counts[r]), None)
        if lowest is None:
            return None
        return next(v for v in reversed(self.decoding) if rank[v] == lowest)

    def _preempt_for(self, rid: int) -> bool:
        """Preempt a lower-rank decoding sequence to make room for `rid`; whether one was."""
        victim = self._victim(rid)
        if victim is None:
            return False
        join, base = self.decoding.pop(victim)
        self._evict(victim, join, base)
        return True

    # ----------------------------------------------------------------------------- planning
    def start(self, now_s: float) -> float | None:
        """Plan the next iteration or decode segment; its end time, or None when idle."""
        if self.waiting:
            self._admit(now_s)
        if self.prefilling:
            return self._start_prefill(now_s)
        if self.n == 0:
            self.busy = False
            return None
        return self._start_segment(now_s)

    def _start_prefill(self, now_s: float) -> float:
        chunked = self.chunked
        decode_seqs = self.n if chunked and self.role != "prefill" else 0
        budget = self.max_tokens - decode_seqs * self.verify
        prefill_tokens = 0
        prefill_ctx = 0
        todos, in_kv = self.todo, self.in_kv
        finishing: list[int] = []
        for rid in self.prefilling:
            todo = todos[rid]
            chunk = todo if not chunked else min(todo, budget)
            if chunk <= 0 or (prefill_tokens and chunk > budget):
                break
            prefill_ctx += chunk_context_tokens(chunk, in_kv[rid])
            prefill_tokens += chunk
            in_kv[rid] += chunk
            todos[rid] = todo - chunk
            budget -= chunk
            if todo == chunk:
                finishing.append(rid)
        self.finishing = finishing
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
        rid, (join, base) = self.decoding.popitem()  # most recently joined
        self._evict(rid, join, base)

    def _evict(self, rid: int, join: int, base: float) -> None:
        """Preempt a decoding sequence (already out of `decoding`): it waits to be recomputed."""
        self.resume_from[rid] = self.pending.pop(rid, self.last_emit_s)
        if self.rank_counts is not None:
            self.rank_counts[self.rank[rid]] -= 1
        self.n -= 1
        self.s_base -= base
        self.s_join -= join
        generated = math.floor(self.e * (self.step - join))
        self.table.emitted[rid] = min(
            self.table.emitted[rid] + generated, self.table.output_tokens[rid] - 1
        )
        self.table.preemptions[rid] += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(rid)

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
        for rid in self.finishing:
            self.prefilling.remove(rid)
            context = self._context_of(rid)
            self.reserved -= context
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
            self.rank_counts[self.rank[rid]] += 1
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
                self.rank_counts[self.rank[rid]] -= 1
            self.n -= 1
            self.s_base -= base
            self.s_join -= join
            self.table.emitted[rid] = self.table.output_tokens[rid]
            self._done(rid, now_s, done)

    def _done(self, rid: int, now_s: float, done: list[int]) -> None:
        self.table.finish_s[rid] = now_s
        self.outstanding -= 1
        done.append(rid)
