"""Every shipped catalog entry has sources and a date, and physically sane figures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from infersim.catalog.load import Catalog, load_builtin, load_dirs
from infersim.catalog.types import GpuSpec, ModelArch
from infersim.errors import ConfigError

CATALOG = load_builtin()
GPUS = list(CATALOG.gpus.values())
MODELS = list(CATALOG.models.values())
REQUIRED_GPUS = {
    "a100-sxm-80gb", "h100-sxm", "h800-sxm", "h200-sxm", "b200", "mi300x", "l40s",
    "apple-m2-ultra", "apple-m3-ultra",
}  # fmt: skip
REQUIRED_MODELS = {
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-2-70b", "llama-3.2-1b",
    "mixtral-8x7b", "qwen3-32b", "qwen3-235b-a22b", "deepseek-v3", "qwen3.5-397b-a17b",
}  # fmt: skip


def test_required_entries_are_shipped() -> None:
    assert set(CATALOG.gpus) >= REQUIRED_GPUS
    assert set(CATALOG.models) >= REQUIRED_MODELS
    assert {p.source_kind for p in CATALOG.prices.values()} == {"article"}


@pytest.mark.parametrize("entry", [*GPUS, *MODELS, *CATALOG.prices.values()], ids=lambda e: e.id)
def test_every_entry_has_sources_and_a_past_check_date(entry: GpuSpec) -> None:
    assert entry.sources
    assert all(str(s.url).startswith("https://") for s in entry.sources)
    assert dt.date(2024, 1, 1) <= entry.checked <= dt.date.today()


@pytest.mark.parametrize("gpu", GPUS, ids=lambda g: g.id)
def test_gpu_figures_are_physically_sane(gpu: GpuSpec) -> None:
    assert 10 <= gpu.bf16_tflops <= 5_000
    for faster in (gpu.fp8_tflops, gpu.int8_tops):
        assert faster is None or 1.9 * gpu.bf16_tflops <= faster <= 2.1 * gpu.bf16_tflops
    if gpu.fp4_tflops is not None:
        assert gpu.fp8_tflops is not None and gpu.fp4_tflops >= gpu.fp8_tflops
    assert 16 <= gpu.memory_gb <= 1_024
    assert 200 <= gpu.memory_bandwidth_gb_per_s <= 20_000
    assert gpu.tdp_w is None or 50 <= gpu.tdp_w <= 2_000
    # arithmetic intensity at the ridge point: FLOPs per byte between 10 and 1,000
    assert 10 <= gpu.bf16_tflops * 1e3 / gpu.memory_bandwidth_gb_per_s <= 1_000
    if gpu.vendor != "apple":
        assert gpu.default_rental_usd_per_hour is not None
        assert 0.2 <= gpu.default_rental_usd_per_hour <= 20
        assert all(q.date <= dt.date.today() for q in gpu.rental)


def shape_params_b(m: ModelArch) -> tuple[float, float]:
    """(total, active) parameters implied by the shapes, in billions (norms ignored)."""
    h, layers = m.hidden_size, m.num_layers
    q_out = m.num_attention_heads * m.head_dim
    if m.mla is not None:
        mla = m.mla
        q = (
            h * mla.q_lora_rank + mla.q_lora_rank * m.num_attention_heads * m.head_dim
            if mla.q_lora_rank
            else h * q_out
        )
        kv = h * (
            mla.kv_lora_rank + mla.qk_rope_head_dim
        ) + mla.kv_lora_rank * m.num_attention_heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        attn = q + kv + m.num_attention_heads * mla.v_head_dim * h
    else:
        attn = h * q_out * 2 + 2 * h * m.num_kv_heads * m.head_dim
    embed = m.vocab_size * h * (1 if m.tie_word_embeddings else 2)
    if m.moe is None:
        mlp = 3 * h * m.intermediate_size
        total = embed + layers * (attn + mlp)
        return total / 1e9, total / 1e9
    moe = m.moe
    expert = 3 * h * moe.expert_intermediate_size
    moe_layers = layers - moe.num_dense_layers
    dense = moe.num_dense_layers * (attn + 3 * h * m.intermediate_size)
    shared = moe_layers * (attn + moe.num_shared_experts * expert)
    total = embed + dense + shared + moe_layers * moe.num_experts * expert
    active = embed + dense + shared + moe_layers * moe.experts_per_token * expert
    return total / 1e9, active / 1e9


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_model_shapes_match_published_parameter_counts(model: ModelArch) -> None:
    total_b, active_b = shape_params_b(model)
    assert total_b == pytest.approx(model.total_params_b, rel=0.03)
    if model.kv_cache_layers is None:  # hybrid attention is not expressible as plain GQA
        assert active_b == pytest.approx(model.active_params_b, rel=0.03)
    assert model.num_kv_cache_layers <= model.num_layers
    assert 1_000 <= model.max_context_tokens <= 10_000_000


def test_user_catalog_directory_adds_and_overrides(tmp_path: Path) -> None:
    h100 = CATALOG.gpu("h100-sxm").model_dump(mode="json")
    entry = {**h100, "id": "my-h100", "memory_gb": 96.0}
    (tmp_path / "gpus.yaml").write_text(yaml.safe_dump([entry]), encoding="utf-8")
    merged: Catalog = load_dirs(CATALOG, [tmp_path])
    assert merged.gpu("my-h100").memory_gb == 96.0
    assert "h100-sxm" in merged.gpus


def test_user_catalog_errors_name_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text("- id: x\n  name: X\n  num_layer: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_dirs(CATALOG, [tmp_path])
    text = str(info.value)
    assert (
        "models.yaml:3: 0.num_layer: unknown key 'num_layer' — did you mean 'num_layers'?" in text
    )
    assert "0.sources: required field is missing" in text


def test_unknown_catalog_name_suggests_the_closest() -> None:
    with pytest.raises(KeyError, match="did you mean 'h100-sxm'"):
        CATALOG.gpu("h100")
