"""Iteration time against first-principles arithmetic: weight and KV traffic, FLOPs, MoE
expert reads, MLA, communication, quantization, and the scalar/vectorized agreement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from perf_fixtures import LLAMA_8B, MIXTRAL, fixture_catalog

from infersim.catalog.types import ModelArch
from infersim.perf import (
    Bound,
    Efficiency,
    PerfModel,
    build_perf_model,
    chunk_context_tokens,
    default_efficiency,
    expected_distinct_experts,
)
from infersim.perf.shape import model_shape
from infersim.scenario.deployment import SelfHosted

CATALOG = fixture_catalog()
H100 = CATALOG.gpu("h100-sxm")
HOPPER = default_efficiency(H100)
BW = 3350e9 * HOPPER.memory_bandwidth


def perf(**fields: object) -> PerfModel:
    return build_perf_model(SelfHosted.model_validate({"gpu": "h100-sxm", **fields}), CATALOG)


def test_batch_one_decode_is_weights_plus_kv_over_bandwidth() -> None:
    """One sequence: every weight but the input embedding read once, its KV read once and
    the new token's KV written once; FLOPs are negligible."""
    model = perf(model="llama-3.1-8b")
    context = 1000
    weight_bytes = (LLAMA_8B.total_params_b * 1e9 - LLAMA_8B.vocab_size * 4096) * 2
    kv_bytes = (context + 1) * 2 * 32 * 8 * 128 * 2
    expected = weight_bytes / BW + kv_bytes / BW + HOPPER.overhead_s
    assert model.iteration_time_s(0, 0, 1, context) == pytest.approx(expected, rel=1e-9)
    assert model.breakdown(0, 0, 1, context).bound is Bound.MEMORY


def test_kv_cache_is_read_once_not_loaded_and_stored() -> None:
    """One more context token per sequence costs its KV bytes once (no store of the cache)."""
    model = perf(model="llama-3.1-8b", precision={"kv_cache": "fp8"})
    seqs, context = 64, 64 * 2000
    step = model.iteration_time_s(0, 0, seqs, context + 1000) - model.iteration_time_s(
        0, 0, seqs, context
    )
    assert step == pytest.approx(1000 * model.kv_bytes_per_token / BW, rel=1e-9)


def test_gqa_reads_a_quarter_of_the_kv_of_the_same_model_with_full_heads() -> None:
    mha_fields = {
        **LLAMA_8B.model_dump(),
        "id": "llama-mha",
        "num_kv_heads": 32,
        "attention": "mha",
    }
    gqa, mha = perf(model=LLAMA_8B), perf(model=ModelArch.model_validate(mha_fields))

    def per_context_token(model: PerfModel) -> float:
        return model.iteration_time_s(0, 0, 32, 64_000) - model.iteration_time_s(0, 0, 32, 32_000)

    assert per_context_token(mha) == pytest.approx(4 * per_context_token(gqa), rel=1e-9)


def test_large_prefill_is_compute_bound_at_two_flops_per_active_parameter() -> None:
    model = perf(model="llama-3.1-8b", precision={"weights": "fp8", "activations": "fp8"})
    tokens = 8192
    shape = model_shape(LLAMA_8B)
    breakdown = model.breakdown(tokens, chunk_context_tokens(tokens, 0), 0, 0)
    linear = 2 * shape.active_body_params * tokens / (1979e12 * HOPPER.compute)
    assert breakdown.linear_s == pytest.approx(linear, rel=1e-9)
    attention = 4 * 32 * 128 * 32 * chunk_context_tokens(tokens, 0) / (989e12 * HOPPER.compute)
    assert breakdown.attention_s == pytest.approx(attention, rel=1e-9)
    assert breakdown.bound is Bound.COMPUTE


def test_fp8_compute_halves_prefill_time_where_the_gpu_has_fp8() -> None:
    bf16 = perf(model="llama-3.1-8b").breakdown(8192, 0, 0, 0).linear_s
    fp8 = perf(model="llama-3.1-8b", precision={"weights": "fp8", "activations": "fp8"})
    assert fp8.breakdown(8192, 0, 0, 0).linear_s == pytest.approx(bf16 * 989 / 1979, rel=1e-9)


def test_weight_only_int4_computes_in_bf16_with_a_dequantization_overhead() -> None:
    bf16 = perf(model="llama-3.1-8b")
    int4 = perf(model="llama-3.1-8b", precision={"weights": "int4"})
    prefill = int4.breakdown(8192, 0, 0, 0).linear_s / bf16.breakdown(8192, 0, 0, 0).linear_s
    assert prefill == pytest.approx(1 + HOPPER.dequant_overhead, rel=1e-9)
    decode = int4.breakdown(0, 0, 1, 100).linear_s / bf16.breakdown(0, 0, 1, 100).linear_s
    assert 0.25 < decode < 0.4  # 4.25-bit body, 16-bit lm_head
    assert int4.quality_penalty == 0.03
    assert (
        perf(
            model="llama-3.1-8b", precision={"weights": "int4", "quality_penalty": 0.01}
        ).quality_penalty
        == 0.01
    )


def test_fp8_on_a_gpu_without_fp8_falls_back_to_bf16_compute() -> None:
    a100 = CATALOG.gpu("a100-sxm-80gb")
    fp8 = build_perf_model(
        SelfHosted(
            model="llama-3.1-8b",
            gpu=a100,
            precision={"weights": "fp8", "activations": "fp8"},  # type: ignore[arg-type]
        ),
        CATALOG,
    )
    assert fp8.peak_flops_per_gpu == a100.bf16_tflops * 1e12


