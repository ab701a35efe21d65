"""Invariants over the space of deployments and batch states (hypothesis)."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st
from perf_fixtures import FIXTURE_MODELS, fixture_catalog

from infersim.catalog.types import GpuSpec
from infersim.perf import (
    Efficiency,
    PerfModel,
    build_perf_model,
    chunk_context_tokens,
    throughput_sweep,
)
from infersim.perf.memory import weight_bytes_per_gpu
from infersim.perf.shape import model_shape
from infersim.scenario.deployment import Precision, SelfHosted, WeightDtype

CATALOG = fixture_catalog()

DEPLOYMENTS: list[dict[str, object]] = [
    {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
    {"model": "llama-3.1-8b", "gpu": "a100-sxm-80gb", "precision": {"weights": "int4"}},
    {
        "model": "llama-3.1-8b",
        "gpu": "apple-m2-ultra",
        "precision": {"weights": "int8", "kv_cache": "fp8"},
    },
    {
        "model": "llama-3.3-70b",
        "gpu": "h100-sxm",
        "tensor_parallel": 2,
        "precision": {"weights": "fp8", "activations": "fp8"},
    },
    {
        "model": "llama-3.3-70b",
        "gpu": "b200",
        "precision": {"weights": "fp4", "activations": "fp4", "kv_cache": "fp8"},
    },
    {"model": "mixtral-8x7b", "gpu": "h100-sxm", "tensor_parallel": 2, "expert_parallel": 2},
    {"model": "mixtral-8x7b", "gpu": "mi300x"},
    {
        "model": "deepseek-v3",
        "gpu": "h200-sxm",
        "expert_parallel": 8,
        "precision": {"weights": "fp8", "activations": "fp8"},
    },
    {
        "model": "llama-3.3-70b",
        "gpu": "h200-sxm",
        "precision": {"weights": "fp8"},
        "speculative": {
            "method": "draft_model",
            "draft_model": "llama-3.2-1b",
            "draft_tokens": 5,
            "acceptance_rate": 0.7,
        },
    },
    {
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "speculative": {"method": "eagle", "draft_tokens": 4},
        "prefix_caching": {"cached_share": 0.5},
    },
]


IDEAL = Efficiency(
    compute=1.0,
    memory_bandwidth=1.0,
    interconnect=1.0,
    overhead_s=0.0,
    dequant_overhead=0.0,
    collective_latency_s=0.0,
)


@cache
def perf_model(
    index: int, bandwidth_scale: float = 1.0, flops_scale: float = 1.0, ideal: bool = False
) -> PerfModel:
    fields = dict(DEPLOYMENTS[index])
    gpu = CATALOG.gpu(str(fields["gpu"]))
    scaled = {
        **gpu.model_dump(),
        "memory_bandwidth_gb_per_s": gpu.memory_bandwidth_gb_per_s * bandwidth_scale,
    }
    for name in ("bf16_tflops", "fp8_tflops", "int8_tops", "fp4_tflops"):
        if scaled[name] is not None:
            scaled[name] *= flops_scale
    fields["gpu"] = GpuSpec.model_validate(scaled)
    efficiency = IDEAL if ideal else None
    return build_perf_model(SelfHosted.model_validate(fields), CATALOG, efficiency)


deployment = st.integers(0, len(DEPLOYMENTS) - 1)
chunk = st.integers(0, 8192)
cached = st.integers(0, 100_000)
seqs = st.integers(0, 1024)
context = st.integers(1, 100_000)
more = st.integers(1, 5000)


def state_time(model: PerfModel, n: int, p: int, d: int, c: int) -> float:
    """An iteration with one prefill chunk of n tokens after p cached ones, and d decode
    sequences of c context tokens each."""
    return model.iteration_time_s(n, chunk_context_tokens(n, p), d, d * c)


@settings(max_examples=300, deadline=None)
@given(deployment, chunk, cached, seqs, context, more)
def test_time_never_decreases_with_batch_size(
    i: int, n: int, p: int, d: int, c: int, extra: int
) -> None:
    model = perf_model(i)
    base = state_time(model, n, p, d, c)
    assert state_time(model, n, p, d + extra, c) >= base
    assert state_time(model, n + extra, p, d, c) >= base


@settings(max_examples=300, deadline=None)
@given(deployment, chunk, cached, seqs, context, more)
def test_time_never_decreases_with_context(
    i: int, n: int, p: int, d: int, c: int, extra: int
) -> None:
    model = perf_model(i)
    base = state_time(model, n, p, d, c)
    assert state_time(model, n, p, d, c + extra) >= base
    assert state_time(model, n, p + extra, d, c) >= base


@settings(max_examples=200, deadline=None)
@given(deployment, chunk, cached, seqs, context, st.sampled_from([1.25, 2.0, 10.0]))
def test_more_bandwidth_or_flops_never_slows_an_iteration(
    i: int, n: int, p: int, d: int, c: int, scale: float
) -> None:
    base = state_time(perf_model(i), n, p, d, c)
    assert state_time(perf_model(i, bandwidth_scale=scale), n, p, d, c) <= base
    assert state_time(perf_model(i, flops_scale=scale), n, p, d, c) <= base


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(FIXTURE_MODELS),
    st.sampled_from([1, 2, 4, 8]),
    st.sampled_from([1, 2, 4, 8]),
)
def test_int4_weights_never_take_more_memory_than_fp8(arch: object, tp: int, ep: int) -> None:
    shape = model_shape(arch)  # type: ignore[arg-type]
    int4 = weight_bytes_per_gpu(shape, Precision(weights=WeightDtype.INT4), tp, ep)
    fp8 = weight_bytes_per_gpu(shape, Precision(weights=WeightDtype.FP8), tp, ep)
    bf16 = weight_bytes_per_gpu(shape, Precision(weights=WeightDtype.BF16), tp, ep)
    assert int4 <= fp8 <= bf16


@cache
def speculative_pair(gamma: int) -> tuple[PerfModel, PerfModel]:
    base: dict[str, object] = {
        "model": "llama-3.3-70b",
        "gpu": "h200-sxm",
        "precision": {"weights": "fp8"},
    }
    spec = {
        **base,
        "speculative": {
            "method": "draft_model",
            "draft_model": "llama-3.2-1b",
            "draft_tokens": gamma,
            "acceptance_rate": 0.0,
        },
    }
    plain = build_perf_model(SelfHosted.model_validate(base), CATALOG)
    return plain, build_perf_model(SelfHosted.model_validate(spec), CATALOG)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), chunk, cached, st.integers(1, 512), context)
def test_zero_acceptance_never_beats_plain_decoding(
    gamma: int, n: int, p: int, d: int, c: int
) -> None:
    plain, spec = speculative_pair(gamma)
    per_token_spec = state_time(spec, n, p, d, c) / spec.decode_tokens_per_step
    assert per_token_spec >= state_time(plain, n, p, d, c)


@settings(max_examples=200, deadline=None)
@given(deployment, st.integers(1, 20_000), st.integers(1, 4000), st.integers(1, 2048))
def test_tokens_per_gpu_never_exceed_the_roofline(
    i: int, prompt: int, output: int, batch: int
) -> None:
    """At 100% of peak: each output token needs 2 x active parameters FLOPs for itself plus
    its share of the prompt's, and each iteration reads at least the always-active weights."""
    model = perf_model(i)
    arch = CATALOG.model(str(DEPLOYMENTS[i]["model"]))
    shape = model_shape(arch)
    point = throughput_sweep(model, prompt, output, [batch])[0]
    computed = model.computed_prompt_tokens(prompt)
    flops_per_token = 2 * shape.active_body_params * (1 + computed / output)
    compute_bound = model.peak_flops_per_gpu / flops_per_token
    assert point.output_tokens_per_s_per_gpu <= compute_bound * (1 + 1e-12)
    always_bytes = shape.body_always_params * 0.5  # no format is narrower than 4 bits
    min_iteration_s = always_bytes / model.tensor_parallel / model.peak_bandwidth_bytes_per_s
    memory_bound = batch * model.decode_tokens_per_step / min_iteration_s
    assert point.output_tokens_per_s <= memory_bound
