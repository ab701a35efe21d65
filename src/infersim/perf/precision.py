"""Number formats: bytes per weight and per KV element, the tensor-core peak a GEMM runs at,
and the default quality penalty of each weight format.

Quality penalties follow "Give Me BF16 or Give Me Death? Accuracy-Performance Trade-Offs in
LLM Quantization" (Kurtic et al., arXiv:2411.02355): FP8 (W8A8) is effectively lossless,
INT8 W8A8 loses 1-3%, INT4 weight-only is competitive with 8-bit; FP4 is set between.
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.catalog.types import GpuSpec
from infersim.scenario.deployment import KvDtype, Precision, WeightDtype

# Bytes per weight, including block scales: INT4 uses group-128 scales and zero points
# (AWQ/GPTQ, 4.25 bits); FP4 is NVFP4 with an FP8 scale per 16 values (4.5 bits).
WEIGHT_BYTES: dict[WeightDtype, float] = {
    WeightDtype.BF16: 2.0,
    WeightDtype.FP16: 2.0,
    WeightDtype.FP8: 1.0,
    WeightDtype.INT8: 1.0,
    WeightDtype.INT4: 4.25 / 8,
    WeightDtype.FP4: 4.5 / 8,
}

KV_BYTES: dict[KvDtype, float] = {
    KvDtype.BF16: 2.0,
    KvDtype.FP16: 2.0,
    KvDtype.FP8: 1.0,
    KvDtype.INT8: 1.0,
}

# Embeddings and the output projection stay in 16-bit in every quantized checkpoint we model.
UNQUANTIZED_BYTES = 2.0
ACTIVATION_BYTES = 2.0  # hidden states exchanged between GPUs (bf16)

# arXiv:2411.02355 (see the module docstring).
DEFAULT_QUALITY_PENALTY: dict[WeightDtype, float] = {
    WeightDtype.BF16: 0.0,
    WeightDtype.FP16: 0.0,
    WeightDtype.FP8: 0.005,
    WeightDtype.INT8: 0.02,
    WeightDtype.INT4: 0.03,
    WeightDtype.FP4: 0.02,
}

_BITS = {"bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4, "fp4": 4}


@dataclass(frozen=True, slots=True)
class ComputeFormat:
    """The format a GEMM runs in on a given GPU, its dense peak, and whether weights are
    dequantized to it on the fly (weight-only quantization)."""

    name: str
    peak_flops: float
    weight_only: bool


def _peak(gpu: GpuSpec, fmt: str) -> float | None:
    tflops = {
        "bf16": gpu.bf16_tflops,
        "fp16": gpu.bf16_tflops,
        "fp8": gpu.fp8_tflops,
        "int8": gpu.int8_tops,
        "fp4": gpu.fp4_tflops,
    }.get(fmt)
    return None if tflops is None else tflops * 1e12


_FALLBACK = {"fp4": ("fp4", "fp8", "bf16"), "fp8": ("fp8", "bf16"), "int8": ("int8", "bf16")}


def compute_format(precision: Precision, gpu: GpuSpec) -> ComputeFormat:
    """Pick the GEMM format: the activation format, never narrower than the weights; where the
    GPU lacks that tensor-core peak, fall back (fp4 -> fp8 -> bf16, int8 -> bf16), and the
    weights are then dequantized on the fly."""
    weights = precision.weights.value
    wanted = precision.activations.value
    if _BITS[wanted] < _BITS[weights]:
        wanted = weights
    if wanted == "int4":  # no int4 activations: weight-only int4 computes in bf16
        wanted = "bf16"
    for fmt in _FALLBACK.get(wanted, (wanted,)):
        peak = _peak(gpu, fmt)
        if peak is not None:
            return ComputeFormat(fmt, peak, weight_only=_BITS[weights] < _BITS[fmt])
    return ComputeFormat("bf16", gpu.bf16_tflops * 1e12, weight_only=_BITS[weights] < 16)


def quality_penalty(precision: Precision) -> float:
    """The explicit `precision.quality_penalty`, or the default for the weight format."""
    if precision.quality_penalty is not None:
        return precision.quality_penalty
    return DEFAULT_QUALITY_PENALTY[precision.weights]


def label(precision: Precision) -> str:
    """'fp8', or 'int4 + fp8 kv' when the KV cache is stored narrower than 16 bits."""
    text = precision.weights.value
    if precision.kv_cache.value not in ("bf16", "fp16"):
        text += f" + {precision.kv_cache.value} kv"
    return text
