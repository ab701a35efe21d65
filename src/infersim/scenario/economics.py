"""What is charged (API prices, plans, ads, contracts) and what is paid (GPUs, overheads)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from infersim.catalog.types import Strict
from infersim.scenario.deployment import CatalogRef, GpuCost, RentedGpu
from infersim.scenario.fields import (
    Count,
    Fraction,
    Gco2ePerKwh,
    Multiplier,
    Name,
    Tokens,
    UsdAmount,
    UsdPerMtok,
)


class ApiProduct(Strict):
    """Selling tokens through an API: per-token list prices for one deployment's model."""

    deployment: Name
    list_price: CatalogRef | None = Field(
        default=None, description="take prices from a catalog entry, e.g. 'article:gpt-4o'"
    )
    input_usd_per_mtok: UsdPerMtok | None = None
    cached_input_usd_per_mtok: UsdPerMtok | None = None
    output_usd_per_mtok: UsdPerMtok | None = None
    batch_discount: Fraction | None = Field(
        default=None,
        description="0.5 = batch classes' requests (deadline_s or batch_api) half price; none = "
        "the list price's published batch tier where it has one (and no price is given "
        "explicitly), else no discount",
    )
    long_context_threshold_tokens: Tokens | None = Field(
        default=None, description="prompts longer than this pay long_context_multiplier"
    )
    long_context_multiplier: Multiplier = 1.0

    @model_validator(mode="after")
    def _has_a_price(self) -> ApiProduct:
        if self.list_price is None and (
            self.input_usd_per_mtok is None or self.output_usd_per_mtok is None
        ):
            raise ValueError("give list_price, or input_usd_per_mtok and output_usd_per_mtok")
        return self


class UsageCap(Strict):
    """A plan's monthly allowance, and what happens past it."""

    requests_per_month: Count | None = None
    tokens_per_month: Count | None = None
    at_cap: Literal["throttle", "downgrade", "overage"] = "throttle"
    downgrade_deployment: Name | None = None
    overage_usd_per_mtok: UsdPerMtok | None = None

    @model_validator(mode="after")
    def _consistent(self) -> UsageCap:
        if self.requests_per_month is None and self.tokens_per_month is None:
            raise ValueError("a cap needs requests_per_month or tokens_per_month")
        if self.at_cap == "downgrade" and self.downgrade_deployment is None:
            raise ValueError("at_cap 'downgrade' needs downgrade_deployment")
        if self.at_cap == "overage" and self.overage_usd_per_mtok is None:
            raise ValueError("at_cap 'overage' needs overage_usd_per_mtok")
        return self


class Plan(Strict):
    """A subscription plan."""

    price_usd_per_month: UsdAmount
    cap: UsageCap | None = None


class FreeTier(Strict):
    """Free users paid for by ads."""

    ad_revenue_usd_per_kimpression: UsdAmount = Field(description="CPM: USD per 1,000 ads shown")
    impressions_per_active_user_per_month: Annotated[
        float, Field(ge=0, le=1e6, allow_inf_nan=False)
    ]
    ads_fill_share: Fraction = Field(default=1.0, description="share of users shown ads")


class Contract(Strict):
    """An enterprise or on-premise contract: a flat fee."""

    fee_usd_per_month: UsdAmount
    deployment: Name | None = None


class Pricing(Strict):
    api: dict[Name, ApiProduct] = Field(default_factory=dict)
    plans: dict[Name, Plan] = Field(default_factory=dict)
    free_tier: FreeTier | None = None
    contracts: dict[Name, Contract] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _free_is_reserved(self) -> Pricing:
        if "free" in self.plans:
            raise ValueError("'free' is the free tier's name; configure it under free_tier")
        return self


class Energy(Strict):
    """Energy and carbon of the self-hosted fleets: reported, not billed (owned GPUs' power is
    billed by their cost block; see `infersim.economics.energy`)."""

    grid: CatalogRef | None = Field(
        default=None, description="grid region in the catalog (grids.yaml), e.g. 'us', 'france'"
    )
    gco2e_per_kwh: Gco2ePerKwh | None = Field(
        default=None, description="the grid's carbon intensity, instead of a catalog region"
    )
    pue: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)] = Field(
        default=1.3, description="rented fleets' data-center PUE (owned fleets: their cost.pue)"
    )
    idle_power_share: Fraction = Field(
        default=0.3,
        description="rented GPUs' draw at idle as a share of TDP (owned: power_draw_idle_share)",
    )
    host_overhead_share: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = Field(
        default=0.0, description="host CPUs, memory and network power as a share of GPU power"
    )

    @model_validator(mode="after")
    def _one_intensity(self) -> Energy:
        if self.grid is not None and self.gco2e_per_kwh is not None:
            raise ValueError("give grid or gco2e_per_kwh, not both")
        return self


class ValueChain(Strict):
    """Who earns each dollar a user pays: the figures beyond the scenario's own costs.

    Rented GPUs: the cloud's cost of owning them (its TCO: the GPU bought from the vendor and
    amortized, its server share, power at `energy`'s kWh, hosting) against the rent it charges;
    the vendor's part of the purchase price is its gross margin."""

    gpu_vendor_gross_margin: Fraction = Field(
        description="the GPU vendor's gross margin on the purchase price (Nvidia ~0.73)"
    )
    cloud_amortization_months: Annotated[int, Field(ge=1, le=240, strict=True)] = Field(
        default=48, description="over how long the cloud amortizes a rented GPU's purchase"
    )
    cloud_electricity_usd_per_kwh: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.08
    cloud_hosting_usd_per_gpu_month: UsdAmount = Field(
        default=0.0, description="the cloud's rack space, network and operations, per GPU"
    )
    cloud_server_overhead_share: Fraction = Field(
        default=0.0, description="the cloud's host servers as a share of the GPU purchase"
    )


class Costs(Strict):
    """What serving and running the company costs, beyond the GPUs' own pricing."""

    gpu: GpuCost = Field(default_factory=RentedGpu, description="default for every deployment")
    serving_overhead_share: Fraction = Field(
        default=0.0, description="CPU, network, storage as a share of GPU cost"
    )
    serving_overhead_usd_per_month: UsdAmount = 0.0
    operating_usd_per_month: dict[Name, UsdAmount] = Field(
        default_factory=dict, description="company costs for the P&L: R&D, staff, sales..."
    )
    energy: Energy | None = Field(
        default=None, description="report kWh and carbon of the self-hosted fleets"
    )
    value_chain: ValueChain | None = Field(
        default=None, description="report who earns each dollar a user pays"
    )
