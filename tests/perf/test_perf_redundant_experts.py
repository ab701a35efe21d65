"""Redundant experts: extra copies of routed experts let expert parallelism spread an MoE over
a GPU count that does not divide its experts (DeepSeek-V3/R1's published layout: 256 routed
experts plus 32 redundant ones, 9 per GPU on EP32 prefill units, 2 per GPU on EP144 decode
units; DeepSeek's inference system overview, Open Infra Index day 6, 2025-03-01)."""

from __future__ import annotations

import pytest
from perf_fixtures import fixture_catalog

from infersim.perf import InvalidDeploymentError, PerfModel, build_perf_model
from infersim.perf.precision import WEIGHT_BYTES
from infersim.perf.shape import model_shape, with_redundant_experts
from infersim.scenario.deployment import SelfHosted, WeightDtype

CATALOG = fixture_catalog()
FP8 = {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8"}


def deepseek(ep: int, redundant: int = 0) -> PerfModel:
    deployment = SelfHosted.model_validate(
        {
            "model": "deepseek-v3",
            "gpu": "h800-sxm",
            "expert_parallel": ep,
            "redundant_experts": redundant,
            "precision": FP8,
        }
    )
    return build_perf_model(deployment, CATALOG)


def per_expert_bytes() -> float:
    shape = model_shape(CATALOG.model("deepseek-v3"))
    return shape.routed_expert_params / shape.num_experts * WEIGHT_BYTES[WeightDtype.FP8]


def test_ep144_decode_needs_the_32_redundant_experts() -> None:
    with pytest.raises(InvalidDeploymentError, match="give redundant_experts 32"):
        deepseek(144)
    decode = deepseek(144, 32)
    assert decode.gpus_per_replica == 144
    prefill = deepseek(32, 32)
    # 288 expert slots: 2 per GPU on EP144, 9 on EP32 (the dense part is the same)
    three = deepseek(144, 32 + 144)  # 432 slots: 3 per GPU
    assert three.weight_bytes_per_gpu - decode.weight_bytes_per_gpu == pytest.approx(
        per_expert_bytes(), rel=1e-9
    )
    ratio = (prefill.weight_bytes_per_gpu - decode.weight_bytes_per_gpu) / per_expert_bytes()
    assert ratio == pytest.approx(9 - 2, rel=1e-9)


def test_redundant_copies_take_memory_and_are_read_once_the_batch_spreads_over_them() -> None:
    plain, redundant = deepseek(32), deepseek(32, 32)
    extra = redundant.weight_bytes_per_gpu - plain.weight_bytes_per_gpu
    assert extra == pytest.approx(per_expert_bytes(), rel=1e-9)  # one more slot per GPU
    # the active parameters (FLOPs per token) do not change
    assert redundant.target.linear_s_per_token == pytest.approx(
        plain.target.linear_s_per_token, rel=1e-12
    )
    # reading every copy: 288/256 of the expert bytes
    assert redundant.target.experts_s == pytest.approx(plain.target.experts_s * 288 / 256)
    # a single token reads its 8 experts either way; a huge batch reads every slot
    one = [m.target.experts_s * (1 - m.target.expert_miss) for m in (plain, redundant)]
    assert one[1] == pytest.approx(one[0], rel=1e-9)
    many = [m.target.time_s(0, 0, 20_000, 20_000 * 1000, 1) for m in (plain, redundant)]
    few = [m.target.time_s(0, 0, 1, 1000, 1) for m in (plain, redundant)]
    assert many[1] >= many[0]
    assert few[1] == pytest.approx(few[0], rel=0.02)


def test_the_shape_keeps_its_experts_per_token_and_active_parameters() -> None:
    shape = model_shape(CATALOG.model("deepseek-v3"))
    slots = with_redundant_experts(shape, 32)
    assert slots.num_experts == 288 and slots.experts_per_token == shape.experts_per_token
    assert slots.active_body_params == pytest.approx(shape.active_body_params, rel=1e-12)
    assert with_redundant_experts(shape, 0) is shape


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"model": "llama-3.1-8b", "redundant_experts": 4}, "needs a mixture-of-experts model"),
        (
            {"model": "mixtral-8x7b", "expert_parallel": 16, "redundant_experts": 4},
            "plus its 4 redundant experts \\(12\\); give redundant_experts 8",
        ),
    ],
)
def test_invalid_redundancy(fields: dict[str, object], pattern: str) -> None:
    with pytest.raises(InvalidDeploymentError, match=pattern):
        build_perf_model(SelfHosted.model_validate({"gpu": "h100-sxm", **fields}), CATALOG)


def test_mixtral_on_16_gpus_with_8_copies() -> None:
    deployment = SelfHosted.model_validate(
        {"model": "mixtral-8x7b", "gpu": "h100-sxm", "expert_parallel": 16, "redundant_experts": 8}
    )
    assert build_perf_model(deployment, CATALOG).gpus_per_replica == 16


def test_deepseeks_decode_layout_is_within_a_quarter_of_its_published_throughput() -> None:
    """DeepSeek's decode units (EP144, 32 redundant experts, H800) served ~14.8k output
    tokens/s per 8-GPU node, at an average KV-cache length of 4,989 tokens per output token
    (open-infra-index, day 6, 2025-03-01). The performance model, at the largest batch the
    replica runs (8,192 sequences: the default token budget per iteration; their contexts
    fit a BF16 latent KV cache), gives ~16.7k: +13%."""
    deployment = SelfHosted.model_validate(
        {
            "model": "deepseek-v3",
            "gpu": "h800-sxm",
            "expert_parallel": 144,
            "redundant_experts": 32,
            "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "bf16"},
        }
    )
    decode = build_perf_model(deployment, CATALOG)
    context = 4989
    batch = decode.max_sequences(context)
    assert batch == decode.max_batch_sequences == 8192
    step_s = decode.iteration_time_s(0, 0, batch, batch * context)
    per_node = batch * decode.decode_tokens_per_step / step_s / decode.gpus_per_replica * 8
    assert per_node == pytest.approx(14_800, rel=0.25)
