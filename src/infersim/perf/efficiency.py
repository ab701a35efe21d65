"""Achieved fractions of peak, per GPU family: the calibrated parameters of the roofline.

Peaks are the catalog's dense datasheet figures. What serving engines reach is a fraction of
them; these fractions are the only free parameters of the performance model, and the
defaults below are fitted on public measurements (`infersim.perf.calibration`: TensorRT-LLM
perf overview, max-throughput runs, FP8 / NVFP4 weights, FP8 KV cache):

    point (in/out tokens)              published  predicted  error
    Llama-3.1-8B  FP8  1xH100 1000/1000   15,220     14,461  -5.0%
    Llama-3.1-8B  FP8  1xH200 1000/1000   17,744     17,524  -1.2%
    Llama-3.1-8B  FP8  1xH100  128/128    28,312     28,103  -0.7%
    Llama-3.1-8B  FP8  1xH200  128/128    27,911     29,286  +4.9%
    Llama-3.3-70B FP8  1xH200 1000/1000    2,909      2,849  -2.1%
    Llama-3.3-70B FP8  2xH100 1000/1000    4,205      4,546  +8.1%
    Llama-3.3-70B FP4  1xB200 1000/1000    7,007      7,025  +0.3%

Twenty other rows of the same tables (not fitted on) fall within -18%..+18%, except long
prompts on a small batch (20000/2000 on 2xH100 and 1xB200), predicted +35..+38% too fast.

- Hopper (H100, H200, H800): one set for the six Hopper points.
- Blackwell (B200): compute fitted on the one B200 point, the rest as on Hopper. FP4 GEMMs
  reach a smaller share of their (doubled) peak than FP8 GEMMs on Hopper.
- Ampere, Ada, CDNA3 (MI300X) and Apple silicon have no point in the calibration set: their
  fractions are estimates (listed in `ASSUMED_FAMILIES`), set relative to Hopper from the
  commonly reported gaps (older kernels on Ampere/Ada, a less mature ROCm stack on MI300X,
  Metal/MLX reaching roughly 60% of unified-memory bandwidth on Apple silicon).
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.catalog.types import GpuSpec, Vendor


@dataclass(frozen=True, slots=True)
class Efficiency:
    """What a serving engine achieves on a GPU, as fractions of the datasheet peaks."""

    compute: float
    """Fraction of the dense tensor-core peak reached by GEMMs and attention kernels."""
    memory_bandwidth: float
    """Fraction of peak memory bandwidth reached when streaming weights and the KV cache."""
    interconnect: float
    """Fraction of the per-direction GPU-to-GPU bandwidth reached by collectives."""
    overhead_s: float
    """Fixed cost of one engine iteration: scheduling, sampling, kernel launches."""
    dequant_overhead: float
    """Extra GEMM time when weights are dequantized on the fly (weight-only int4, or FP8/FP4
    weights on a GPU without that tensor-core format), as a fraction of the GEMM time."""
    collective_latency_s: float = 8e-6
    """Fixed latency of one all-reduce or all-to-all, whatever its size."""

    def __post_init__(self) -> None:
        for name in ("compute", "memory_bandwidth", "interconnect"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"efficiency {name} must be in (0, 1], got {value}")
        for name in ("overhead_s", "dequant_overhead", "collective_latency_s"):
            value = getattr(self, name)
            if not 0 <= value < 1e3:
                raise ValueError(f"efficiency {name} must be >= 0, got {value}")


# Fitted: a grid over compute 0.40-0.60, memory 0.70-0.90, interconnect 0.5-0.9 and overhead
# 0.5-2 ms, minimizing the RMS log error over the six Hopper points, rounded; the surface is
# flat around it (RMS 4-5% for compute 0.5 with memory 0.75-0.9). Interconnect rests on a
# single tensor-parallel point (70B on 2xH100).
HOPPER = Efficiency(
    compute=0.50,
    memory_bandwidth=0.80,
    interconnect=0.50,
    overhead_s=1.0e-3,
    dequant_overhead=0.15,
)
# Fitted: compute alone, on the one B200 point, the rest as on Hopper.
BLACKWELL = Efficiency(
    compute=0.31,
    memory_bandwidth=0.80,
    interconnect=0.50,
    overhead_s=1.0e-3,
    dequant_overhead=0.15,
)
# Estimates (no calibration point): see the module docstring.
AMPERE = Efficiency(
    compute=0.50,
    memory_bandwidth=0.75,
    interconnect=0.50,
    overhead_s=1.5e-3,
    dequant_overhead=0.20,
)
ADA = Efficiency(
    compute=0.45,
    memory_bandwidth=0.75,
    interconnect=0.50,
    overhead_s=1.5e-3,
    dequant_overhead=0.20,
)
CDNA = Efficiency(
    compute=0.35,
    memory_bandwidth=0.65,
    interconnect=0.45,
    overhead_s=1.5e-3,
    dequant_overhead=0.25,
    collective_latency_s=15e-6,
)
APPLE = Efficiency(
    compute=0.50,
    memory_bandwidth=0.60,
    interconnect=0.50,
    overhead_s=3.0e-3,
    dequant_overhead=0.10,
)
GENERIC = Efficiency(
    compute=0.40,
    memory_bandwidth=0.70,
    interconnect=0.45,
    overhead_s=2.0e-3,
    dequant_overhead=0.20,
    collective_latency_s=15e-6,
)

FAMILY_EFFICIENCY: dict[str, Efficiency] = {
    "hopper": HOPPER,
    "blackwell": BLACKWELL,
    "ampere": AMPERE,
    "ada": ADA,
    "lovelace": ADA,
    "cdna": CDNA,
    "apple": APPLE,
}
ASSUMED_FAMILIES = ("ampere", "ada", "cdna", "apple")
"""Families whose defaults are estimates, not fitted on a measurement."""


def family_key(gpu: GpuSpec) -> str:
    """The key of `FAMILY_EFFICIENCY` that a GPU falls under, or 'generic'."""
    family = gpu.family.lower()
    for key in FAMILY_EFFICIENCY:
        if key in family:
            return key
    if gpu.vendor is Vendor.APPLE:
        return "apple"
    return "generic"


def default_efficiency(gpu: GpuSpec) -> Efficiency:
    """The calibrated (or, for families outside the calibration set, estimated) defaults."""
    return FAMILY_EFFICIENCY.get(family_key(gpu), GENERIC)
