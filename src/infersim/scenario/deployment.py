"""Deployments (a model served on GPUs, or bought from an API), their levers, and the fleet."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from infersim.catalog.types import GpuSpec, ModelArch, Strict
from infersim.scenario.capacity import ReservedCapacity, SpotCapacity
from infersim.scenario.fields import (
    Fraction,
    Gco2ePerKwh,
    Name,
    Parallelism,
    PositiveSeconds,
    Replicas,
    Tokens,
    UsdAmount,
    UsdPerHour,
    UsdPerMtok,
)

CatalogRef = Annotated[str, Field(min_length=1, max_length=120)]


class WeightDtype(StrEnum):
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    FP4 = "fp4"


class KvDtype(StrEnum):
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"


class ActivationDtype(StrEnum):
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    FP4 = "fp4"


class Precision(Strict):
    """Quantization: how weights, the KV cache and activations are stored and computed."""

    weights: WeightDtype = WeightDtype.BF16
    kv_cache: KvDtype = KvDtype.BF16
    activations: ActivationDtype = ActivationDtype.BF16
    quality_penalty: Fraction | None = Field(
        default=None,
        description="relative quality lost to quantization (0.02 = 2%); none = the default "
        "for the weight format",
    )


class SpeculativeMethod(StrEnum):
    DRAFT_MODEL = "draft_model"
    NGRAM = "ngram"
    EAGLE = "eagle"
    MEDUSA = "medusa"


class SpeculativeDecoding(Strict):
    """Speculative decoding: draft `draft_tokens` tokens, verify them in one target step."""

    method: SpeculativeMethod
    draft_model: CatalogRef | None = Field(
        default=None, description="catalog model used as the draft (method draft_model)"
    )
    draft_tokens: Annotated[int, Field(ge=1, le=32, strict=True)] = Field(
        default=4, description="gamma: tokens drafted per target step"
    )
    acceptance_rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.7,
        description="alpha: probability that a drafted token is accepted, the same at every "
        "position (Leviathan et al.)",
    )
    acceptance_by_position: list[Fraction] | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="per drafted position, the probability that its token is accepted given "
        "that the ones before it were (as vLLM reports acceptance per position); one per "
        "draft token, replaces acceptance_rate",
    )
    draft_cost_ratio: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = Field(
        default=None,
        description="c: one draft step's time over one target step's; none = derived from the "
        "draft model, or the method's default",
    )

    @model_validator(mode="after")
    def _draft_model_iff_method(self) -> SpeculativeDecoding:
        if (self.method is SpeculativeMethod.DRAFT_MODEL) != (self.draft_model is not None):
            raise ValueError("method 'draft_model' needs draft_model, and only it takes one")
        return self

    @model_validator(mode="after")
    def _one_acceptance_per_position(self) -> SpeculativeDecoding:
        rates = self.acceptance_by_position
        if rates is None:
            return self
        if "acceptance_rate" in self.model_fields_set:
            raise ValueError(
                "give acceptance_rate (the same at every position) or acceptance_by_position, "
                "not both"
            )
        if len(rates) != self.draft_tokens:
            raise ValueError(
                f"acceptance_by_position has {len(rates)} rates for draft_tokens "
                f"{self.draft_tokens}: give one per drafted position"
            )
        return self

    def acceptance_rates(self) -> list[float]:
        """The conditional acceptance rate of each drafted position."""
        if self.acceptance_by_position is not None:
            return list(self.acceptance_by_position)
        return [self.acceptance_rate] * self.draft_tokens


class KvCacheTier(Strict):
    """A tier below HBM holding KV blocks evicted from above (host DRAM, SSD, a pooled
    store); a hit there is loaded over `bandwidth_gb_per_s` when faster than recomputing."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    capacity_gib: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)]
    bandwidth_gb_per_s: Annotated[float, Field(gt=0, le=1e5, allow_inf_nan=False)] = Field(
        description="per replica, GB/s (1e9 bytes) from this tier into HBM"
    )


