"""What is charged (API prices, plans, ads, contracts) and what is paid (GPUs, overheads)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from infersim.catalog.types import Strict
from infersim.scenario.deployment import CatalogRef, GpuCost, RentedGpu
from infersim.scenario.fields import (
    Count,
    Fraction,
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
    batch_discount: Fraction = Field(default=0.0, description="0.5 = batch requests half price")
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