def test_moe_at_batch_one_reads_top_k_experts_not_all() -> None:
    model = perf(model="mixtral-8x7b", tensor_parallel=2)
    shape = model_shape(MIXTRAL)
    always = shape.body_always_params * 2 + shape.lm_head_params * 2
    touched = always + shape.routed_expert_params * 2 * 2 / 8
    assert model.breakdown(0, 0, 1, 10).linear_s == pytest.approx(touched / 2 / BW, rel=1e-9)
    # a big batch touches nearly all experts
    all_experts = (always + shape.routed_expert_params * 2) / 2 / BW
    linear_memory = model.target.weights_s + model.target.experts_s
    assert linear_memory == pytest.approx(all_experts, rel=1e-9)


def test_expected_distinct_experts_matches_simulated_routing() -> None:
    rng = np.random.default_rng(20261129)
    experts, top_k = 64, 6
    for tokens in (1, 4, 16, 64):
        trials = 2000
        counts = [
            len({e for _ in range(tokens) for e in rng.choice(experts, top_k, replace=False)})
            for _ in range(trials)
        ]
        mean, sem = float(np.mean(counts)), float(np.std(counts)) / np.sqrt(trials)
        assert abs(mean - expected_distinct_experts(experts, top_k, tokens)) < 4 * sem + 1e-9
    assert expected_distinct_experts(experts, top_k, 1) == pytest.approx(top_k)
    assert expected_distinct_experts(experts, top_k, 10_000) == pytest.approx(experts)


def test_mla_decode_reads_the_latent_per_context_token() -> None:
    model = build_perf_model(
        SelfHosted.model_validate(
            {
                "model": "deepseek-v3",
                "gpu": "h200-sxm",
                "tensor_parallel": 8,
                "precision": {"weights": "fp8"},
            }
        ),
        CATALOG,
    )
    bw = 4800e9 * HOPPER.memory_bandwidth
    latent = (512 + 64) * 61 * 2  # each rank reads the full latent
    step = model.iteration_time_s(0, 0, 8, 80_000) - model.iteration_time_s(0, 0, 8, 40_000)
    assert step == pytest.approx(40_000 * latent / bw, rel=1e-9)


def test_tensor_parallel_all_reduce_cost() -> None:
    """Two ring all-reduces of the hidden state per layer: 2(tp-1)/tp x tokens x hidden x 2
    bytes each over the per-direction link, plus a fixed latency each."""
    model = perf(model="llama-3.3-70b", tensor_parallel=4, precision={"weights": "fp8"})
    tokens = 512
    link = 900e9 / 2 * HOPPER.interconnect
    per_reduce = 2 * 3 / 4 * tokens * 8192 * 2 / link + HOPPER.collective_latency_s
    expected = 2 * 80 * per_reduce
    assert model.breakdown(tokens, 0, 0, 0).communication_s == pytest.approx(expected, rel=1e-9)
    assert (
        perf(model="llama-3.3-70b", precision={"weights": "int4"})
        .breakdown(tokens, 0, 0, 0)
        .communication_s
        == 0
    )


def test_communication_bound_when_collectives_dominate() -> None:
    no_overhead = dataclasses.replace(HOPPER, overhead_s=0.0)
    small = build_perf_model(
        SelfHosted(model="llama-3.2-1b", gpu="h100-sxm", tensor_parallel=8), CATALOG, no_overhead
    )
    assert small.breakdown(0, 0, 1, 100).bound is Bound.COMMUNICATION


def test_empty_iteration_takes_no_time() -> None:
    model = perf(model="llama-3.1-8b")
    assert model.iteration_time_s(0, 0, 0, 0) == 0.0
    assert model.iteration_times_s([0], [0], [0], [0])[0] == 0.0


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "llama-3.1-8b"},
        {"model": "mixtral-8x7b", "tensor_parallel": 2, "expert_parallel": 2},
        {
            "model": "llama-3.3-70b",
            "tensor_parallel": 2,
            "precision": {"weights": "fp8"},
            "speculative": {
                "method": "draft_model",
                "draft_model": "llama-3.2-1b",
                "draft_tokens": 4,
            },
        },
        {"model": "llama-3.1-8b", "speculative": {"method": "eagle", "draft_tokens": 3}},
    ],
)
def test_vectorized_equals_scalar_and_breakdown_adds_up(fields: dict[str, object]) -> None:
    model = perf(**fields)
    rng = np.random.default_rng(7)
    n = 200
    chunk = rng.integers(0, 4096, n)
    cached = rng.integers(0, 30_000, n)
    prefill_ctx = chunk * cached + chunk * (chunk + 1) // 2
    seqs = rng.integers(0, 300, n)
    decode_ctx = seqs * rng.integers(1, 8000, n)
    vector = model.iteration_times_s(chunk, prefill_ctx, seqs, decode_ctx)
    for i in range(n):
        args = (int(chunk[i]), int(prefill_ctx[i]), int(seqs[i]), int(decode_ctx[i]))
        scalar = model.iteration_time_s(*args)
        assert vector[i] == pytest.approx(scalar, rel=1e-12)
        b = model.breakdown(*args)
        assert b.total_s == pytest.approx(scalar, rel=1e-12)
        parts = b.compute_s + b.memory_s + b.communication_s + b.overhead_s
        assert parts == pytest.approx(scalar, rel=1e-12)


def test_efficiency_rejects_fractions_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="compute"):
        Efficiency(
            compute=1.5, memory_bandwidth=0.8, interconnect=0.5, overhead_s=0, dequant_overhead=0
        )