class SchedulerPolicy(StrEnum):
    """How a replica composes an iteration when prompts wait and sequences decode."""

    PREFILL_FIRST = "prefill_first"
    """vLLM v0 continuous batching: waiting prompts run whole in prefill-only iterations,
    which stall every decoding sequence for their duration."""
    CHUNKED_DECODE_FIRST = "chunked_decode_first"
    """Sarathi-Serve / vLLM v1: every iteration runs all decoding sequences first and fills
    the rest of max_batch_tokens with prefill chunks."""


class Scheduler(Strict):
    """A replica's iteration scheduler. Between request classes of different `priority`
    (batch classes below interactive ones), higher is admitted first and preempts lower."""

    policy: SchedulerPolicy
    batch_slowdown_max: Fraction | None = Field(
        default=None,
        description="while interactive work runs on a replica, batch classes' (deadline_s) "
        "work may lengthen its iterations by at most this share (0.02 = 2%), as the perf "
        "model predicts them: batch requests are admitted only within it, and batch "
        "sequences over it are preempted (recomputed later); with no interactive sequence on "
        "the replica (a trough) batch work runs freely; none = no cap (batch sequences "
        "decode alongside interactive ones, preempted only for room)",
    )


class PrefixCaching(Strict):
    """Prompt tokens found in the prefix cache skip prefill compute. Requests with prefix
    block hashes (a Mooncake trace) reuse the leading run of their blocks found in their
    replica's cache; other requests skip `cached_share` of their prompt (the simple mode)."""

    cached_share: Fraction = Field(
        default=0.0, description="share of prompt tokens served from the cache (no hashes)"
    )
    hbm_capacity_tokens: Annotated[int, Field(ge=1, le=10**12, strict=True)] | None = Field(
        default=None,
        description="prefix cache size in HBM per replica; none = the replica's KV capacity",
    )
    tiers: list[KvCacheTier] = Field(default_factory=list, max_length=4)


class RentedGpu(Strict):
    """GPU-hours bought from a cloud."""

    kind: Literal["rented"] = "rented"
    pricing: Literal["on_demand", "reserved", "spot"] = "on_demand"
    usd_per_gpu_hour: UsdPerHour | None = Field(
        default=None, description="none = the GPU catalog's default rental quote"
    )
    reserved: ReservedCapacity | None = Field(
        default=None, description="GPUs committed for 1 or 3 years; pricing then prices the burst"
    )
    spot: SpotCapacity | None = Field(
        default=None, description="a share of the hours above the commitment bought as spot"
    )

    @model_validator(mode="after")
    def _burst_on_demand(self) -> RentedGpu:
        if (self.reserved or self.spot) and self.pricing != "on_demand":
            raise ValueError(
                f"with reserved or spot capacity, pricing prices the on-demand burst: it must "
                f"be 'on_demand', got '{self.pricing}'"
            )
        return self


class OwnedGpu(Strict):
    """GPUs bought and run: amortized purchase, power and hosting."""

    kind: Literal["owned"]
    purchase_usd_per_gpu: UsdAmount | None = Field(
        default=None, description="none = the GPU catalog's indicative purchase price"
    )
    amortization_months: Annotated[int, Field(ge=1, le=240, strict=True)] = 36
    power_draw_idle_share: Fraction = Field(
        default=0.3, description="draw at idle as a share of TDP"
    )
    pue: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)] = 1.3
    electricity_usd_per_kwh: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.10
    hosting_usd_per_gpu_month: UsdAmount = Field(
        default=0.0, description="rack space, network, operations, per GPU"
    )
    server_overhead_share: Fraction = Field(
        default=0.0, description="host server cost (CPU, RAM, NICs) as a share of GPU purchase"
    )


def _gpu_cost_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "rented"))
    return str(getattr(value, "kind", "rented"))


GpuCost = Annotated[
    Annotated[RentedGpu, Tag("rented")] | Annotated[OwnedGpu, Tag("owned")],
    Discriminator(_gpu_cost_kind),
]


RedundantExperts = Annotated[int, Field(ge=0, le=4096, strict=True)]


