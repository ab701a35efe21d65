"""Build a `PerfModel` from a self-hosted deployment and the catalog."""

from __future__ import annotations

from infersim.catalog.load import Catalog
from infersim.catalog.types import GpuSpec, ModelArch
from infersim.perf.costs import build_roofline, interconnect_bytes_per_s
from infersim.perf.efficiency import Efficiency, default_efficiency
from infersim.perf.errors import InvalidDeploymentError
from infersim.perf.fit import check_fit
from infersim.perf.memory import MIN_KV_TOKENS, Placement, plan_memory
from infersim.perf.model import PerfModel
from infersim.perf.precision import compute_format, label, quality_penalty
from infersim.perf.roofline import Roofline
from infersim.perf.shape import ModelShape, model_shape, with_redundant_experts
from infersim.perf.speculative import (
    default_draft_cost_ratio,
    draft_has_own_pass,
    expected_tokens_by_position,
)
from infersim.scenario.deployment import SelfHosted, SpeculativeDecoding, SpeculativeMethod


def _model(ref: str | ModelArch, catalog: Catalog) -> ModelArch:
    try:
        return catalog.model_of(ref)
    except KeyError as exc:
        raise InvalidDeploymentError(str(exc.args[0])) from None


def _gpu(ref: str | GpuSpec, catalog: Catalog) -> GpuSpec:
    try:
        return catalog.gpu_of(ref)
    except KeyError as exc:
        raise InvalidDeploymentError(str(exc.args[0])) from None


def _check_split(arch: ModelArch, tp: int, ep: int, redundant: int) -> None:
    if arch.num_attention_heads % tp:
        raise InvalidDeploymentError(
            f"tensor_parallel {tp} must divide the {arch.num_attention_heads} attention heads "
            f"of {arch.id}"
        )
    if redundant and arch.moe is None:
        raise InvalidDeploymentError(
            f"redundant_experts {redundant} needs a mixture-of-experts model; {arch.id} is dense"
        )
    if ep > 1:
        if arch.moe is None:
            raise InvalidDeploymentError(
                f"expert_parallel {ep} needs a mixture-of-experts model; {arch.id} is dense"
            )
        experts = arch.moe.num_experts
        if (experts + redundant) % ep:
            fill = -experts % ep
            held = f"{experts} experts of {arch.id}"
            if redundant:
                held += f" plus its {redundant} redundant experts ({experts + redundant})"
            raise InvalidDeploymentError(
                f"expert_parallel {ep} must divide the {held}; give redundant_experts "
                f"{fill} (or {fill} plus a multiple of {ep}) to even them out"
            )


def _draft(
    spec: SpeculativeDecoding,
    target: Roofline,
    target_shape: ModelShape,
    draft_roofline: Roofline | None,
) -> tuple[Roofline, bool]:
    """The draft's cost model, and whether it also prefills prompts.

    - A given draft_cost_ratio c makes one draft step c times a target decode step, its
      per-iteration overhead included.
    - A draft model is timed as the model it is (its weights, its KV cache, at the batch
      running), each of its steps a forward pass with the engine's per-iteration overhead.
    - EAGLE's steps are forward passes too (their work from `default_draft_cost_ratio`);
      Medusa's heads run within the target's pass and n-gram lookup on the CPU: no overhead.
    """
    if spec.draft_cost_ratio is not None:
        c = spec.draft_cost_ratio
        return target.scaled(c, c * target.overhead_s), False
    if draft_roofline is not None:
        return draft_roofline, True
    overhead_s = target.overhead_s if draft_has_own_pass(spec.method) else 0.0
    return target.scaled(default_draft_cost_ratio(spec.method, target_shape), overhead_s), False


