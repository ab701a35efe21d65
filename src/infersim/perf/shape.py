"""What a model architecture implies for inference: parameter groups, attention FLOPs per
context token, KV-cache elements per token, and (hybrid models) the fixed per-sequence state of
linear-attention layers, which have no KV cache and no attention over the context.

Parameter groups come from the catalog's totals, not from re-deriving every matrix: the
catalog's `total_params_b` and `active_params_b` are published figures, and the shapes only
split them. For an MoE with E routed experts of which k are active per token, one expert's
parameters (all MoE layers together) are (total - active) / (E - k); the rest of `active` is
always active (attention, dense layers, shared experts, routers, embeddings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from infersim.catalog.types import AttentionKind, ModelArch


@dataclass(frozen=True, slots=True)
class ModelShape:
    """Parameter counts (in parameters, not billions) and per-token attention costs."""

    id: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    num_attention_heads: int
    mlp_width: int
    """Widest MLP a token goes through (dense width, or top-k x expert width)."""
    embedding_params: float
    """Input embedding: looked up, never multiplied, never read whole."""
    lm_head_params: float
    """Output projection (vocab x hidden), multiplied for each token that needs logits."""
    lm_head_stored_params: float
    """0 when the output projection is tied to the input embedding."""
    body_always_params: float
    """Quantizable weights every token uses: attention, dense MLPs, shared experts, routers."""
    routed_expert_params: float
    """All routed experts of all MoE layers (0 for a dense model)."""
    num_experts: int
    """Routed experts per MoE layer (0 for a dense model)."""
    experts_per_token: int
    num_moe_layers: int
    attn_prefill_flops_per_pair: float
    """FLOPs for one (query token, context token) pair, all layers, prefill kernels."""
    attn_decode_flops_per_pair: float
    """Same for decode; differs from prefill only for MLA (absorbed projections)."""
    kv_heads: int
    """KV heads per layer; 0 for MLA, whose latent is not split across tensor-parallel ranks."""
    kv_elements_per_head: int
    """Cached elements per token per layer per KV head (2 x head_dim), or the MLA latent."""
    kv_layers: int
    """Layers with a KV cache that grows with the context (all but a hybrid's linear ones)."""
    state_bytes_per_sequence: float
    """Hybrid models: fixed recurrent state of all linear-attention layers, per sequence."""

    @property
    def total_params(self) -> float:
        stored = self.embedding_params + self.lm_head_stored_params
        return stored + self.body_always_params + self.routed_expert_params

    @property
    def active_body_params(self) -> float:
        """Quantizable parameters one token multiplies (lm_head excluded)."""
        per_expert = self.routed_expert_params / self.num_experts if self.num_experts else 0.0
        return self.body_always_params + self.experts_per_token * per_expert

    def kv_elements_per_token_per_gpu(self, tensor_parallel: int) -> float:
        """Cached elements per token, all layers, on one GPU of a tensor-parallel group.

        GQA/MHA heads are split across ranks, replicated where there are fewer KV heads than
        ranks; the MLA latent is replicated on every rank (as vLLM and SGLang store it).
        """
        heads = math.ceil(self.kv_heads / tensor_parallel) if self.kv_heads else 1
        return float(self.kv_layers * heads * self.kv_elements_per_head)

    def kv_elements_per_token(self) -> float:
        """Cached elements per token, all layers, without any replication."""
        return float(self.kv_layers * max(self.kv_heads, 1) * self.kv_elements_per_head)


def model_shape(arch: ModelArch) -> ModelShape:
    """Split the catalog's parameter totals into the groups the performance model needs."""
    total = arch.total_params_b * 1e9
    active = arch.active_params_b * 1e9
    embedding = float(arch.vocab_size * arch.hidden_size)
    lm_head_stored = 0.0 if arch.tie_word_embeddings else embedding
    body_total = max(total - embedding - lm_head_stored, 0.0)
    body_active = max(active - embedding - lm_head_stored, 0.0)

    moe = arch.moe
    routed = 0.0
    experts = top_k = moe_layers = 0
    mlp_width = arch.intermediate_size
    if moe is not None and moe.num_experts > moe.experts_per_token:
        experts, top_k = moe.num_experts, moe.experts_per_token
        moe_layers = arch.num_layers - moe.num_dense_layers
        per_expert = (body_total - body_active) / (experts - top_k)
        routed = experts * per_expert
        dense_width = mlp_width if moe.num_dense_layers else 0
        mlp_width = max(dense_width, top_k * moe.expert_intermediate_size)
    body_always = max(body_total - routed, 0.0)

    heads = arch.num_attention_heads
    kv_layers = arch.num_kv_cache_layers
    state_bytes = arch.linear_attention_state_bytes or 0.0
    if arch.attention is AttentionKind.MLA and arch.mla is not None:
        mla = arch.mla
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        prefill_pair = 2.0 * heads * (qk + mla.v_head_dim)
        latent = mla.kv_lora_rank + mla.qk_rope_head_dim
        decode_pair = 2.0 * heads * (latent + mla.kv_lora_rank)
        kv_heads, per_head = 0, latent
    else:
        prefill_pair = decode_pair = 4.0 * heads * arch.head_dim
        kv_heads, per_head = arch.num_kv_heads, 2 * arch.head_dim

    return ModelShape(
        id=arch.id,
        num_layers=arch.num_layers,
        hidden_size=arch.hidden_size,
        vocab_size=arch.vocab_size,
        num_attention_heads=heads,
        mlp_width=mlp_width,
        embedding_params=embedding,
        lm_head_params=embedding,
        lm_head_stored_params=lm_head_stored,
        body_always_params=body_always,
        routed_expert_params=routed,
        num_experts=experts,
        experts_per_token=top_k,
        num_moe_layers=moe_layers,
        attn_prefill_flops_per_pair=prefill_pair * kv_layers,
        attn_decode_flops_per_pair=decode_pair * kv_layers,
        kv_heads=kv_heads,
        kv_elements_per_head=per_head,
        kv_layers=kv_layers,
        state_bytes_per_sequence=(arch.num_layers - kv_layers) * state_bytes,
    )


def with_redundant_experts(shape: ModelShape, redundant: int) -> ModelShape:
    """The shape as a replica holds it with `redundant` extra copies of routed experts per MoE
    layer (DeepSeek-V3's expert-parallel load balancing: 256 routed experts plus 32 copies of
    the most loaded ones, spread over 32 or 144 GPUs). Each copy's weights are stored, and
    a batch large enough to spread over every copy reads them all; a token still multiplies
    `experts_per_token` experts, so the active parameters do not change."""
    if redundant == 0 or shape.num_experts == 0:
        return shape
    slots = shape.num_experts + redundant
    per_expert = shape.routed_expert_params / shape.num_experts
    return replace(shape, routed_expert_params=per_expert * slots, num_experts=slots)


def expected_distinct_experts(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Expected number of distinct experts a batch of `tokens` touches in one MoE layer, with
    each token picking `experts_per_token` of `num_experts` uniformly without replacement:
    E x (1 - (1 - k/E)^T). It is k for one token and tends to E as the batch grows. (Real
    routers are skewed, which touches somewhat fewer experts: this is an upper estimate.)"""
    if num_experts == 0 or tokens <= 0:
        return 0.0
    miss = 1.0 - experts_per_token / num_experts
    return num_experts * (1.0 - math.pow(miss, tokens))


def chunk_context_tokens(chunk_tokens: int, cached_tokens: int) -> int:
    """`prefill_context_tokens` of one prefill chunk: the sum, over its new tokens, of the
    context each attends to (causal). A chunk of n tokens after p tokens already in the KV
    cache gives n*p + n(n+1)/2; sum this over the chunks of an iteration."""
    return chunk_tokens * cached_tokens + chunk_tokens * (chunk_tokens + 1) // 2