class PoolLayout(Strict):
    """Disaggregated serving: the parallelism of the prefill pool's replicas, where it
    differs from the decode pool's (DeepSeek-V3/R1: prefill units of EP32, decode units of
    EP144)."""

    tensor_parallel: Parallelism = 1
    expert_parallel: Parallelism = 1
    redundant_experts: RedundantExperts = 0


class FleetPool(Strict):
    """Mixed fleets: one pool of the deployment's replicas, on its own GPU type (or in its own
    region), at its own price."""

    name: Name
    gpu: CatalogRef = Field(description="catalog GPU id")
    tensor_parallel: Parallelism = 1
    replicas: Replicas = 1
    cost: GpuCost | None = Field(
        default=None, description="none = the deployment's cost, else costs.gpu"
    )
    grid: CatalogRef | None = Field(
        default=None,
        description="grid region in the catalog (grids.yaml) the pool draws its power from; "
        "none = costs.energy's (needs costs.energy)",
    )
    gco2e_per_kwh: Gco2ePerKwh | None = Field(
        default=None,
        description="the pool's grid carbon intensity, instead of a catalog region (needs "
        "costs.energy)",
    )

    @model_validator(mode="after")
    def _one_intensity(self) -> FleetPool:
        if self.grid is not None and self.gco2e_per_kwh is not None:
            raise ValueError("give grid or gco2e_per_kwh, not both")
        return self


PoolRouting = Literal["cheapest_first", "least_outstanding"]


def _fill_from_pools(value: Any) -> Any:
    """With pools, the deployment's gpu, tensor_parallel and replicas are the pools': its
    first pool's layout (what sizing figures start from) and the pools' replicas in all.
    Given as well, they must agree (a scenario written back out reads the same)."""
    if not isinstance(value, dict) or not isinstance(value.get("pools"), list):
        return value
    pools = value["pools"]
    if not pools or not all(isinstance(p, dict) for p in pools):
        return value
    first = pools[0]
    counts = [p.get("replicas", 1) for p in pools]
    if not all(isinstance(c, int) for c in counts):
        return value  # the pools' own validation names the bad count
    derived = {
        "gpu": first.get("gpu"),
        "tensor_parallel": first.get("tensor_parallel", 1),
        "replicas": sum(counts),
    }
    filled = dict(value)
    for key, wanted in derived.items():
        if key not in value:
            filled[key] = wanted
        elif value[key] != wanted:
            source = "the pools' replicas in all" if key == "replicas" else "the first pool's"
            raise ValueError(
                f"with pools, {key} is {source} ({wanted!r}), got {value[key]!r}: remove {key}"
            )
    return filled


