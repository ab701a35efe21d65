"""Hand-built catalog entries for the performance-model tests.

Shapes are the models' published configs (Hugging Face config.json) and the GPUs' datasheet
figures, as in /work/shared/reference/public-figures.md. `fixture_catalog()` lays the shipped
catalog over them, so tests use the shipped entries wherever they exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from infersim.catalog.load import Catalog, load_builtin
from infersim.catalog.types import GpuSpec, ModelArch

_SOURCE: dict[str, Any] = {
    "sources": [{"url": "https://example.org/test-fixture"}],
    "checked": dt.date(2026, 11, 29),
}


def arch(model_id: str, **fields: Any) -> ModelArch:
    base: dict[str, Any] = {
        "id": model_id,
        "name": model_id,
        "max_context_tokens": 131072,
        "attention": "gqa",
        **_SOURCE,
    }
    if "active_params_b" not in fields:
        base["active_params_b"] = fields["total_params_b"]
    return ModelArch.model_validate({**base, **fields})


def gpu(gpu_id: str, **fields: Any) -> GpuSpec:
    base: dict[str, Any] = {"id": gpu_id, "name": gpu_id, "vendor": "nvidia", **_SOURCE}
    return GpuSpec.model_validate({**base, **fields})


LLAMA_8B = arch(
    "llama-3.1-8b",
    num_layers=32,
    hidden_size=4096,
    num_attention_heads=32,
    num_kv_heads=8,
    head_dim=128,
    intermediate_size=14336,
    vocab_size=128256,
    total_params_b=8.03,
)
LLAMA_70B = arch(
    "llama-3.3-70b",
    num_layers=80,
    hidden_size=8192,
    num_attention_heads=64,
    num_kv_heads=8,
    head_dim=128,
    intermediate_size=28672,
    vocab_size=128256,
    total_params_b=70.6,
)
LLAMA_405B = arch(
    "llama-3.1-405b",
    num_layers=126,
    hidden_size=16384,
    num_attention_heads=128,
    num_kv_heads=8,
    head_dim=128,
    intermediate_size=53248,
    vocab_size=128256,
    total_params_b=405.9,
)
LLAMA_1B = arch(
    "llama-3.2-1b",
    num_layers=16,
    hidden_size=2048,
    num_attention_heads=32,
    num_kv_heads=8,
    head_dim=64,
    intermediate_size=8192,
    vocab_size=128256,
    total_params_b=1.24,
    tie_word_embeddings=True,
)
MIXTRAL = arch(
    "mixtral-8x7b",
    num_layers=32,
    hidden_size=4096,
    num_attention_heads=32,
    num_kv_heads=8,
    head_dim=128,
    intermediate_size=14336,
    vocab_size=32000,
    max_context_tokens=32768,
    total_params_b=46.7,
    active_params_b=12.9,
    moe={"num_experts": 8, "experts_per_token": 2, "expert_intermediate_size": 14336},
)
DEEPSEEK_V3 = arch(
    "deepseek-v3",
    num_layers=61,
    hidden_size=7168,
    num_attention_heads=128,
    num_kv_heads=128,
    head_dim=128,
    intermediate_size=18432,
    vocab_size=129280,
    total_params_b=671,
    active_params_b=37,
    attention="mla",
    mla={
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "v_head_dim": 128,
        "q_lora_rank": 1536,
    },
    moe={
        "num_experts": 256,
        "experts_per_token": 8,
        "num_shared_experts": 1,
        "expert_intermediate_size": 2048,
        "num_dense_layers": 3,
    },
)

H100 = gpu(
    "h100-sxm",
    family="hopper",
    bf16_tflops=989,
    fp8_tflops=1979,
    int8_tops=1979,
    memory_gb=80,
    memory_bandwidth_gb_per_s=3350,
    interconnect_gb_per_s=900,
)
H200 = gpu(
    "h200-sxm",
    family="hopper",
    bf16_tflops=989,
    fp8_tflops=1979,
    int8_tops=1979,
    memory_gb=141,
    memory_bandwidth_gb_per_s=4800,
    interconnect_gb_per_s=900,
)
B200 = gpu(
    "b200",
    family="blackwell",
    bf16_tflops=2250,
    fp8_tflops=4500,
    fp4_tflops=9000,
    memory_gb=180,
    memory_bandwidth_gb_per_s=8000,
    interconnect_gb_per_s=1800,
)
A100 = gpu(
    "a100-sxm-80gb",
    family="ampere",
    bf16_tflops=312,
    int8_tops=624,
    memory_gb=80,
    memory_bandwidth_gb_per_s=2039,
    interconnect_gb_per_s=600,
)
MI300X = gpu(
    "mi300x",
    vendor="amd",
    family="cdna3",
    bf16_tflops=1307,
    fp8_tflops=2615,
    memory_gb=192,
    memory_bandwidth_gb_per_s=5300,
    interconnect_gb_per_s=896,
)
M2_ULTRA = gpu(
    "apple-m2-ultra",
    vendor="apple",
    family="apple-m2",
    bf16_tflops=27.2,
    memory_gb=192,
    memory_bandwidth_gb_per_s=800,
)

FIXTURE_MODELS = (LLAMA_8B, LLAMA_70B, LLAMA_405B, LLAMA_1B, MIXTRAL, DEEPSEEK_V3)
FIXTURE_GPUS = (H100, H200, B200, A100, MI300X, M2_ULTRA)


def fixture_catalog() -> Catalog:
    """The fixtures, overridden by the shipped catalog's entries of the same id."""
    shipped = load_builtin()
    return Catalog().merged(
        gpus=[*FIXTURE_GPUS, *shipped.gpus.values()],
        models=[*FIXTURE_MODELS, *shipped.models.values()],
    )
