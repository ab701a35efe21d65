"""Decode segments timed step by step in scalar arithmetic agree with the numpy path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_perf_invariants import DEPLOYMENTS, perf_model

from infersim.perf import PerfModel
from infersim.perf.model import SCALAR_SEGMENT_STEPS, DecodeTimer
from infersim.perf.roofline import Roofline

RTOL = 1e-12

deployment = st.integers(0, len(DEPLOYMENTS) - 1)
seqs = st.integers(1, 1024)
context = st.floats(1.0, 100_000.0)
steps = st.integers(1, 3 * SCALAR_SEGMENT_STEPS)
cost = st.floats(0.0, 1e-2, allow_subnormal=False)
rooflines = st.builds(
    Roofline,
    linear_s_per_token=cost,
    head_s_per_token=cost,
    weights_s=cost,
    experts_s=cost,
    expert_miss=st.floats(0.0, 1.0),
    attn_prefill_s_per_pair=cost,
    attn_decode_s_per_pair=cost,
    kv_s_per_token=cost,
    state_s_per_seq=cost,
    comm_s_per_token=cost,
    comm_fixed_s=cost,
    overhead_s=cost,
)


def both_paths(
    perf: PerfModel, n: int, context_per_seq: float, k: int
) -> tuple[list[float], list[float]]:
    timer = DecodeTimer(perf)
    ctx0 = n * context_per_seq
    growth = n * perf.decode_tokens_per_step
    return timer.scalar_s(n, ctx0, growth, k), timer.vector_s(n, ctx0, growth, k)


@settings(max_examples=300, deadline=None)
@given(deployment, seqs, context, steps)
def test_scalar_segment_matches_numpy_on_shipped_deployments(
    index: int, n: int, context_per_seq: float, k: int
) -> None:
    scalar, vector = both_paths(perf_model(index), n, context_per_seq, k)
    assert len(scalar) == k
    assert scalar == pytest.approx(vector, rel=RTOL, abs=0.0)


@settings(max_examples=300, deadline=None)
@given(deployment, rooflines, st.one_of(st.none(), rooflines), seqs, context, steps)
def test_scalar_segment_matches_numpy_on_any_coefficients(
    index: int,
    target: Roofline,
    draft: Roofline | None,
    n: int,
    context_per_seq: float,
    k: int,
) -> None:
    """Every term of the roofline (MoE experts, hybrid state, communication, a draft model)
    in play, with either side of each max binding."""
    perf = replace(perf_model(index), target=target, draft=draft)
    scalar, vector = both_paths(perf, n, context_per_seq, k)
    assert scalar == pytest.approx(vector, rel=RTOL, abs=0.0)


def test_cumulative_times_are_the_sum_of_iteration_times() -> None:
    perf = perf_model(0)
    timer = DecodeTimer(perf)
    for k in (2, SCALAR_SEGMENT_STEPS, SCALAR_SEGMENT_STEPS + 1, 500):
        ctx = 64 * 700.0 + 64.0 * np.arange(k)
        expected = np.cumsum([perf.iteration_time_s(0, 0, 64, c) for c in ctx])
        cumulative = timer.cumulative_s(64, 64 * 700.0, 64.0, k)
        assert cumulative == pytest.approx(expected.tolist(), rel=1e-12)