class SelfHosted(Strict):
    """A model served on our own (or rented) GPUs; priced by the performance model."""

    kind: Literal["self_hosted"] = "self_hosted"
    model: CatalogRef | ModelArch = Field(description="catalog model id, or an inline architecture")
    gpu: CatalogRef | GpuSpec = Field(description="catalog GPU id, or an inline GPU")
    tensor_parallel: Parallelism = 1
    expert_parallel: Parallelism = 1
    redundant_experts: RedundantExperts = Field(
        default=0,
        description="extra copies of routed experts per MoE layer, spread with the others "
        "over the replica's GPUs for load balance (DeepSeek-V3: 32, on EP32 prefill and "
        "EP144 decode units); expert_parallel must divide the experts plus these copies",
    )
    prefill_pool: PoolLayout | None = Field(
        default=None,
        description="disaggregated serving (fleet.disaggregated): the prefill replicas' "
        "parallelism; none = the deployment's. The deployment's own tensor_parallel, "
        "expert_parallel and redundant_experts lay out the decode replicas",
    )
    replicas: Replicas = 1
    precision: Precision = Field(default_factory=Precision)
    max_batch_sequences: Annotated[int, Field(ge=1, le=65_536, strict=True)] | None = Field(
        default=None,
        description="cap on sequences running at once on a replica; none = derived from the "
        "replica: the smaller of its KV-cache blocks (each running sequence holds one at "
        "least) and max_batch_tokens over the tokens each decode sequence computes per step",
    )
    max_batch_tokens: Annotated[int, Field(ge=1, le=10_000_000, strict=True)] = 8192
    chunked_prefill: bool = Field(
        default=True,
        description="true = scheduler policy chunked_decode_first, false = prefill_first "
        "(when scheduler is not given)",
    )
    scheduler: Scheduler | None = Field(
        default=None, description="none = the policy chunked_prefill stands for"
    )
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.9
    kv_block_tokens: Annotated[int, Field(ge=1, le=1024, strict=True)] = 16
    speculative: SpeculativeDecoding | None = None
    prefix_caching: PrefixCaching | None = None
    cost: GpuCost | None = Field(default=None, description="none = costs.gpu")
    quality: Fraction | None = Field(
        default=None,
        description="for routing: the model's capability in [0, 1] (e.g. a benchmark score) "
        "before its quantization penalty",
    )
    pools: list[FleetPool] | None = Field(
        default=None,
        min_length=2,
        max_length=16,
        description="mixed fleet (fleet.mode fixed): the replicas in pools of different GPU "
        "types or regions, each at its own price; gpu, tensor_parallel and replicas then "
        "come from the pools",
    )
    pool_routing: PoolRouting | None = Field(
        default=None,
        description="mixed fleet: cheapest_first (fill the pool with the cheapest replica-hour "
        "up to its replicas' batch capacity, then spill over to the next) or "
        "least_outstanding (to the replica with the fewest requests, any pool); none = "
        "cheapest_first",
    )

    @model_validator(mode="before")
    @classmethod
    def _pools_lay_out(cls, value: Any) -> Any:
        return _fill_from_pools(value)

    @model_validator(mode="after")
    def _pools_fields(self) -> SelfHosted:
        if self.pools is None:
            if self.pool_routing is not None:
                raise ValueError("pool_routing routes between pools: give pools, or remove it")
            return self
        names = [p.name for p in self.pools]
        if len(set(names)) != len(names):
            raise ValueError(f"pool names must differ, got {names}")
        if self.prefill_pool is not None:
            raise ValueError("a mixed fleet (pools) is not disaggregated: remove prefill_pool")
        if self.prefix_caching is not None:
            raise ValueError(
                "prefix caching is not modelled per pool of a mixed fleet: remove "
                "prefix_caching, or the pools"
            )
        if self.expert_parallel != 1:
            raise ValueError(
                f"pools lay out replicas by tensor_parallel only, got expert_parallel "
                f"{self.expert_parallel}"
            )
        return self

    @property
    def routing_policy(self) -> PoolRouting:
        return self.pool_routing or "cheapest_first"

    def pool_layout(self, pool: FleetPool) -> SelfHosted:
        """The deployment as one of its pools runs it."""
        return self.model_copy(
            update={
                "gpu": pool.gpu,
                "tensor_parallel": pool.tensor_parallel,
                "replicas": pool.replicas,
                "cost": pool.cost or self.cost,
                "pools": None,
                "pool_routing": None,
            }
        )

    @model_validator(mode="after")
    def _one_policy(self) -> SelfHosted:
        if self.scheduler is None or "chunked_prefill" not in self.model_fields_set:
            return self
        implied = (
            SchedulerPolicy.CHUNKED_DECODE_FIRST
            if self.chunked_prefill
            else (SchedulerPolicy.PREFILL_FIRST)
        )
        if implied is not self.scheduler.policy:
            raise ValueError(
                f"chunked_prefill {str(self.chunked_prefill).lower()} contradicts "
                f"scheduler.policy {self.scheduler.policy.value}: give only scheduler.policy"
            )
        return self

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel * self.expert_parallel

    def prefill_layout(self) -> SelfHosted:
        """The deployment as its prefill replicas run it (itself without a prefill_pool)."""
        pool = self.prefill_pool
        if pool is None:
            return self
        return self.model_copy(
            update={
                "tensor_parallel": pool.tensor_parallel,
                "expert_parallel": pool.expert_parallel,
                "redundant_experts": pool.redundant_experts,
                "prefill_pool": None,
            }
        )

    @property
    def scheduler_policy(self) -> SchedulerPolicy:
        """The scheduler named, else the one `chunked_prefill` stands for."""
        if self.scheduler is not None:
            return self.scheduler.policy
        if self.chunked_prefill:
            return SchedulerPolicy.CHUNKED_DECODE_FIRST
        return SchedulerPolicy.PREFILL_FIRST


