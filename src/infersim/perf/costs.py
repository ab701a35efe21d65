"""Turn a placement and achieved efficiencies into the per-GPU coefficients of a `Roofline`."""

from __future__ import annotations

from infersim.catalog.types import GpuSpec, Vendor
from infersim.perf.efficiency import Efficiency
from infersim.perf.errors import InvalidDeploymentError
from infersim.perf.memory import kv_bytes_per_token_per_gpu
from infersim.perf.precision import (
    ACTIVATION_BYTES,
    UNQUANTIZED_BYTES,
    WEIGHT_BYTES,
    compute_format,
)
from infersim.perf.roofline import Roofline
from infersim.perf.shape import ModelShape
from infersim.scenario.deployment import Precision

PCIE_GB_PER_S = 64.0
"""PCIe Gen4 x16, both directions: GPU-to-GPU bandwidth when the catalog gives no NVLink."""


def interconnect_bytes_per_s(gpu: GpuSpec, gpus: int) -> float:
    """Per-direction GPU-to-GPU bandwidth (vendors quote both directions together)."""
    if gpu.interconnect_gb_per_s is not None:
        return gpu.interconnect_gb_per_s * 1e9 / 2
    if gpus > 1 and gpu.vendor is Vendor.APPLE:
        raise InvalidDeploymentError(
            f"{gpu.id} is a single device: tensor_parallel x expert_parallel must be 1, got {gpus}"
        )
    return PCIE_GB_PER_S * 1e9 / 2


def build_roofline(
    shape: ModelShape,
    gpu: GpuSpec,
    precision: Precision,
    tp: int,
    ep: int,
    efficiency: Efficiency,
) -> Roofline:
    """Coefficients for `shape` on a replica of tp x ep GPUs. Tokens are spread evenly over
    the expert-parallel groups (data-parallel attention), work within a group over its
    tensor-parallel ranks, and routed experts over all GPUs."""
    gpus = tp * ep
    fmt = compute_format(precision, gpu)
    dequant = 1.0 + efficiency.dequant_overhead if fmt.weight_only else 1.0
    gemm_flops = fmt.peak_flops * efficiency.compute
    bf16_flops = gpu.bf16_tflops * 1e12 * efficiency.compute
    bandwidth = gpu.memory_bandwidth_gb_per_s * 1e9 * efficiency.memory_bandwidth
    per_weight = WEIGHT_BYTES[precision.weights]

    comm_per_token = comm_fixed = 0.0
    if gpus > 1:
        link = interconnect_bytes_per_s(gpu, gpus) * efficiency.interconnect
        latency = efficiency.collective_latency_s
        if tp > 1:  # ring all-reduce after attention and after the MLP, every layer
            reduces = 2 * shape.num_layers
            per_reduce = 2 * (tp - 1) / tp * shape.hidden_size * ACTIVATION_BYTES / ep
            comm_per_token += reduces * per_reduce / link
            comm_fixed += reduces * latency
        if ep > 1 and shape.num_experts:  # dispatch and combine, every MoE layer
            exchanges = 2 * shape.num_moe_layers
            sent = shape.experts_per_token * shape.hidden_size * ACTIVATION_BYTES
            per_exchange = sent * (ep - 1) / ep / (ep * tp)
            comm_per_token += exchanges * per_exchange / link
            comm_fixed += exchanges * latency

    kv_token = kv_bytes_per_token_per_gpu(shape, precision, tp)
    always_bytes = shape.body_always_params * per_weight + shape.lm_head_params * UNQUANTIZED_BYTES
    return Roofline(
        linear_s_per_token=2 * shape.active_body_params / gpus / gemm_flops * dequant,
        head_s_per_token=2 * shape.lm_head_params / gpus / bf16_flops,
        weights_s=always_bytes / tp / bandwidth,
        experts_s=shape.routed_expert_params * per_weight / gpus / bandwidth,
        expert_miss=1 - shape.experts_per_token / shape.num_experts if shape.num_experts else 1.0,
        attn_prefill_s_per_pair=shape.attn_prefill_flops_per_pair / gpus / bf16_flops,
        attn_decode_s_per_pair=shape.attn_decode_flops_per_pair / gpus / bf16_flops,
        kv_s_per_token=kv_token / ep / bandwidth,
        state_s_per_seq=2 * shape.state_bytes_per_sequence / tp / ep / bandwidth,
        comm_s_per_token=comm_per_token,
        comm_fixed_s=comm_fixed,
        overhead_s=efficiency.overhead_s,
    )
