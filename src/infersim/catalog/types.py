"""Catalog entry types: GPUs, model architectures and API list prices.

Every entry carries where its figures come from (`sources`) and the day they were checked
(`checked`). Figures that are estimates rather than published values are listed in `assumed`.
Units are in the field names; all models are strict (`extra="forbid"`) and immutable.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="lower-case identifier: letters, digits, '.', '_' and '-'",
    ),
]
PositiveFloat = Annotated[float, Field(gt=0, lt=1e9, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0, lt=10**9)]
NonNegativeInt = Annotated[int, Field(ge=0, lt=10**9)]


class Strict(BaseModel):
    """Base for every catalog and scenario model: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a figure comes from."""

    url: HttpUrl
    title: str | None = Field(default=None, max_length=300)


class Sourced(Strict):
    """Mixin for catalog entries: provenance is mandatory."""

    sources: list[Source] = Field(min_length=1, description="where the figures come from")
    checked: dt.date = Field(description="the day the figures were checked against the sources")
    assumed: list[str] = Field(
        default_factory=list,
        description="names of fields whose values are estimates, not published figures",
    )
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _assumed_names_fields(self) -> Sourced:
        unknown = sorted(set(self.assumed) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"assumed names unknown fields: {', '.join(unknown)}")
        return self


# --------------------------------------------------------------------------------------------
# GPUs and other accelerators
# --------------------------------------------------------------------------------------------


class Vendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    APPLE = "apple"
    OTHER = "other"


class Pricing(StrEnum):
    """How a GPU-hour is bought."""

    ON_DEMAND = "on_demand"
    RESERVED = "reserved"
    SPOT = "spot"


class RentalQuote(Strict):
    """A public rental price for one GPU-hour, on a date."""

    pricing: Pricing = Pricing.ON_DEMAND
    usd_per_hour: PositiveFloat
    provider: str = Field(min_length=1, max_length=100)
    date: dt.date
    source: Source
    term_years: Literal[1, 3] | None = Field(
        default=None,
        description="reserved quotes: the commitment's term, 1 or 3 years (none: not stated; "
        "such a quote does not price a reservation of a given term)",
    )

    @model_validator(mode="after")
    def _term_only_reserved(self) -> RentalQuote:
        if self.term_years is not None and self.pricing is not Pricing.RESERVED:
            raise ValueError("term_years goes with a reserved quote only")
        return self


class GpuSpec(Sourced):
    """One accelerator: dense (no sparsity) peak throughput, memory and interconnect."""

    id: Id
    name: str = Field(min_length=1, max_length=120)
    vendor: Vendor
    family: str = Field(min_length=1, max_length=40, description="architecture, e.g. hopper")
    bf16_tflops: PositiveFloat = Field(description="dense BF16/FP16 tensor peak, TFLOP/s")
    fp8_tflops: PositiveFloat | None = Field(default=None, description="dense FP8 peak, TFLOP/s")
    int8_tops: PositiveFloat | None = Field(default=None, description="dense INT8 peak, TOP/s")
    fp4_tflops: PositiveFloat | None = Field(default=None, description="dense FP4 peak, TFLOP/s")
    memory_gb: PositiveFloat = Field(description="device memory in GB (10^9 bytes), as sold")
    memory_bandwidth_gb_per_s: PositiveFloat = Field(description="peak memory bandwidth, GB/s")
    interconnect_gb_per_s: PositiveFloat | None = Field(
        default=None,
        description="GPU-to-GPU bandwidth per GPU (NVLink / Infinity Fabric), GB/s, "
        "total of both directions as vendors quote it; none for single-device machines",
    )
    interconnect: str | None = Field(default=None, max_length=60, description="e.g. nvlink4")
    tdp_w: PositiveFloat | None = Field(default=None, description="board power, W")
    purchase_usd: PositiveFloat | None = Field(
        default=None, description="indicative purchase price of one unit, USD"
    )
    rental: list[RentalQuote] = Field(default_factory=list)

    @property
    def default_rental_usd_per_hour(self) -> float | None:
        """The first on-demand quote, or the first quote of any kind, or None."""
        for quote in self.rental:
            if quote.pricing is Pricing.ON_DEMAND:
                return quote.usd_per_hour
        return self.rental[0].usd_per_hour if self.rental else None

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * 1e9


class GridRegion(Sourced):
    """An electricity grid's carbon intensity: life-cycle gCO2e per kWh generated, one year."""

    id: Id
    name: str = Field(min_length=1, max_length=120)
    gco2e_per_kwh: Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)]
    year: Annotated[int, Field(ge=1990, le=2100, strict=True)] = Field(
        description="the year the intensity was measured over"
    )


# --------------------------------------------------------------------------------------------
# Model architectures
# --------------------------------------------------------------------------------------------


class AttentionKind(StrEnum):
    MHA = "mha"
    GQA = "gqa"
    MLA = "mla"