class ApiModel(Strict):
    """A model bought from an API at list price (per token), not served by us."""

    kind: Literal["api"]
    list_price: CatalogRef | None = Field(
        default=None,
        description="'article:gpt-4o' (the article's table), 'openai:gpt-4o' (genai-prices), "
        "optionally '@YYYY-MM-DD' for the price on a date",
    )
    input_usd_per_mtok: UsdPerMtok | None = None
    cached_input_usd_per_mtok: UsdPerMtok | None = None
    output_usd_per_mtok: UsdPerMtok | None = None
    batch_discount: Fraction | None = Field(
        default=None,
        description="the provider's batch tier for batch classes (deadline_s or batch_api): "
        "0.5 = half price; none = the list price's published batch tier where it has one (and "
        "no price is given explicitly), else the standard prices",
    )
    latency_s: PositiveSeconds | None = Field(default=None, description="typical end-to-end")
    quality: Fraction | None = Field(default=None, description="for routing; 1 = frontier")

    @model_validator(mode="after")
    def _has_a_price(self) -> ApiModel:
        explicit = (self.input_usd_per_mtok, self.output_usd_per_mtok)
        if self.list_price is None and None in explicit:
            raise ValueError(
                "an api deployment needs list_price, or input_usd_per_mtok and output_usd_per_mtok"
            )
        return self


def _deployment_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "self_hosted"))
    return str(getattr(value, "kind", "self_hosted"))


Deployment = Annotated[
    Annotated[SelfHosted, Tag("self_hosted")] | Annotated[ApiModel, Tag("api")],
    Discriminator(_deployment_kind),
]


class Slo(Strict):
    """Service-level objectives used to size a fleet, to count goodput and for the verdict.

    A request is within the SLO when its first token came within `ttft_p99_s` and its time
    per output token is within `tpot_p99_s` (`tpot_p50_s` bounds the fleet's median, not each
    request). The fleet misses the SLO when a percentile is over its bound or when the share
    of requests within the SLO (the attainment) is below `attainment_target`.
    """

    ttft_p99_s: PositiveSeconds | None = None
    tpot_p50_s: PositiveSeconds | None = None
    tpot_p99_s: PositiveSeconds | None = None
    attainment_target: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        default=0.9,
        description="least share of requests within the SLO for the fleet to pass: 0.9 as in "
        "DistServe's goodput (the rate served with 90% SLO attainment)",
    )


class Autoscale(Strict):
    interval_s: PositiveSeconds = 3600.0
    scale_up_lag_s: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 300.0
    min_replicas: Replicas = 1
    max_replicas: Replicas = 1000
    target_utilization: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.7

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}: "
                "give min_replicas <= max_replicas"
            )
        return self


class Fleet(Strict):
    """How replicas are provisioned and requests spread over them."""

    mode: Literal["fixed", "size_to_slo", "autoscale"] = "fixed"
    load_balancer: Literal["round_robin", "least_outstanding", "least_kv", "prefix_aware"] = Field(
        default="least_outstanding",
        description="prefix_aware: to the replica caching the longest prefix of the request",
    )
    slo: Slo = Field(default_factory=Slo)
    autoscale: Autoscale | None = None
    disaggregated: bool = Field(default=False, description="separate prefill and decode pools")
    prefill_replicas: Annotated[int, Field(ge=1, le=100_000, strict=True)] | None = Field(
        default=None, description="disaggregated: replicas in the prefill pool (none = half)"
    )
    kv_transfer_gb_per_s: Annotated[float, Field(gt=0, le=1e5, allow_inf_nan=False)] | None = Field(
        default=None,
        description="disaggregated: KV-cache transfer bandwidth from the prefill to the "
        "decode pool, GB/s; none = the GPU's interconnect (one direction) at its achieved "
        "fraction",
    )
    replications: Annotated[int, Field(ge=1, le=100, strict=True)] = Field(
        default=3, description="independent runs (seeds) behind the confidence intervals"
    )
    max_simulated_requests: Annotated[int, Field(ge=100, le=100_000_000, strict=True)] = Field(
        default=200_000,
        description="above this many requests a deployment's run simulates a representative "
        "sample of its replicas (and of time, for steady arrivals) and scales up",
    )
    warmup_share: Annotated[float, Field(ge=0, lt=0.5, allow_inf_nan=False)] = Field(
        default=0.05, description="share of the simulated time left out of latency statistics"
    )


