"""Published max-throughput measurements the default efficiencies are fitted on and checked
against, and the deployments that reproduce their setup.

Source: TensorRT-LLM performance overview (NVIDIA/TensorRT-LLM,
docs/source/performance/perf-overview.md): `trtllm-bench throughput`, PyTorch backend,
requests with fixed input/output lengths sent at an infinite rate, "Total Output Throughput
(tokens/sec)"; ModelOpt FP8 / NVFP4 checkpoints, whose KV cache is FP8.

Setup assumed for the deployments: `kv_cache_free_gpu_mem_fraction 0.95` as the overview says
it uses "in many cases" (modelled as gpu_memory_utilization 0.95), up to 2,048 sequences in
flight, 8,192 tokens per iteration (assumptions: the overview leaves both to trtllm-bench's
heuristics).
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.scenario.deployment import Precision, SelfHosted

SOURCE_URL = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/performance/perf-overview.md"
)


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    model: str
    weights: str
    gpu: str
    tensor_parallel: int
    prompt_tokens: int
    output_tokens: int
    output_tokens_per_s: float
    """Published total output tokens/s of the whole deployment."""

    @property
    def label(self) -> str:
        return (
            f"{self.model} {self.weights} {self.tensor_parallel}x{self.gpu} "
            f"{self.prompt_tokens}/{self.output_tokens}"
        )


def _points(rows: list[tuple[str, str, str, int, int, int, float]]) -> tuple[CalibrationPoint, ...]:
    return tuple(CalibrationPoint(*row) for row in rows)


CALIBRATION = _points(
    [
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 1000, 1000, 15_220),
        ("llama-3.1-8b", "fp8", "h200-sxm", 1, 1000, 1000, 17_744),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 128, 128, 28_312),
        ("llama-3.1-8b", "fp8", "h200-sxm", 1, 128, 128, 27_911),
        ("llama-3.3-70b", "fp8", "h200-sxm", 1, 1000, 1000, 2_909),
        ("llama-3.3-70b", "fp8", "h100-sxm", 2, 1000, 1000, 4_205),
        ("llama-3.3-70b", "fp4", "b200", 1, 1000, 1000, 7_007),
    ]
)
"""The set in /work/shared/reference/public-figures.md: the defaults are fitted on these."""

VALIDATION = _points(
    [
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 128, 2048, 22_714),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 500, 2000, 17_660),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 2048, 128, 3_450),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 2048, 2048, 9_305),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 5000, 500, 3_459),
        ("llama-3.1-8b", "fp8", "h100-sxm", 1, 20000, 2000, 1_351),
        ("llama-3.1-8b", "fp8", "h200-sxm", 1, 2048, 2048, 12_194),
        ("llama-3.1-8b", "fp8", "h200-sxm", 1, 20000, 2000, 1_804),
        ("llama-3.3-70b", "fp8", "h200-sxm", 1, 128, 2048, 4_336),
        ("llama-3.3-70b", "fp8", "h200-sxm", 1, 2048, 128, 442),
        ("llama-3.3-70b", "fp8", "h200-sxm", 1, 2048, 2048, 2_003),
        ("llama-3.3-70b", "fp8", "h200-sxm", 1, 5000, 500, 566),
        ("llama-3.3-70b", "fp8", "h100-sxm", 2, 128, 128, 6_378),
        ("llama-3.3-70b", "fp8", "h100-sxm", 2, 20000, 2000, 437),
        ("llama-3.3-70b", "fp4", "b200", 1, 128, 128, 11_147),
        ("llama-3.3-70b", "fp4", "b200", 1, 2048, 128, 1_339),
        ("llama-3.3-70b", "fp4", "b200", 1, 20000, 2000, 665),
        ("llama-3.1-405b", "fp8", "h100-sxm", 8, 1000, 1000, 2_919),
        ("llama-3.1-405b", "fp8", "h200-sxm", 8, 1000, 1000, 3_330),
        ("llama-3.1-405b", "fp4", "b200", 4, 1000, 1000, 5_209),
    ]
)
"""Other rows of the same tables, not used in the fit: an out-of-sample check."""


def calibration_deployment(point: CalibrationPoint) -> SelfHosted:
    """The deployment that reproduces a measurement's setup (see the module docstring)."""
    weights = point.weights
    return SelfHosted(
        model=point.model,
        gpu=point.gpu,
        tensor_parallel=point.tensor_parallel,
        precision=Precision.model_validate(
            {"weights": weights, "kv_cache": "fp8", "activations": weights}
        ),
        max_batch_sequences=2048,
        max_batch_tokens=8192,
        gpu_memory_utilization=0.95,
    )
