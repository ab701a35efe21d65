"""How much batch (offline) work may run beside interactive work on one replica.

Hybrid online/offline serving (HyGen, ConServe, 2024-25) admits offline requests only while
the latency they add to the online ones stays within a budget, predicted for each iteration.
Here the predictor is the perf model itself (the step time the simulation then charges), and
the budget is a share of the iteration the interactive work would run alone:

    time(iteration with the batch work) <= (1 + slowdown_max) x time(interactive work alone)

- Decode: batch sequences decode in the same steps, so each step also reads their weights'
  share of compute and their KV cache. The sequences counted are those decoding plus those
  prefilling (they decode next): an interactive prompt being prefilled is judged by the
  decode steps it is about to join.
- Prefill: a batch prompt's chunk joins an iteration only within the budget. Under chunked
  prefill the chunk is cut to the most tokens that fit; under prefill-first a whole prompt
  runs in a prefill-only iteration, which stalls the interactive sequences: it fits when the
  stall is within the budget of their decode step, or of the interactive prompts it joins.

With no interactive sequence on the replica (a trough) there is nothing to protect and
batch work runs freely; the replica enforces the budget (evicting batch sequences down to
it) whenever interactive work is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.perf import PerfModel, chunk_context_tokens


@dataclass(frozen=True)
class SlowdownBudget:
    """The budget of one replica's perf model; `chunked`: the chunked decode-first policy."""

    perf: PerfModel
    slowdown_max: float
    chunked: bool

    def decode_fits(
        self, interactive_seqs: int, interactive_ctx: float, seqs: int, ctx: float
    ) -> bool:
        """Whether a decode step of `seqs` sequences (context sum `ctx`) takes at most the
        budget over the step of the interactive ones among them alone."""
        time_s = self.perf.iteration_time_s
        alone_s = time_s(0, 0, interactive_seqs, interactive_ctx)
        return time_s(0, 0, seqs, ctx) <= alone_s * (1.0 + self.slowdown_max)

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
        tokens, prompt_ctx, interactive_seqs, interactive_ctx = interactive
        time_s = self.perf.iteration_time_s
        if self.chunked:  # one iteration: the prompts' chunks and every decoding sequence
            alone_s = time_s(tokens, prompt_ctx, interactive_seqs, interactive_ctx)
            with_s = time_s(tokens + batch_tokens, prompt_ctx + batch_ctx, seqs, ctx)
        elif tokens:  # a prefill-only iteration, made longer
            alone_s = time_s(tokens, prompt_ctx, 0, 0)
            with_s = time_s(tokens + batch_tokens, prompt_ctx + batch_ctx, 0, 0)
        else:  # a prefill-only iteration of batch prompts stalls the interactive decode step
            alone_s = time_s(0, 0, interactive_seqs, interactive_ctx)
            with_s = alone_s + time_s(batch_tokens, batch_ctx, 0, 0)
        return with_s <= alone_s * (1.0 + self.slowdown_max)

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
        their context sum) within the budget: under prefill-first the whole chunk or none,
        else found by bisection (the time grows with the tokens)."""
        tokens, batch_ctx = batch

        def fits(n: int) -> bool:
            added = chunk_context_tokens(n, in_kv)
            return self.prefill_fits(interactive, tokens + n, batch_ctx + added, seqs, ctx)

        if fits(chunk):
            return chunk
        if not self.chunked or not fits(0):
            return 0
        low, high = 0, chunk  # fits(low), not fits(high)
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low
