"""Speculative decoding (Leviathan et al. 2023, arXiv:2211.17192).

A draft proposes gamma tokens; the target verifies them (gamma + 1 positions per sequence) in
one step and keeps the accepted prefix plus one token of its own. With acceptance rate alpha,
the expected tokens per target step are (1 - alpha^(gamma+1)) / (1 - alpha), and with c the
time of one draft step over one target step the walltime speedup is that divided by
(gamma c + 1). With a rate per position (a_1 .. a_gamma, each given the ones before were
accepted) the expected tokens are 1 + a_1 + a_1 a_2 + ... + a_1 ... a_gamma.

That speedup holds at batch 1. At a running batch of B sequences the target verifies
B (gamma + 1) tokens and each draft step runs B sequences: `speedup_at_batch` times both on
the performance model, so the gain fades as the verify step leaves the memory-bound regime
and turns into a slowdown where it is compute-bound (`break_even_batch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infersim.perf.model import PerfModel
from infersim.perf.shape import ModelShape
from infersim.scenario.deployment import SpeculativeMethod


def speculative_expected_tokens(alpha: float, gamma: int) -> float:
    """Expected tokens emitted per target step: (1 - alpha^(gamma+1)) / (1 - alpha)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"acceptance rate must be in [0, 1], got {alpha}")
    if gamma < 0:
        raise ValueError(f"draft length must be >= 0, got {gamma}")
    if alpha == 1:
        return float(gamma + 1)
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


def speculative_speedup(alpha: float, gamma: int, c: float) -> float:
    """Walltime speedup over plain decoding when the target step costs the same with and
    without the draft (the small-batch, bandwidth-bound case):
    (1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1))."""
    if c < 0:
        raise ValueError(f"draft cost ratio must be >= 0, got {c}")
    return speculative_expected_tokens(alpha, gamma) / (gamma * c + 1)


def default_draft_cost_ratio(method: SpeculativeMethod, target: ModelShape) -> float:
    """c for a draft-free method, from the work of one draft step over one target step:

    - n-gram lookup matches the context on the CPU: no GPU work (c = 0);
    - EAGLE: one decoder layer, a 2h x h fusion layer and the lm_head per drafted token;
    - Medusa: per head, one h x h residual block and its own lm_head.
    """
    h = float(target.hidden_size)
    target_step = target.active_body_params + target.lm_head_params
    if method is SpeculativeMethod.EAGLE:
        layer = target.body_always_params / target.num_layers
        return (layer + 2 * h * h + target.lm_head_params) / target_step
    if method is SpeculativeMethod.MEDUSA:
        return (h * h + target.lm_head_params) / target_step
    return 0.0


def expected_tokens_by_position(rates: Sequence[float]) -> float:
    """Expected tokens per target step with a conditional acceptance rate per drafted
    position: 1 + sum over k of a_1 ... a_k (the bonus token always comes)."""
    total, kept = 1.0, 1.0
    for rate in rates:
        if not 0 <= rate <= 1:
            raise ValueError(f"acceptance rate must be in [0, 1], got {rate}")
        kept *= rate
        total += kept
    return total


def draft_has_own_pass(method: SpeculativeMethod) -> bool:
    """Whether each draft step is a forward pass of its own on the GPU, paying the engine's
    per-iteration overhead (launches, sampling, scheduling): a draft model's and EAGLE's
    autoregressive steps are; Medusa's heads run inside the target's pass and n-gram lookup
    runs on the CPU."""
    return method in (SpeculativeMethod.DRAFT_MODEL, SpeculativeMethod.EAGLE)


@dataclass(frozen=True, slots=True)
class SpeculationPoint:
    """Speculative against plain decoding at one running batch (decode-only iterations)."""

    batch_sequences: int
    plain_step_s: float
    """One plain decode step of the batch."""
    speculative_step_s: float
    """One speculative step: gamma draft steps and the verification of gamma + 1 tokens
    per sequence."""
    tokens_per_step: float
    """Expected tokens each sequence emits per speculative step."""

    @property
    def speedup(self) -> float:
        """Time per output token without speculation over with it (> 1: faster). At a fixed
        batch it is also the ratio of GPU cost per output token, plain over speculative."""
        return self.plain_step_s * self.tokens_per_step / self.speculative_step_s


def speedup_at_batch(
    plain: PerfModel, speculative: PerfModel, batch_sequences: int, context_tokens: float
) -> SpeculationPoint:
    """Both deployments decoding `batch_sequences` sequences of `context_tokens` each."""
    if speculative.draft is None:
        raise ValueError("speedup_at_batch needs a deployment with speculative decoding")
    if batch_sequences < 1:
        raise ValueError(f"batch must be >= 1 sequence, got {batch_sequences}")
    context = batch_sequences * context_tokens
    return SpeculationPoint(
        batch_sequences=batch_sequences,
        plain_step_s=plain.iteration_time_s(0, 0, batch_sequences, context),
        speculative_step_s=speculative.iteration_time_s(0, 0, batch_sequences, context),
        tokens_per_step=speculative.decode_tokens_per_step,
    )


def speedup_by_batch(
    plain: PerfModel, speculative: PerfModel, batches: Iterable[int], context_tokens: float
) -> list[SpeculationPoint]:
    return [speedup_at_batch(plain, speculative, b, context_tokens) for b in batches]


def break_even_batch(
    plain: PerfModel, speculative: PerfModel, context_tokens: float, max_batch: int
) -> int | None:
    """The smallest running batch, up to `max_batch`, at which speculation is no longer
    faster (speedup <= 1); None when it is faster at every batch up to `max_batch`. The
    speedup is non-increasing in the batch, so a bisection finds it."""
    if speedup_at_batch(plain, speculative, max_batch, context_tokens).speedup > 1:
        return None
    low, high = 0, max_batch  # speedup(low) > 1 (or low = 0), speedup(high) <= 1
    while high - low > 1:
        middle = (low + high) // 2
        if speedup_at_batch(plain, speculative, middle, context_tokens).speedup > 1:
            low = middle
        else:
            high = middle
    return high
