"""GPU memory of one replica: weights, the activation/workspace reserve, and the KV cache.

Per GPU, `gpu_memory_utilization` x memory is usable (as in vLLM); from it go the weight
shard and a reserve for activations and workspaces; the rest holds KV-cache blocks (and, for
hybrid models, each sequence's fixed linear-attention state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from infersim.catalog.types import GpuSpec
from infersim.perf.precision import KV_BYTES, UNQUANTIZED_BYTES, WEIGHT_BYTES
from infersim.perf.shape import ModelShape
from infersim.scenario.deployment import Precision

WORKSPACE_BYTES = 1.0e9
"""Per GPU, whatever the batch: CUDA context, GEMM/attention workspaces, CUDA graphs."""
LOGITS_BYTES = 4.0
"""Logits are materialized in fp32 for sampling."""
MIN_KV_TOKENS = 2048
"""A deployment fits when, besides weights and reserve, its KV cache holds this many tokens."""

SequenceCapSource = Literal["scenario", "kv_blocks", "token_budget"]
"""Where a replica's cap on running sequences comes from: the scenario's explicit value, or
the binding physical limit (KV-cache blocks, or the per-iteration token budget)."""


@dataclass(frozen=True, slots=True)
class Placement:
    """A model (and its draft, if any) placed on a replica: everything memory depends on."""

    shape: ModelShape
    draft: ModelShape | None
    gpu: GpuSpec
    precision: Precision
    tensor_parallel: int
    expert_parallel: int
    gpu_memory_utilization: float
    max_batch_tokens: int
    max_batch_sequences: int | None
    """The scenario's cap on running sequences; None = derived (see `plan_memory`)."""
    kv_block_tokens: int
    verify_tokens: int
    """Tokens each decode sequence computes per iteration (gamma + 1 with speculation)."""

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.expert_parallel

    @property
    def token_budget_sequences(self) -> int:
        """Decode sequences one iteration's token budget holds (each computes verify_tokens);
        at least one, which the engine always runs."""
        return max(1, self.max_batch_tokens // self.verify_tokens)


def weight_bytes_per_gpu(shape: ModelShape, precision: Precision, tp: int, ep: int) -> float:
    """Weight shard of one GPU. Attention, dense layers and embeddings are split over the
    tensor-parallel ranks and replicated over the expert-parallel groups; routed experts are
    split over all GPUs. Embeddings and lm_head stay 16-bit."""
    per_weight = WEIGHT_BYTES[precision.weights]
    stored_16bit = (shape.embedding_params + shape.lm_head_stored_params) * UNQUANTIZED_BYTES
    dense = (shape.body_always_params * per_weight + stored_16bit) / tp
    return dense + shape.routed_expert_params * per_weight / (tp * ep)


def kv_bytes_per_token_per_gpu(shape: ModelShape, precision: Precision, tp: int) -> float:
    """KV bytes one cached token takes on each GPU of the tensor-parallel group holding it."""
    return shape.kv_elements_per_token_per_gpu(tp) * KV_BYTES[precision.kv_cache]


def reserve_bytes_per_gpu(placement: Placement) -> float:
    """Workspace plus peak activations of the largest iteration: hidden states and the MLP's
    intermediate for `max_batch_tokens`, and fp32 logits for every sequence's verify tokens
    (no more rows than `max_batch_tokens`). Needs the sequence cap set (`plan_memory` derives
    it first when the scenario leaves it out)."""
    p, s = placement, placement.shape
    tp, ep = p.tensor_parallel, p.expert_parallel
    tokens = p.max_batch_tokens / ep
    hidden = tokens * (4 * s.hidden_size + 2 * s.mlp_width / tp) * UNQUANTIZED_BYTES
    sequences = p.max_batch_sequences
    if sequences is None:
        sequences = p.token_budget_sequences
    logit_rows = min(sequences * p.verify_tokens, p.max_batch_tokens) / ep
    logits = logit_rows * s.vocab_size / tp * LOGITS_BYTES
    return WORKSPACE_BYTES + hidden + logits


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """Bytes per GPU, and what is left for the KV cache of the replica."""

    gpus: int
    tensor_parallel: int
    expert_parallel: int
    usable_bytes_per_gpu: float
    weight_bytes_per_gpu: float
    reserve_bytes_per_gpu: float
    kv_bytes_per_token_per_gpu: float
    """Target and draft KV of one token on each GPU of its tensor-parallel group."""
    kv_capacity_tokens_per_group: int
    """Tokens the KV cache of one expert-parallel group holds (whole blocks)."""
    state_bytes_per_sequence_per_gpu: float
    """Hybrid models: linear-attention state of one sequence on each GPU of its group."""
    kv_block_tokens: int
    max_batch_sequences: int
    """The cap on sequences running at once: the scenario's, or derived (`plan_memory`)."""
    max_batch_sequences_source: SequenceCapSource

    @property
    def kv_blocks(self) -> int:
        """KV-cache blocks of the replica, over all its expert-parallel groups."""
        return self.kv_capacity_tokens // self.kv_block_tokens

    @property
    def kv_free_bytes_per_gpu(self) -> float:
        return self.usable_bytes_per_gpu - self.weight_bytes_per_gpu - self.reserve_bytes_per_gpu

    @property
    def kv_capacity_tokens(self) -> int:
        """Tokens the replica's KV cache holds; expert-parallel groups hold distinct ones."""
        return self.kv_capacity_tokens_per_group * self.expert_parallel

    @property
    def kv_bytes_per_token(self) -> float:
        """Memory one cached token takes in the replica, replication across ranks included."""
        return self.kv_bytes_per_token_per_gpu * self.tensor_parallel

    def min_kv_bytes_per_gpu(self, min_kv_tokens: int) -> float:
        """One sequence of `min_kv_tokens`: its KV cache and recurrent state."""
        kv = min_kv_tokens * self.kv_bytes_per_token_per_gpu
        return kv + self.state_bytes_per_sequence_per_gpu

    def fits(self, min_kv_tokens: int = MIN_KV_TOKENS) -> bool:
        enough = self.kv_free_bytes_per_gpu >= self.min_kv_bytes_per_gpu(min_kv_tokens)
        return enough and self.kv_capacity_tokens_per_group >= min_kv_tokens

    def shortfall_bytes(self, min_kv_tokens: int = MIN_KV_TOKENS) -> float:
        """Bytes per replica missing for weights, reserve and `min_kv_tokens` of KV cache."""
        need = self.min_kv_bytes_per_gpu(min_kv_tokens) - self.kv_free_bytes_per_gpu
        return max(need, 0.0) * self.gpus


def plan_memory(p: Placement) -> MemoryPlan:
    """Weights, reserve and KV cache per GPU. Without an explicit cap on running sequences,
    the cap is the largest count both limits allow: every running sequence holds at least
    one KV block, and every decode sequence computes `verify_tokens` of the iteration's
    `max_batch_tokens`. The logits reserve grows with the cap (one fp32 row per verify
    token) and takes KV memory, so the cap is the largest c with c <= blocks(reserve(c)):
    blocks never grow with c, so bisection finds it."""
    if p.max_batch_sequences is not None:
        return _plan(p, p.max_batch_sequences, "scenario")
    budget = p.token_budget_sequences
    at_budget = _plan(replace(p, max_batch_sequences=budget), budget, "token_budget")
    if at_budget.kv_blocks >= budget:
        return at_budget
    low, high = 1, budget  # low: the largest count known to fit, high: known not to
    while high - low > 1:
        middle = (low + high) // 2
        if _plan(replace(p, max_batch_sequences=middle), middle, "kv_blocks").kv_blocks >= middle:
            low = middle
        else:
            high = middle
    return _plan(replace(p, max_batch_sequences=low), low, "kv_blocks")


def _plan(p: Placement, cap: int, source: SequenceCapSource) -> MemoryPlan:
    tp, ep = p.tensor_parallel, p.expert_parallel
    weights = weight_bytes_per_gpu(p.shape, p.precision, tp, ep)
    kv_token = kv_bytes_per_token_per_gpu(p.shape, p.precision, tp)
    if p.draft is not None:  # the draft runs tensor-parallel in every expert-parallel group
        weights += weight_bytes_per_gpu(p.draft, p.precision, tp, 1)
        kv_token += kv_bytes_per_token_per_gpu(p.draft, p.precision, tp)
    usable = p.gpu.memory_bytes * p.gpu_memory_utilization
    reserve = reserve_bytes_per_gpu(p)
    free = usable - weights - reserve
    blocks = math.floor(free / (kv_token * p.kv_block_tokens)) if free > 0 else 0
    return MemoryPlan(
        gpus=p.gpus,
        tensor_parallel=tp,
        expert_parallel=ep,
        usable_bytes_per_gpu=usable,
        weight_bytes_per_gpu=weights,
        reserve_bytes_per_gpu=reserve,
        kv_bytes_per_token_per_gpu=kv_token,
        kv_capacity_tokens_per_group=blocks * p.kv_block_tokens,
        state_bytes_per_sequence_per_gpu=p.shape.state_bytes_per_sequence / tp,
        kv_block_tokens=p.kv_block_tokens,
        max_batch_sequences=cap,
        max_batch_sequences_source=source,
    )