class Mla(Strict):
    """Multi-head latent attention (DeepSeek-V2/V3): the KV cache holds a compressed latent."""

    kv_lora_rank: PositiveInt = Field(description="latent width cached per token per layer")
    qk_rope_head_dim: PositiveInt = Field(description="decoupled RoPE key width cached per token")
    qk_nope_head_dim: PositiveInt
    v_head_dim: PositiveInt
    q_lora_rank: PositiveInt | None = None


class Moe(Strict):
    """Mixture of experts: routed experts, of which top-k are active per token, plus shared."""

    num_experts: PositiveInt = Field(description="routed experts per MoE layer")
    experts_per_token: PositiveInt = Field(description="routed experts active per token (top-k)")
    num_shared_experts: NonNegativeInt = 0
    expert_intermediate_size: PositiveInt = Field(description="MLP width of one expert")
    num_dense_layers: NonNegativeInt = Field(
        default=0, description="leading layers with a dense MLP instead of experts"
    )

    @model_validator(mode="after")
    def _top_k_within_experts(self) -> Moe:
        if self.experts_per_token > self.num_experts:
            raise ValueError(
                f"experts_per_token ({self.experts_per_token}) exceeds "
                f"num_experts ({self.num_experts})"
            )
        return self


class ModelArch(Sourced):
    """A transformer's shape, enough to count its FLOPs, weight bytes and KV-cache bytes."""

    id: Id
    name: str = Field(min_length=1, max_length=120)
    hf_repo: str | None = Field(default=None, max_length=200, description="e.g. meta-llama/...")
    num_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_kv_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: PositiveInt = Field(description="dense MLP width (dense layers)")
    vocab_size: PositiveInt
    max_context_tokens: PositiveInt
    total_params_b: PositiveFloat = Field(description="all parameters, billions")
    active_params_b: PositiveFloat = Field(description="parameters used per token, billions")
    attention: AttentionKind
    mla: Mla | None = None
    moe: Moe | None = None
    tie_word_embeddings: bool = False
    kv_cache_layers: PositiveInt | None = Field(
        default=None,
        description="hybrid models: layers with full attention and a growing KV cache; the "
        "other layers use linear attention with a fixed state. none = every layer",
    )
    linear_attention_state_bytes: Annotated[float, Field(ge=0, lt=1e12)] | None = Field(
        default=None,
        description="hybrid models: fixed recurrent state per sequence per linear-attention "
        "layer, bytes",
    )

    @property
    def num_kv_cache_layers(self) -> int:
        """Layers whose KV cache grows with the context."""
        return self.kv_cache_layers if self.kv_cache_layers is not None else self.num_layers

    @model_validator(mode="after")
    def _consistent(self) -> ModelArch:
        if self.active_params_b > self.total_params_b:
            raise ValueError(
                f"active_params_b ({self.active_params_b}) exceeds "
                f"total_params_b ({self.total_params_b})"
            )
        if self.num_kv_heads > self.num_attention_heads:
            raise ValueError("num_kv_heads exceeds num_attention_heads")
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError("num_attention_heads must be a multiple of num_kv_heads")
        if (self.attention is AttentionKind.MLA) != (self.mla is not None):
            raise ValueError("attention 'mla' and an 'mla' block go together")
        if self.attention is AttentionKind.MHA and self.num_kv_heads != self.num_attention_heads:
            raise ValueError("attention 'mha' needs num_kv_heads == num_attention_heads")
        if self.kv_cache_layers is not None and self.kv_cache_layers > self.num_layers:
            raise ValueError("kv_cache_layers exceeds num_layers")
        if self.moe is None and self.active_params_b != self.total_params_b:
            raise ValueError("a dense model (no 'moe' block) has active == total parameters")
        return self


# --------------------------------------------------------------------------------------------
# API list prices
# --------------------------------------------------------------------------------------------


class ApiPrice(Sourced):
    """A list price for an API model, USD per million tokens, as published on a date."""

    id: Id
    name: str = Field(min_length=1, max_length=120)
    provider: str = Field(min_length=1, max_length=80)
    input_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)]
    cached_input_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)] | None = None
    output_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)] | None = Field(
        default=None, description="none where the source gives no output price"
    )
    batch_input_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)] | None = Field(
        default=None,
        description="the provider's batch tier (results within a window, "
        "typically 24 h); none where it publishes none",
    )
    batch_cached_input_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)] | None = None
    batch_output_usd_per_mtok: Annotated[float, Field(ge=0, lt=1e6)] | None = None
    as_of: dt.date = Field(description="the date the price applies to")
    source_kind: Literal["article", "genai-prices", "user"] = "user"

    @model_validator(mode="after")
    def _batch_tier(self) -> ApiPrice:
        batch = (self.batch_cached_input_usd_per_mtok, self.batch_output_usd_per_mtok)
        if self.batch_input_usd_per_mtok is None and any(v is not None for v in batch):
            raise ValueError("a batch tier needs batch_input_usd_per_mtok")
        if self.batch_input_usd_per_mtok is not None and (
            (self.output_usd_per_mtok is None) != (self.batch_output_usd_per_mtok is None)
        ):
            raise ValueError(
                "a batch tier gives batch_output_usd_per_mtok exactly where the price gives "
                "output_usd_per_mtok"
            )
        return self
