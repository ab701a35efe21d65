"""Speculative decoding (Leviathan et al. 2023, arXiv:2211.17192).

A draft proposes gamma tokens; the target verifies them (gamma + 1 positions per sequence) in
one step and keeps the accepted prefix plus one token of its own. With acceptance rate alpha,
the expected tokens per target step are (1 - alpha^(gamma+1)) / (1 - alpha), and with c the
time of one draft step over one target step the walltime speedup is that divided by
(gamma c + 1). This module holds those formulas and the default cost of draft-free methods.
"""

from __future__ import annotations

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