def build_perf_model(
    deployment: SelfHosted,
    catalog: Catalog,
    efficiency: Efficiency | None = None,
    *,
    min_kv_tokens: int = MIN_KV_TOKENS,
) -> PerfModel:
    """Precompute a deployment's constants. Raises `DoesNotFit` when weights, reserve and
    `min_kv_tokens` of KV cache exceed the usable memory, and `InvalidDeploymentError` for an
    unknown model or GPU or an impossible split."""
    arch = _model(deployment.model, catalog)
    gpu = _gpu(deployment.gpu, catalog)
    tp, ep = deployment.tensor_parallel, deployment.expert_parallel
    redundant = deployment.redundant_experts
    _check_split(arch, tp, ep, redundant)
    interconnect_bytes_per_s(gpu, tp * ep)  # single devices cannot be split
    eff = efficiency if efficiency is not None else default_efficiency(gpu)
    precision = deployment.precision

    spec = deployment.speculative
    draft_arch: ModelArch | None = None
    if spec is not None and spec.method is SpeculativeMethod.DRAFT_MODEL:
        if spec.draft_model is None:  # excluded by SpeculativeDecoding's validator
            raise InvalidDeploymentError("speculative method draft_model needs a draft_model")
        draft_arch = _model(spec.draft_model, catalog)
        if draft_arch.num_attention_heads % tp:
            raise InvalidDeploymentError(
                f"tensor_parallel {tp} must divide the {draft_arch.num_attention_heads} "
                f"attention heads of the draft model {draft_arch.id}"
            )
    gamma = spec.draft_tokens if spec is not None else 0
    shape = with_redundant_experts(model_shape(arch), redundant)
    draft_shape = model_shape(draft_arch) if draft_arch is not None else None

    placement = Placement(
        shape=shape,
        draft=draft_shape,
        gpu=gpu,
        precision=precision,
        tensor_parallel=tp,
        expert_parallel=ep,
        gpu_memory_utilization=deployment.gpu_memory_utilization,
        max_batch_tokens=deployment.max_batch_tokens,
        max_batch_sequences=deployment.max_batch_sequences,
        kv_block_tokens=deployment.kv_block_tokens,
        verify_tokens=gamma + 1,
    )
    plan = plan_memory(placement)
    check_fit(placement, plan, min_kv_tokens)

    target = build_roofline(shape, gpu, precision, tp, ep, eff)
    draft: Roofline | None = None
    draft_prefills = False
    tokens_per_step = 1.0
    if spec is not None:
        draft_roofline = None
        if draft_shape is not None:
            draft_roofline = build_roofline(draft_shape, gpu, precision, tp, ep, eff)
        draft, draft_prefills = _draft(spec, target, shape, draft_roofline)
        tokens_per_step = expected_tokens_by_position(spec.acceptance_rates())

    cached = deployment.prefix_caching
    return PerfModel(
        model_id=arch.id,
        gpu_id=gpu.id,
        precision_label=label(precision),
        tensor_parallel=tp,
        expert_parallel=ep,
        gpus_per_replica=tp * ep,
        weight_bytes_per_gpu=plan.weight_bytes_per_gpu,
        reserve_bytes_per_gpu=plan.reserve_bytes_per_gpu,
        usable_bytes_per_gpu=plan.usable_bytes_per_gpu,
        kv_bytes_per_token=plan.kv_bytes_per_token,
        kv_capacity_tokens=plan.kv_capacity_tokens,
        kv_capacity_tokens_per_group=plan.kv_capacity_tokens_per_group,
        kv_free_bytes_per_gpu=plan.kv_free_bytes_per_gpu,
        kv_bytes_per_token_per_gpu=plan.kv_bytes_per_token_per_gpu,
        state_bytes_per_sequence_per_gpu=plan.state_bytes_per_sequence_per_gpu,
        max_batch_sequences=plan.max_batch_sequences,
        max_batch_sequences_source=plan.max_batch_sequences_source,
        max_batch_tokens=deployment.max_batch_tokens,
        kv_block_tokens=deployment.kv_block_tokens,
        decode_tokens_per_step=tokens_per_step,
        verify_tokens=gamma + 1,
        draft_steps=gamma,
        quality_penalty=quality_penalty(precision),
        prefix_cached_share=cached.cached_share if cached is not None else 0.0,
        efficiency=eff,
        peak_flops_per_gpu=compute_format(precision, gpu).peak_flops,
        peak_bandwidth_bytes_per_s=gpu.memory_bandwidth_gb_per_s * 1e9,
        target=target,
        draft=draft,
        draft_prefills=draft_prefills,
    )
