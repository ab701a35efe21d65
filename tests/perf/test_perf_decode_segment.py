"""Decode segments timed step by step in scalar arithmetic agree with the numpy path."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import assume, given, settings
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


def reference(perf: PerfModel, n: int, ctx0: float, growth: float, k: int) -> list[float]:
    """The numpy path through the whole model: each iteration's time, then their sum."""
    ctx = ctx0 + growth * np.arange(k, dtype=np.float64)
    cumulative: list[float] = np.cumsum(perf.iteration_times_s(0.0, 0.0, n, ctx)).tolist()
    return cumulative


@settings(max_examples=300, deadline=None)
@given(
    deployment,
    rooflines,
    st.one_of(st.none(), rooflines),
    seqs,
    context,
    steps,
    st.integers(1, 4),
)
def test_both_paths_match_the_model_and_pieces_match_the_whole(
    index: int,
    target: Roofline,
    draft: Roofline | None,
    n: int,
    context_per_seq: float,
    k: int,
    pieces: int,
) -> None:
    """Over random batch states and coefficients (memory- or compute-bound attention, with or
    without a draft): the scalar and numpy paths give the same floats, within 1e-12 of the
    model's `iteration_times_s` summed; and a segment timed in pieces, each adding on to the
    last, gives the floats of the segment timed whole."""
    perf = replace(perf_model(index), target=target, draft=draft)
    timer = DecodeTimer(perf)
    ctx0, growth = n * context_per_seq, n * perf.decode_tokens_per_step
    scalar = timer.scalar_s(n, ctx0, growth, k)
    assert scalar == timer.vector_s(n, ctx0, growth, k)
    assert scalar == timer.cumulative_s(n, ctx0, growth, k)
    assert scalar == pytest.approx(reference(perf, n, ctx0, growth, k), rel=RTOL, abs=0.0)
    cuts = sorted({0, k, *(k * i // pieces for i in range(1, pieces))})
    timed: list[float] = []
    for first, end in pairwise(cuts):
        total = timed[-1] if timed else 0.0
        for path in (timer.scalar_s, timer.vector_s):
            assert path(n, ctx0, growth, end - first, first, total) == scalar[first:end]
        timed += timer.cumulative_s(n, ctx0, growth, end - first, first, total)
    assert timed == scalar


@settings(max_examples=300, deadline=None)
@given(rooflines, seqs, st.lists(st.floats(0.0, 1e7), min_size=1, max_size=50))
def test_memory_bound_steps_need_no_max(target: Roofline, n: int, contexts: list[float]) -> None:
    """Where a batch's attention is memory-bound at any context, the KV traffic term is the
    larger at every context, rounding included: the fast path's skipped max."""
    terms = target.decode_terms(n, 1.0)
    assume(terms.attention_s_per_token <= terms.kv_s_per_token)
    for x in contexts:
        assert terms.attention_s_per_token * x <= (
            terms.kv_s_per_token * (x + terms.tokens) + terms.state_s
        )