def prefill_replicas(deployment: SelfHosted, fleet: Fleet) -> int:
    """Disaggregated serving: the replicas of the prefill pool (fleet.prefill_replicas, or
    half the fleet); 0 when every replica does both."""
    if not fleet.disaggregated:
        return 0
    return fleet.prefill_replicas or max(1, deployment.replicas // 2)


def fleet_gpus(deployment: SelfHosted, fleet: Fleet) -> int:
    """GPUs of the deployment's (fixed) fleet: each pool at its own layout."""
    if deployment.pools is not None:  # a mixed fleet
        return sum(p.replicas * p.tensor_parallel for p in deployment.pools)
    prefill = prefill_replicas(deployment, fleet)
    decode = deployment.replicas - prefill
    return prefill * deployment.prefill_layout().gpus_per_replica + (
        decode * deployment.gpus_per_replica
    )


class RouterKind(StrEnum):
    FIXED_SPLIT = "fixed_split"
    DIFFICULTY = "difficulty"
    CASCADE = "cascade"


class Routing(Strict):
    """Spread requests over deployments: a fixed split, by difficulty, or a cascade."""

    strategy: RouterKind
    split: dict[Name, Fraction] = Field(
        default_factory=dict, description="fixed_split: deployment -> share of requests"
    )
    order: list[Name] = Field(
        default_factory=list, description="difficulty / cascade: deployments, cheapest first"
    )
    quality_target: Fraction | None = Field(
        default=None,
        description="difficulty: the success probability a model must reach on a request",
    )
    escalation_probability: Fraction | None = Field(
        default=None, description="cascade: chance a model's answer is escalated to the next"
    )
    difficulty_mean: Fraction = Field(
        default=0.5, description="requests' difficulty: normal, clipped to [0, 1]"
    )
    difficulty_spread: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.2
    quality_curve_width: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        default=0.1,
        description="P(success) = 1 / (1 + exp(-(quality - difficulty) / width))",
    )

    @model_validator(mode="after")
    def _strategy_fields(self) -> Routing:
        if self.strategy is RouterKind.FIXED_SPLIT:
            if not self.split:
                raise ValueError("strategy fixed_split needs a split")
            total = sum(self.split.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"split shares must sum to 1, got {total:g}")
        elif len(self.order) < 2:
            raise ValueError(f"strategy {self.strategy.value} needs an order of two or more")
        if self.strategy is RouterKind.CASCADE and self.escalation_probability is None:
            raise ValueError("strategy cascade needs escalation_probability")
        if self.strategy is RouterKind.DIFFICULTY and self.quality_target is None:
            raise ValueError("strategy difficulty needs quality_target")
        return self


__all__ = [
    "ActivationDtype",
    "ApiModel",
    "Autoscale",
    "Deployment",
    "Fleet",
    "FleetPool",
    "GpuCost",
    "KvDtype",
    "OwnedGpu",
    "PoolLayout",
    "Precision",
    "PrefixCaching",
    "RentedGpu",
    "Routing",
    "Scheduler",
    "SchedulerPolicy",
    "SelfHosted",
    "Slo",
    "SpeculativeDecoding",
    "SpeculativeMethod",
    "Tokens",
    "UsdAmount",
    "WeightDtype",
    "fleet_gpus",
    "prefill_replicas",
]
