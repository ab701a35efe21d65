"""The fit check: a deployment whose weights do not fit fails with how much is missing and
what would fit instead (more GPUs, narrower weights)."""

from __future__ import annotations

from dataclasses import replace

from infersim.catalog.types import Vendor
from infersim.perf.errors import DoesNotFit
from infersim.perf.memory import MIN_KV_TOKENS, MemoryPlan, Placement, plan_memory
from infersim.perf.precision import label
from infersim.scenario.deployment import WeightDtype

MAX_SUGGESTED_TP = 64
_NARROWER: dict[WeightDtype, tuple[WeightDtype, ...]] = {
    WeightDtype.BF16: (WeightDtype.FP8, WeightDtype.INT4),
    WeightDtype.FP16: (WeightDtype.FP8, WeightDtype.INT4),
    WeightDtype.FP8: (WeightDtype.INT4,),
    WeightDtype.INT8: (WeightDtype.INT4,),
}


def valid_tensor_parallel(p: Placement) -> list[int]:
    """Powers of two that divide the attention heads (one device only, for Apple silicon)."""
    if p.gpu.vendor is Vendor.APPLE:
        return [1]
    sizes, tp = [], 1
    while tp <= MAX_SUGGESTED_TP:
        if p.shape.num_attention_heads % tp == 0:
            sizes.append(tp)
        tp *= 2
    return sizes


def format_tokens(tokens: float) -> str:
    """2,048 / 340k / 1.2M."""
    if tokens >= 1e6:
        return f"{tokens / 1e6:.1f}M"
    if tokens >= 1e4:
        return f"{tokens / 1e3:.0f}k"
    return f"{tokens:,.0f}"


def _gb(value: float) -> str:
    return f"{value / 1e9:,.1f} GB"


def suggestions(p: Placement, min_kv_tokens: int = MIN_KV_TOKENS) -> list[str]:
    """For the current weight format and each narrower one, the smallest tensor-parallel size
    that fits, kept only when it needs fewer GPUs than the wider formats' answers."""
    options: list[str] = []
    fewest_gpus: int | None = None
    for weights in (p.precision.weights, *_NARROWER.get(p.precision.weights, ())):
        for tp in valid_tensor_parallel(p):
            if tp < p.tensor_parallel and weights is p.precision.weights:
                continue
            candidate = replace(
                p, tensor_parallel=tp, precision=p.precision.model_copy(update={"weights": weights})
            )
            plan = plan_memory(candidate)
            if not plan.fits(min_kv_tokens):
                continue
            if fewest_gpus is None or plan.gpus < fewest_gpus:
                fewest_gpus = plan.gpus
                change = f"tensor_parallel: {tp}"
                if weights is not p.precision.weights:
                    change += f" with {weights.value} weights"
                kv = format_tokens(plan.kv_capacity_tokens)
                options.append(f"{change} (fits {kv} tokens of KV cache)")
            break
    return options


def check_fit(p: Placement, plan: MemoryPlan, min_kv_tokens: int = MIN_KV_TOKENS) -> None:
    """Raise `DoesNotFit` unless the KV cache holds `min_kv_tokens` after weights and reserve."""
    if plan.fits(min_kv_tokens):
        return
    gpus = plan.gpus
    usable = plan.usable_bytes_per_gpu * gpus
    weights = plan.weight_bytes_per_gpu * gpus
    reserve = plan.reserve_bytes_per_gpu * gpus
    message = (
        f"{p.shape.id} {label(p.precision)} needs {_gb(weights)} of weights per replica "
        f"(+ {_gb(reserve)} of activations and workspace, and {min_kv_tokens:,} tokens of KV "
        f"cache); {gpus} x {p.gpu.id} give {_gb(usable)} usable "
        f"(short by {_gb(plan.shortfall_bytes(min_kv_tokens))})"
    )
    options = suggestions(p, min_kv_tokens)
    if options:
        message += "; try " + ", or ".join(options)
    else:
        message += (
            f"; no tensor_parallel up to {MAX_SUGGESTED_TP}, even with int4 weights, fits: "
            "use a GPU with more memory"
        )
    raise DoesNotFit(message)
