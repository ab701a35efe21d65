"""Memory: weight bytes by precision, KV bytes per token (GQA, MLA, tensor-parallel
replication), KV capacity, and the fit check with its suggestions."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from perf_fixtures import DEEPSEEK_V3, LLAMA_8B, LLAMA_70B, MIXTRAL, fixture_catalog

from infersim.errors import InfersimError
from infersim.perf import DoesNotFit, InvalidDeploymentError, build_perf_model
from infersim.perf.memory import WORKSPACE_BYTES
from infersim.perf.shape import model_shape
from infersim.scenario.deployment import SelfHosted

CATALOG = fixture_catalog()


def deploy(**fields: object) -> SelfHosted:
    return SelfHosted.model_validate(fields)


def test_dense_parameter_groups_add_up_to_the_catalog_total() -> None:
    shape = model_shape(LLAMA_8B)
    assert shape.total_params == pytest.approx(LLAMA_8B.total_params_b * 1e9)
    assert shape.embedding_params == LLAMA_8B.vocab_size * LLAMA_8B.hidden_size
    assert shape.routed_expert_params == 0


@pytest.mark.parametrize("arch", [MIXTRAL, DEEPSEEK_V3], ids=lambda a: a.id)
def test_moe_split_matches_the_expert_shapes(arch: object) -> None:
    """Experts sized from the catalog totals agree (within 2%) with 3 x hidden x expert width
    per layer; the active count is reproduced exactly."""
    from infersim.catalog.types import ModelArch

    assert isinstance(arch, ModelArch) and arch.moe is not None
    shape = model_shape(arch)
    moe_layers = arch.num_layers - arch.moe.num_dense_layers
    from_shapes = moe_layers * 3 * arch.hidden_size * arch.moe.expert_intermediate_size
    per_expert = shape.routed_expert_params / arch.moe.num_experts
    assert per_expert == pytest.approx(from_shapes, rel=0.02)
    stored = shape.embedding_params + shape.lm_head_stored_params
    assert shape.active_body_params + stored == pytest.approx(arch.active_params_b * 1e9)


def test_fp8_weights_of_llama_8b_match_the_published_checkpoint() -> None:
    """nvidia/Llama-3.1-8B-Instruct-FP8 is ~9.1 GB: FP8 body, 16-bit embeddings and lm_head."""
    perf = build_perf_model(
        deploy(model="llama-3.1-8b", gpu="h100-sxm", precision={"weights": "fp8"}), CATALOG
    )
    assert perf.weight_bytes_per_gpu == pytest.approx(9.08e9, rel=0.01)


def test_kv_bytes_per_token_gqa() -> None:
    """2 (K and V) x layers x kv_heads x head_dim x bytes: 131,072 for Llama-3.1-8B in bf16."""
    perf = build_perf_model(deploy(model="llama-3.1-8b", gpu="h100-sxm"), CATALOG)
    arch = LLAMA_8B
    assert perf.kv_bytes_per_token == 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * 2
    fp8 = build_perf_model(
        deploy(model="llama-3.1-8b", gpu="h100-sxm", precision={"kv_cache": "fp8"}), CATALOG
    )
    assert fp8.kv_bytes_per_token == perf.kv_bytes_per_token / 2


def test_kv_bytes_per_token_mla_is_the_latent_not_the_heads() -> None:
    """MLA caches kv_lora_rank + rope dims per layer: 576 x 61 x 2 bytes for DeepSeek-V3,
    ~57x less than 128 full K/V heads would take."""
    perf = build_perf_model(
        deploy(
            model="deepseek-v3",
            gpu="h200-sxm",
            tensor_parallel=8,
            precision={"weights": "fp8"},
        ),
        CATALOG,
    )
    mla = DEEPSEEK_V3.mla
    assert mla is not None
    latent = (mla.kv_lora_rank + mla.qk_rope_head_dim) * DEEPSEEK_V3.num_layers * 2
    assert perf.kv_bytes_per_token == latent * 8  # replicated on each of the 8 ranks
    full_heads = 2 * DEEPSEEK_V3.num_layers * 128 * (128 + 64) * 2
    assert full_heads / latent > 50


def test_gqa_heads_replicate_when_tensor_parallel_exceeds_kv_heads() -> None:
    """8 KV heads over 16 ranks: each rank still holds one head, so a token takes twice the
    memory it takes at TP 8 (16 heads' worth instead of 8)."""
    tp8 = build_perf_model(
        deploy(
            model="llama-3.1-405b", gpu="h100-sxm", tensor_parallel=8, precision={"weights": "fp8"}
        ),
        CATALOG,
    )
    tp16 = build_perf_model(
        deploy(model="llama-3.1-405b", gpu="h100-sxm", tensor_parallel=16), CATALOG
    )
    assert tp16.kv_bytes_per_token == 2 * tp8.kv_bytes_per_token


def test_kv_capacity_is_what_remains_after_weights_and_reserve() -> None:
    d = deploy(model="llama-3.3-70b", gpu="h200-sxm", precision={"weights": "fp8"})
    perf = build_perf_model(d, CATALOG)
    usable = 141e9 * d.gpu_memory_utilization
    assert perf.usable_bytes_per_gpu == pytest.approx(usable)
    free = usable - perf.weight_bytes_per_gpu - perf.reserve_bytes_per_gpu
    per_token = 2 * 80 * 8 * 128 * 2
    expected = math.floor(free / per_token / d.kv_block_tokens) * d.kv_block_tokens
    assert perf.kv_capacity_tokens == expected
    assert perf.reserve_bytes_per_gpu > WORKSPACE_BYTES


def test_max_sequences_counts_whole_blocks_and_respects_the_batch_limit() -> None:
    d = deploy(model="llama-3.1-8b", gpu="h100-sxm", max_batch_sequences=4096)
    perf = build_perf_model(d, CATALOG)
    assert perf.max_sequences(1000) == perf.kv_capacity_tokens // 1008  # 63 blocks of 16
    assert perf.max_sequences(1008) == perf.max_sequences(1000)
    assert perf.max_sequences(1009) < perf.max_sequences(1008)
    capped = build_perf_model(d.model_copy(update={"max_batch_sequences": 8}), CATALOG)
    assert capped.max_sequences(1000) == 8


def test_expert_parallel_splits_experts_and_replicates_the_rest() -> None:
    tp2 = build_perf_model(deploy(model="mixtral-8x7b", gpu="h100-sxm", tensor_parallel=2), CATALOG)
    ep2 = build_perf_model(
        deploy(model="mixtral-8x7b", gpu="h100-sxm", tensor_parallel=2, expert_parallel=2),
        CATALOG,
    )
    shape = model_shape(MIXTRAL)
    dense = (
        shape.body_always_params * 2 + (shape.embedding_params + shape.lm_head_stored_params) * 2
    )
    assert tp2.weight_bytes_per_gpu == pytest.approx((dense + shape.routed_expert_params * 2) / 2)
    assert ep2.weight_bytes_per_gpu == pytest.approx(dense / 2 + shape.routed_expert_params * 2 / 4)
    assert ep2.gpus_per_replica == 4
    assert ep2.kv_capacity_tokens == pytest.approx(2 * ep2.kv_capacity_tokens_per_group)


def test_does_not_fit_says_by_how_much_and_what_would_fit() -> None:
    d = deploy(model="llama-3.1-405b", gpu="h100-sxm", tensor_parallel=2)
    with pytest.raises(DoesNotFit) as info:
        build_perf_model(d, CATALOG)
    message = str(info.value)
    assert isinstance(info.value, InfersimError)
    weights = float(re.search(r"needs ([\d,.]+) GB of weights", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert weights == pytest.approx(405.9 * 2, rel=0.01)
    assert "2 x h100-sxm give 144.0 GB usable" in message
    short = float(re.search(r"short by ([\d,.]+) GB", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert short > weights - 144
    # every suggestion builds
    suggested = re.findall(r"tensor_parallel: (\d+)(?: with (\w+) weights)?", message)
    assert len(suggested) >= 2
    for tp, weights_format in suggested:
        precision = {"weights": weights_format} if weights_format else {}
        fixed = {**d.model_dump(), "tensor_parallel": int(tp), "precision": precision}
        build_perf_model(SelfHosted.model_validate(fixed), CATALOG)
        if int(tp) > 1:  # and it is the smallest that fits
            too_small = {**fixed, "tensor_parallel": int(tp) // 2}
            with pytest.raises(DoesNotFit):
                build_perf_model(SelfHosted.model_validate(too_small), CATALOG)


def test_single_device_cannot_be_split_and_suggestions_stay_on_one_device() -> None:
    with pytest.raises(InvalidDeploymentError, match="single device"):
        build_perf_model(
            deploy(model="llama-3.1-8b", gpu="apple-m2-ultra", tensor_parallel=2), CATALOG
        )
    small = deploy(model="llama-3.3-70b", gpu="apple-m2-ultra", gpu_memory_utilization=0.7)
    with pytest.raises(DoesNotFit) as info:
        build_perf_model(small, CATALOG)
    assert "try tensor_parallel: 1 with fp8 weights (fits" in str(info.value)
    with pytest.raises(DoesNotFit, match="use a GPU with more memory"):
        build_perf_model(deploy(model="llama-3.1-405b", gpu="apple-m2-ultra"), CATALOG)


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"model": "llama-3.1-8b", "tensor_parallel": 3}, "must divide the 32 attention heads"),
        ({"model": "llama-3.1-8b", "expert_parallel": 2}, "is dense"),
        ({"model": "mixtral-8x7b", "expert_parallel": 16}, "must divide the 8 experts"),
        ({"model": "llama-3.1-8", "tensor_parallel": 1}, "did you mean 'llama-3.1-8b'"),
    ],
)
def test_invalid_splits_and_names(fields: dict[str, object], pattern: str) -> None:
    with pytest.raises(InvalidDeploymentError, match=pattern):
        build_perf_model(deploy(gpu="h100-sxm", **fields), CATALOG)


def test_inline_architecture_and_gpu_need_no_catalog() -> None:
    from infersim.catalog.load import Catalog

    d = SelfHosted(model=LLAMA_70B, gpu=CATALOG.gpu("h200-sxm"), precision={"weights": "fp8"})
    perf = build_perf_model(d, Catalog())
    assert perf.model_id == "llama-3.3-70b"
    assert np.isfinite(perf.iteration_time_s(0, 0, 1, 100))


def test_hybrid_model_caches_kv_only_in_full_attention_layers_and_holds_a_state() -> None:
    """Qwen3.5 (shipped catalog): 15 of 60 layers keep a KV cache; the other 45 keep a fixed
    recurrent state per sequence, which counts against the sequences that fit."""
    arch = CATALOG.model("qwen3.5-397b-a17b")
    assert arch.kv_cache_layers is not None and arch.linear_attention_state_bytes is not None
    d = deploy(
        model=arch.id,
        gpu="h200-sxm",
        tensor_parallel=8,
        precision={"weights": "fp8"},
        max_batch_sequences=65_536,
    )
    perf = build_perf_model(d, CATALOG)
    heads_per_gpu = max(arch.num_kv_heads // 8, 1)
    per_gpu = arch.kv_cache_layers * heads_per_gpu * 2 * arch.head_dim * 2
    assert perf.kv_bytes_per_token == per_gpu * 8
    state = (arch.num_layers - arch.kv_cache_layers) * arch.linear_attention_state_bytes / 8
    assert perf.state_bytes_per_sequence_per_gpu == state
    context = 4096
    expected = math.floor(perf.kv_free_bytes_per_gpu / (context * per_gpu + state))
    assert perf.max_sequences(context) == expected
    assert perf.max_sequences(context) < perf.kv_capacity_tokens // context
