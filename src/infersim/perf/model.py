"""`PerfModel`: one deployment's constants, precomputed, and the iteration time over them.

The engine calls `iteration_time_s` (or `iteration_times_s` over arrays) once per engine
iteration with the work that iteration does:

- `prefill_tokens`: new prompt tokens computed this iteration. Tokens served from the prefix
  cache are not computed: pass only the rest (`computed_prompt_tokens` gives the share).
- `prefill_context_tokens`: the sum, over those prompt tokens, of the context each attends to
  (itself and everything before it, cached prefix included). For a chunk of n tokens after p
  tokens already in the KV cache that is n*p + n(n+1)/2: `chunk_context_tokens(n, p)`. Summed
  over tokens, it makes the attention FLOPs exact for any mix of chunks.
- `decode_seqs`: sequences generating this iteration.
- `decode_context_tokens`: the sum of those sequences' context lengths.

With speculative decoding every decode sequence verifies gamma + 1 tokens and the time
includes drafting; each sequence then emits `decode_tokens_per_step` tokens on average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infersim.perf.efficiency import Efficiency
from infersim.perf.memory import SequenceCapSource
from infersim.perf.roofline import Bound, DecodeTerms, Parts, Roofline

if TYPE_CHECKING:  # numpy is imported where arrays are computed: building a model needs none
    from numpy.typing import ArrayLike

    from infersim.perf.roofline import FloatArray

#: Decode segments up to this many steps are timed with scalar arithmetic, longer ones with
#: numpy (its fixed cost per call, ~7 us, is that of some 60 scalar steps).
SCALAR_SEGMENT_STEPS = 64


@dataclass(frozen=True, slots=True)
class IterationBreakdown:
    """Where one iteration's time goes. compute_s + memory_s + communication_s + overhead_s
    == total_s: each kernel phase (linear layers, attention; the draft's included) counts as
    compute or memory time by whichever limits it."""

    total_s: float
    compute_s: float
    memory_s: float
    communication_s: float
    overhead_s: float
    linear_s: float
    attention_s: float
    draft_s: float
    bound: Bound


@dataclass(frozen=True, slots=True)
class PerfModel:
    """A deployment (model, GPU, parallelism, precision, speculation) ready to be timed."""

    model_id: str
    gpu_id: str
    precision_label: str
    tensor_parallel: int
    expert_parallel: int
    gpus_per_replica: int
    weight_bytes_per_gpu: float
    """Weights on each GPU (the draft model's included)."""
    reserve_bytes_per_gpu: float
    """Activations and workspace set aside on each GPU."""
    usable_bytes_per_gpu: float
    """memory x gpu_memory_utilization."""
    kv_bytes_per_token: float
    """Replica memory one cached token takes, all layers, draft included, replicas across
    tensor-parallel ranks included (GQA heads when kv_heads < tp, the MLA latent always)."""
    kv_capacity_tokens: int
    """Tokens the replica's KV cache holds."""
    kv_capacity_tokens_per_group: int
    kv_free_bytes_per_gpu: float
    """Memory left for KV cache (and recurrent state) on each GPU."""
    kv_bytes_per_token_per_gpu: float
    state_bytes_per_sequence_per_gpu: float
    """Hybrid models: one sequence's linear-attention state on each GPU of its group."""
    max_batch_sequences: int
    """Cap on sequences running at once: the scenario's, or derived from the replica."""
    max_batch_sequences_source: SequenceCapSource
    """'scenario' (given), or the limit that binds the derived cap: 'kv_blocks' (every
    running sequence holds one KV block at least) or 'token_budget' (max_batch_tokens over
    the verify_tokens each decode sequence computes per iteration)."""
    max_batch_tokens: int
    kv_block_tokens: int
    decode_tokens_per_step: float
    """Expected tokens each decode sequence emits per iteration: 1, or the speculative
    (1 - alpha^(gamma+1)) / (1 - alpha)."""
    verify_tokens: int
    """Tokens each decode sequence computes per iteration: 1, or gamma + 1."""
    draft_steps: int
    """gamma, or 0 without speculation."""
    quality_penalty: float
    prefix_cached_share: float
    efficiency: Efficiency
    peak_flops_per_gpu: float
    """Dense peak of the GEMM format in use: the roofline's compute ceiling."""
    peak_bandwidth_bytes_per_s: float
    target: Roofline
    draft: Roofline | None
    draft_prefills: bool
    """A draft model also prefills the prompts; draft-free methods do not."""

    def max_sequences(self, context_tokens: int) -> int:
        """Sequences of `context_tokens` each that fit together, within max_batch_sequences."""
        block = self.kv_block_tokens
        tokens = math.ceil(max(context_tokens, 0) / block) * block
        per_sequence = tokens * self.kv_bytes_per_token_per_gpu
        per_sequence += self.state_bytes_per_sequence_per_gpu
        if per_sequence <= 0:
            return self.max_batch_sequences
        free = max(self.kv_free_bytes_per_gpu, 0.0)
        fitting = math.floor(free / per_sequence) * self.expert_parallel
        return min(self.max_batch_sequences, fitting)

    def computed_prompt_tokens(self, prompt_tokens: float) -> float:
        """Prompt tokens prefill computes once the cached prefix share is skipped."""
        return prompt_tokens * (1.0 - self.prefix_cached_share)

    def iteration_time_s(
        self,
        prefill_tokens: float,
        prefill_context_tokens: float,
        decode_seqs: float,
        decode_context_tokens: float,
    ) -> float:
        """Seconds for one engine iteration (see the module docstring for the arguments)."""
        seconds = self.target.time_s(
            prefill_tokens,
            prefill_context_tokens,
            decode_seqs,
            decode_context_tokens,
            self.verify_tokens,
        )
        draft = self.draft
        if draft is not None:
            if decode_seqs > 0:
                step = draft.time_s(0, 0, decode_seqs, decode_context_tokens, 1)
                seconds += self.draft_steps * step
            if self.draft_prefills and prefill_tokens > 0:
                seconds += draft.time_s(prefill_tokens, prefill_context_tokens, 0, 0, 1)
        return seconds

    def iteration_times_s(
        self,
        prefill_tokens: ArrayLike,
        prefill_context_tokens: ArrayLike,
        decode_seqs: ArrayLike,
        decode_context_tokens: ArrayLike,
    ) -> FloatArray:
        """`iteration_time_s` over arrays of iteration states (broadcast together)."""
        import numpy as np

        prefill = np.asarray(prefill_tokens, dtype=np.float64)
        prefill_ctx = np.asarray(prefill_context_tokens, dtype=np.float64)
        seqs = np.asarray(decode_seqs, dtype=np.float64)
        decode_ctx = np.asarray(decode_context_tokens, dtype=np.float64)
        seconds = self.target.times_s(prefill, prefill_ctx, seqs, decode_ctx, self.verify_tokens)
        draft = self.draft
        if draft is not None:
            zero = np.zeros(1)
            steps = draft.times_s(zero, zero, seqs, decode_ctx, 1.0)
            seconds = seconds + self.draft_steps * steps
            if self.draft_prefills:
                seconds = seconds + draft.times_s(prefill, prefill_ctx, zero, zero, 1.0)
        return seconds

    def breakdown(
        self,
        prefill_tokens: float,
        prefill_context_tokens: float,
        decode_seqs: float,
        decode_context_tokens: float,
    ) -> IterationBreakdown:
        """Where the time of `iteration_time_s` goes, and the bound that dominates."""
        return combine(
            self.parts(prefill_tokens, prefill_context_tokens, decode_seqs, decode_context_tokens)
        )

    def parts(
        self,
        prefill_tokens: float,
        prefill_context_tokens: float,
        decode_seqs: float,
        decode_context_tokens: float,
    ) -> list[Parts]:
        """The kernel phases of one iteration: the target's first, then each draft pass."""
        args = (prefill_tokens, prefill_context_tokens, decode_seqs, decode_context_tokens)
        parts = [self.target.parts(*args, self.verify_tokens)]
        draft = self.draft
        if draft is not None:
            step = draft.parts(0, 0, decode_seqs, decode_context_tokens, 1)
            parts.extend([step] * self.draft_steps)
            if self.draft_prefills:
                parts.append(draft.parts(prefill_tokens, prefill_context_tokens, 0, 0, 1))
        return parts


class DecodeTimer:
    """The cumulative times of decode-only segments on one deployment.

    A segment is `steps` iterations of the same `seqs` sequences whose contexts add up to
    `ctx0 + growth * k` at step k. `cumulative_s` equals, bit for bit,
    `np.cumsum(perf.iteration_times_s(0, 0, seqs, ctx))`: both paths run the floating-point
    operations of `Roofline.decode_terms` in the same order, short segments one step at a
    time (the per-call cost of numpy dominates there), long ones over numpy arrays (each
    step's time elementwise, then a sequential `cumsum`). The constants of each batch size
    are kept.
    """

    def __init__(self, perf: PerfModel) -> None:
        self.perf = perf
        self._terms: dict[int, tuple[DecodeTerms, DecodeTerms | None, bool]] = {}

    def cumulative_s(
        self, seqs: int, ctx0: float, growth: float, steps: int, first: int = 0, total: float = 0.0
    ) -> list[float]:
        """The cumulative times of steps `first` .. `first + steps - 1` of the segment, adding
        on to `total` (the cumulative time of the steps before `first`): a segment timed in
        pieces gives the floats of one timed whole."""
        if steps > SCALAR_SEGMENT_STEPS:
            return self.vector_s(seqs, ctx0, growth, steps, first, total)
        return self.scalar_s(seqs, ctx0, growth, steps, first, total)

    def terms(self, seqs: int) -> tuple[DecodeTerms, DecodeTerms | None, bool]:
        """The step-time constants of `seqs` sequences: the target's, the draft's, and
        whether a step is the target's alone and memory-bound at any context."""
        terms = self._terms.get(seqs)
        if terms is None:
            perf = self.perf
            draft = perf.draft
            target = perf.target.decode_terms(seqs, perf.verify_tokens)
            terms = (
                target,
                draft.decode_terms(seqs, 1.0) if draft is not None else None,
                draft is None and _memory_bound(target),
            )
            self._terms[seqs] = terms
        return terms

    def vector_s(
        self, seqs: int, ctx0: float, growth: float, steps: int, first: int = 0, total: float = 0.0
    ) -> list[float]:
        import numpy as np

        t, d, memory_bound = self.terms(seqs)
        x = ctx0 + growth * np.arange(first, first + steps, dtype=np.float64)
        seconds = _step_times(t, x, memory_bound)
        if d is not None:
            seconds += float(self.perf.draft_steps) * _step_times(d, x, _memory_bound(d))
        seconds[0] += total  # the running sum's first addition, as the scalar loop makes it
        cumulative: list[float] = seconds.cumsum().tolist()
        return cumulative

    def scalar_s(
        self, seqs: int, ctx0: float, growth: float, steps: int, first: int = 0, total: float = 0.0
    ) -> list[float]:
        t, d, memory_bound = self.terms(seqs)
        lin, att, kv, tok, state, comm, fixed = (
            t.linear_s,
            t.attention_s_per_token,
            t.kv_s_per_token,
            t.tokens,
            t.state_s,
            t.comm_s,
            t.fixed_s,
        )
        end = first + steps
        if memory_bound:  # att * x <= kv * (x + tok) + state: no max to take
            return [
                total := total
                + (((lin + (kv * ((ctx0 + growth * k) + tok) + state)) + comm) + fixed)
                for k in range(first, end)
            ]
        out: list[float] = []
        if d is None:
            for k in range(first, end):
                x = ctx0 + growth * k
                c = att * x
                m = kv * (x + tok) + state
                total += ((lin + (c if c > m else m)) + comm) + fixed
                out.append(total)
            return out
        draft_steps = float(self.perf.draft_steps)
        d_lin, d_att, d_kv, d_tok, d_state, d_comm, d_fixed = (
            d.linear_s,
            d.attention_s_per_token,
            d.kv_s_per_token,
            d.tokens,
            d.state_s,
            d.comm_s,
            d.fixed_s,
        )
        for k in range(first, end):
            x = ctx0 + growth * k
            c = att * x
            m = kv * (x + tok) + state
            target_s = ((lin + (c if c > m else m)) + comm) + fixed
            c = d_att * x
            m = d_kv * (x + d_tok) + d_state
            draft_s = ((d_lin + (c if c > m else m)) + d_comm) + d_fixed
            total += target_s + draft_steps * draft_s
            out.append(total)
        return out


def _step_times(terms: DecodeTerms, x: FloatArray, memory_bound: bool) -> FloatArray:
    """Each step's time at contexts `x`: `DecodeTimer.scalar_s`'s operations, elementwise
    (`memory_bound`: `_memory_bound(terms)`, the max known to be the KV traffic term)."""
    import numpy as np

    m = terms.kv_s_per_token * (x + terms.tokens) + terms.state_s
    if not memory_bound:
        np.maximum(terms.attention_s_per_token * x, m, out=m)
    seconds: FloatArray = ((terms.linear_s + m) + terms.comm_s) + terms.fixed_s
    return seconds


def _memory_bound(terms: DecodeTerms) -> bool:
    """Whether the KV traffic outlasts the attention's compute at every context x >= 0:
    att * x <= kv * x <= kv * (x + tokens) + state, which rounding (monotonic) keeps."""
    return (
        terms.attention_s_per_token <= terms.kv_s_per_token
        and terms.kv_s_per_token >= 0.0
        and terms.tokens >= 0.0
        and terms.state_s >= 0.0
    )


def combine(parts: list[Parts], target_every: int = 0) -> IterationBreakdown:
    """Add up kernel phases. The first part (or, with `target_every` n, every n-th part from
    the first) is the target's; the others count as drafting."""
    compute = memory = linear = attention = communication = overhead = draft = 0.0
    for index, part in enumerate(parts):
        for c, m in (
            (part.linear_compute_s, part.linear_memory_s),
            (part.attention_compute_s, part.attention_memory_s),
        ):
            if c >= m:
                compute += c
            else:
                memory += m
        linear += max(part.linear_compute_s, part.linear_memory_s)
        attention += max(part.attention_compute_s, part.attention_memory_s)
        communication += part.communication_s
        overhead += part.overhead_s
        is_target = index % target_every == 0 if target_every else index == 0
        if not is_target:
            draft += part.total_s
    shares = {
        Bound.COMPUTE: compute,
        Bound.MEMORY: memory,
        Bound.COMMUNICATION: communication,
        Bound.OVERHEAD: overhead,
    }
    return IterationBreakdown(
        total_s=compute + memory + communication + overhead,
        compute_s=compute,
        memory_s=memory,
        communication_s=communication,
        overhead_s=overhead,
        linear_s=linear,
        attention_s=attention,
        draft_s=draft,
        bound=max(shares, key=lambda bound: shares[bound]),
    )
