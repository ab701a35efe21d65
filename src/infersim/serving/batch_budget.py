"""How much batch (offline) work may run beside interactive work on one replica.

Hybrid online/offline serving (HyGen, ConServe, 2024-25) admits offline requests only while
the latency they add to the online ones stays within a budget, predicted for each iteration.
Here the predictor is the perf model itself (the step time the simulation then charges), and
the budget is a share of the iteration the interactive work would run alone:

    time(iteration with the batch work) <= (1 + slowdown_max) x time(interactive work alone)

- Decode: batch sequences decode in the same steps, so each step also reads their weights'
  share of compute and their KV cache. The sequences counted are those decoding plus those
  prefilling (they decode next): an interactive prompt being prefilled is judged by the
  decode steps it is about to join. Steps planned together (a decode segment) stop before
  one over the budget: batch contexts may grow faster than interactive ones.
- Prefill: a batch prompt's chunk joins an iteration only within the budget. Under chunked
  prefill the chunk is cut to the most tokens that fit; under prefill-first a whole prompt
  runs in a prefill-only iteration, which stalls the interactive sequences: it fits when the
  stall is within the budget of their decode step, or of the interactive prompts it joins.

With no interactive sequence on the replica (a trough) there is nothing to protect and
batch work runs freely; the replica enforces the budget (evicting batch sequences down to
it) whenever interactive work is there. An interactive request arriving in a trough waits,
as any arrival does, for the iteration in flight (a decode segment is cut at the step in
progress; a batch prefill chunk of up to max_batch_tokens runs to its end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from infersim.perf import PerfModel, chunk_context_tokens


@dataclass
class SlowdownBudget:
    """The budget of one replica's perf model; `chunked`: the chunked decode-first policy."""

    perf: PerfModel
    slowdown_max: float
    chunked: bool
    _alone: tuple[int, float, float] = field(default=(0, 0.0, 0.0), init=False, repr=False)
    """The last interactive decode step timed: its sequences, context sum and time limit
    (a replica asks again for the same one until its batch changes)."""

    def decode_fits(
        self, interactive_seqs: int, interactive_ctx: float, seqs: int, ctx: float
    ) -> bool:
        """Whether a decode step of `seqs` sequences (context sum `ctx`) takes at most the
        budget over the step of the interactive ones among them alone."""
        time_s = self.perf.iteration_time_s
        last_seqs, last_ctx, limit_s = self._alone
        if last_seqs != interactive_seqs or last_ctx != interactive_ctx:
            alone_s = time_s(0, 0, interactive_seqs, interactive_ctx)
            limit_s = alone_s * (1.0 + self.slowdown_max)
            self._alone = (interactive_seqs, interactive_ctx, limit_s)
        return time_s(0, 0, seqs, ctx) <= limit_s

    def prefill_fits(
        self,
        interactive: tuple[int, float, int, float],
        batch_tokens: int,
        batch_ctx: float,
        seqs: int,
        ctx: float,
    ) -> bool:
        """Whether an iteration that adds `batch_tokens` batch prompt tokens (context sum
        `batch_ctx`) to the interactive work stays within the budget. `interactive`: its
        prompt tokens, their context sum, its decoding sequences and their context sum;
        `seqs`, `ctx`: every decoding sequence (batch ones included)."""
        limit_s = self._limit_s(interactive)
        return self._with_s(interactive, batch_tokens, batch_ctx, seqs, ctx) <= limit_s

    def _alone_s(self, interactive: tuple[int, float, int, float]) -> float:
        """The time the interactive work takes alone (see `_with_s`)."""
        tokens, prompt_ctx, interactive_seqs, interactive_ctx = interactive
        time_s = self.perf.iteration_time_s
        if self.chunked:
            return time_s(tokens, prompt_ctx, interactive_seqs, interactive_ctx)
        if tokens:
            return time_s(tokens, prompt_ctx, 0, 0)
        return time_s(0, 0, interactive_seqs, interactive_ctx)

    def _limit_s(self, interactive: tuple[int, float, int, float]) -> float:
        return self._alone_s(interactive) * (1.0 + self.slowdown_max)

    def _with_s(
        self,
        interactive: tuple[int, float, int, float],
        batch_tokens: int,
        batch_ctx: float,
        seqs: int,
        ctx: float,
    ) -> float:
        tokens, prompt_ctx, interactive_seqs, interactive_ctx = interactive
        time_s = self.perf.iteration_time_s
        if self.chunked:  # one iteration: the prompts' chunks and every decoding sequence
            return time_s(tokens + batch_tokens, prompt_ctx + batch_ctx, seqs, ctx)
        if tokens:  # a prefill-only iteration, made longer
            return time_s(tokens + batch_tokens, prompt_ctx + batch_ctx, 0, 0)
        # a prefill-only iteration of batch prompts stalls the interactive decode step
        return time_s(0, 0, interactive_seqs, interactive_ctx) + time_s(
            batch_tokens, batch_ctx, 0, 0
        )

    def batch_chunk(
        self,
        interactive: tuple[int, float, int, float],
        batch: tuple[int, float],
        chunk: int,
        in_kv: int,
        seqs: int,
        ctx: float,
    ) -> int:
        """The most tokens, up to `chunk`, of a batch prompt with `in_kv` tokens in the KV
        cache that join an iteration already holding `batch` (its batch prompt tokens and
        their context sum) within the budget: under prefill-first the whole chunk or none.
        Else a search over the tokens (the time grows with them): from the top, the line
        through the last two times gives the guess (for a convex time, as a dense model's,
        never below the answer: a guess that fits and whose next does not is the answer),
        with halving when a guess gains less than half."""
        tokens, batch_ctx = batch
        limit_s = self._limit_s(interactive)

        def time_s(n: int) -> float:
            added = chunk_context_tokens(n, in_kv)
            return self._with_s(interactive, tokens + n, batch_ctx + added, seqs, ctx)

        high_s = time_s(chunk)
        if high_s <= limit_s:
            return chunk
        if not self.chunked or time_s(0) > limit_s:
            return 0
        low, high = 0, chunk  # low fits, high does not
        halve = False
        while high - low > 1:
            width = high - low
            below_s = time_s(high - 1)
            if below_s <= limit_s:
                return high - 1
            slope = high_s - below_s
            high, high_s = high - 1, below_s
            if high - low <= 1:
                break
            if halve or slope <= 0:
                middle = (low + high) // 2
            else:
                guess = high - math.ceil((high_s - limit_s) / slope)
                middle = min(max(guess, low + 1), high - 1)
            middle_s = time_s(middle)
            if middle_s > limit_s:
                high, high_s = middle, middle_s
            elif middle + 1 == high:
                return middle
            else:
                next_s = time_s(middle + 1)
                if next_s > limit_s:
                    return middle
                low = middle + 1
            halve = 2 * (high - low) > width
        return low
