"""Steady-state throughput of one replica: the max-throughput figure serving benchmarks report.

Model of the steady state (every request `prompt_tokens` in, `output_tokens` out): B sequences
are in flight; each iteration every one of them decodes (emitting `decode_tokens_per_step`
tokens), so B x tokens_per_step / output_tokens requests finish per iteration and as many
start. With chunked prefill their prompts are spread evenly over iterations: each iteration
also prefills B x tokens_per_step x prompt_tokens / output_tokens prompt tokens (less the
cached-prefix share). Decode contexts average prompt + output / 2 over a sequence's life.

The largest B is the smallest of max_batch_sequences, the sequences whose full context
(prompt + output, as a no-eviction scheduler reserves it) fits in the KV cache, and the
sequences whose decode and prefill tokens fit in max_batch_tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from infersim.perf.errors import DoesNotFit
from infersim.perf.fit import format_tokens
from infersim.perf.model import IterationBreakdown, PerfModel, combine
from infersim.perf.shape import chunk_context_tokens


@dataclass(frozen=True, slots=True)
class ThroughputPoint:
    """One replica at a steady batch: per-iteration work and time, and tokens per second."""

    batch_sequences: int
    limited_by: str
    """'max_batch_sequences', 'kv_cache' or 'max_batch_tokens' (at the largest batch),
    'tpot_slo' (the largest batch within a time-per-token bound), or 'requested' (a batch
    given by the caller)."""
    fits: bool
    """Whether the batch's KV cache and token budget fit the replica."""
    gpus: int
    prefill_tokens_per_iteration: float
    iteration_s: float
    output_tokens_per_s: float
    """Per replica."""
    time_per_output_token_s: float
    """Seen by one sequence: iteration time over tokens emitted per step."""
    breakdown: IterationBreakdown

    @property
    def output_tokens_per_s_per_gpu(self) -> float:
        return self.output_tokens_per_s / self.gpus

    def usd_per_mtok(self, usd_per_gpu_hour: float) -> float:
        """GPU cost of a million output tokens at full load."""
        if self.output_tokens_per_s <= 0:
            return math.inf
        return usd_per_gpu_hour * self.gpus / 3600 / self.output_tokens_per_s * 1e6


def _prompt_context(prompt_tokens: float, computed_tokens: float) -> float:
    """Sum of the contexts the computed (uncached, last) prompt tokens attend to."""
    cached = prompt_tokens - computed_tokens
    return (prompt_tokens * (prompt_tokens + 1) - cached * (cached + 1)) / 2


def largest_batch(perf: PerfModel, prompt_tokens: int, output_tokens: int) -> tuple[int, str]:
    """The largest steady batch, and what limits it."""
    computed = perf.computed_prompt_tokens(prompt_tokens)
    per_sequence = perf.verify_tokens + perf.decode_tokens_per_step * computed / output_tokens
    limits = {
        "max_batch_sequences": perf.max_batch_sequences,
        "kv_cache": perf.max_sequences(prompt_tokens + output_tokens),
        "max_batch_tokens": math.floor(perf.max_batch_tokens / per_sequence),
    }
    reason = min(limits, key=lambda name: limits[name])
    return limits[reason], reason


def throughput_at(
    perf: PerfModel, prompt_tokens: int, output_tokens: int, batch_sequences: int, reason: str
) -> ThroughputPoint:
    """The steady state with `batch_sequences` in flight (see the module docstring)."""
    if prompt_tokens < 0 or output_tokens < 1 or batch_sequences < 1:
        raise ValueError("need prompt_tokens >= 0, output_tokens >= 1, batch_sequences >= 1")
    batch = batch_sequences
    starts = batch * perf.decode_tokens_per_step / output_tokens
    computed = perf.computed_prompt_tokens(prompt_tokens)
    prefill = starts * computed
    prefill_ctx = starts * _prompt_context(prompt_tokens, computed)
    decode_ctx = batch * (prompt_tokens + output_tokens / 2)
    breakdown = perf.breakdown(prefill, prefill_ctx, batch, decode_ctx)
    seconds = breakdown.total_s
    fits = (
        batch <= perf.max_sequences(prompt_tokens + output_tokens)
        and prefill + batch * perf.verify_tokens <= perf.max_batch_tokens
    )
    return ThroughputPoint(
        batch_sequences=batch,
        limited_by=reason,
        fits=fits,
        gpus=perf.gpus_per_replica,
        prefill_tokens_per_iteration=prefill,
        iteration_s=seconds,
        output_tokens_per_s=batch * perf.decode_tokens_per_step / seconds,
        time_per_output_token_s=seconds / perf.decode_tokens_per_step,
        breakdown=breakdown,
    )


def steady_state_throughput(
    perf: PerfModel, prompt_tokens: int, output_tokens: int
) -> ThroughputPoint:
    """Output tokens/s of one replica at the largest batch it can hold (max throughput)."""
    batch, reason = largest_batch(perf, prompt_tokens, output_tokens)
    if batch < 1:
        need = prompt_tokens + output_tokens
        raise DoesNotFit(
            f"{perf.model_id} on {perf.gpus_per_replica} x {perf.gpu_id}: one {need:,}-token "
            f"sequence does not fit in a KV cache of "
            f"{format_tokens(perf.kv_capacity_tokens_per_group)} tokens"
        )
    return throughput_at(perf, prompt_tokens, output_tokens, batch, reason)


def slo_throughput(
    perf: PerfModel, prompt_tokens: int, output_tokens: int, tpot_bound_s: float | None
) -> ThroughputPoint:
    """The steady state at the largest batch whose time per output token is within
    `tpot_bound_s`: the throughput a replica can sell under that SLO (a larger batch would
    serve more tokens, each slower than promised). Without a bound, the largest batch it
    holds; when even one sequence is slower than the bound, one sequence (the SLO cannot be
    met: the serving verdict says so)."""
    point = steady_state_throughput(perf, prompt_tokens, output_tokens)
    if tpot_bound_s is None or point.time_per_output_token_s <= tpot_bound_s:
        return point
    one = throughput_at(perf, prompt_tokens, output_tokens, 1, "tpot_slo")
    if one.time_per_output_token_s > tpot_bound_s:
        return one
    low, high = 1, point.batch_sequences  # the step time grows with the batch
    while high - low > 1:
        middle = (low + high) // 2
        step = throughput_at(perf, prompt_tokens, output_tokens, middle, "tpot_slo")
        if step.time_per_output_token_s <= tpot_bound_s:
            low = middle
        else:
            high = middle
    return throughput_at(perf, prompt_tokens, output_tokens, low, "tpot_slo")


def throughput_sweep(
    perf: PerfModel, prompt_tokens: int, output_tokens: int, batches: Iterable[int]
) -> list[ThroughputPoint]:
    """The steady state at each requested batch; `fits` tells which ones the replica holds."""
    return [
        throughput_at(perf, prompt_tokens, output_tokens, batch, "requested") for batch in batches
    ]


def prompt_prefill(perf: PerfModel, prompt_tokens: int) -> IterationBreakdown:
    """One prompt prefilled alone, in chunks of max_batch_tokens after its cached prefix: the
    compute part of its time to first token, summed over the chunks."""
    cached = round(prompt_tokens - perf.computed_prompt_tokens(prompt_tokens))
    parts = []
    done = cached
    while done < prompt_tokens:
        chunk = min(perf.max_batch_tokens, prompt_tokens - done)
        parts.append(perf.parts(chunk, chunk_context_tokens(chunk, done), 0, 0))
        done += chunk
    per_iteration = len(parts[0]) if parts else 1
    flat = [part for iteration in parts for part in iteration]
    return combine(flat, target_every=per_iteration)
