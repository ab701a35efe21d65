"""What one GPU-hour costs: a rental quote, or an owned GPU's amortization, power and hosting.

Owned GPUs, per hour (`HOURS_PER_MONTH` = 730 h a month):

    amortization = purchase / (amortization_months x 730)
    power        = TDP_kW x (idle_share + (1 - idle_share) x busy_share) x PUE x USD/kWh
    hosting      = hosting_usd_per_gpu_month / 730
    server       = server_overhead_share x purchase / (amortization_months x 730)

`busy_share` is the share of provisioned hours the GPU computes; it only moves power.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infersim.catalog.types import GpuSpec
from infersim.catalog.types import Pricing as QuotePricing
from infersim.economics.errors import (
    InvalidEconomicsInputError,
    MissingPurchasePriceError,
    MissingRentalQuoteError,
)
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.scenario.deployment import OwnedGpu, RentedGpu


@dataclass(frozen=True)
class GpuHourCost:
    """One GPU-hour, broken down. Components that do not apply are 0."""

    gpu: str
    kind: Literal["rented", "owned"]
    rental_usd_per_hour: float
    amortization_usd_per_hour: float
    power_usd_per_hour: float
    hosting_usd_per_hour: float
    server_overhead_usd_per_hour: float
    average_power_w: float
    source: str

    @property
    def usd_per_hour(self) -> float:
        return (
            self.rental_usd_per_hour
            + self.amortization_usd_per_hour
            + self.power_usd_per_hour
            + self.hosting_usd_per_hour
            + self.server_overhead_usd_per_hour
        )


def gpu_usd_per_hour(cost: RentedGpu | OwnedGpu, gpu: GpuSpec, busy_share: float) -> GpuHourCost:
    """The cost of one provisioned GPU-hour of `gpu` bought as `cost` says."""
    if not (0.0 <= busy_share <= 1.0):
        raise InvalidEconomicsInputError(f"busy_share must be within [0, 1], got {busy_share!r}")
    if isinstance(cost, RentedGpu):
        return _rented(cost, gpu)
    return _owned(cost, gpu, busy_share)


def _rented(cost: RentedGpu, gpu: GpuSpec) -> GpuHourCost:
    if cost.usd_per_gpu_hour is not None:
        usd, source = cost.usd_per_gpu_hour, f"scenario: {cost.pricing} usd_per_gpu_hour"
    else:
        wanted = QuotePricing(cost.pricing)
        quotes = [q for q in gpu.rental if q.pricing is wanted]
        if not quotes:
            have = sorted({q.pricing.value for q in gpu.rental})
            has = f"it has: {', '.join(have)}" if have else "it has no rental quote at all"
            raise MissingRentalQuoteError(
                f"{gpu.id} has no '{cost.pricing}' rental quote in the catalog ({has}); "
                "give costs.gpu.usd_per_gpu_hour (or the deployment's cost.usd_per_gpu_hour)"
            )
        quote = quotes[0]  # the catalog's first quote of that kind, as default_rental does
        usd = quote.usd_per_hour
        source = f"catalog: {cost.pricing} {quote.provider} {quote.date.isoformat()}"
    return GpuHourCost(gpu.id, "rented", usd, 0.0, 0.0, 0.0, 0.0, 0.0, source)


def _owned(cost: OwnedGpu, gpu: GpuSpec, busy_share: float) -> GpuHourCost:
    purchase = cost.purchase_usd_per_gpu
    source = "scenario: purchase_usd_per_gpu"
    if purchase is None:
        if gpu.purchase_usd is None:
            raise MissingPurchasePriceError(
                f"{gpu.id} has no purchase price in the catalog; give "
                "costs.gpu.purchase_usd_per_gpu (or the deployment's cost.purchase_usd_per_gpu)"
            )
        purchase, source = gpu.purchase_usd, "catalog: purchase_usd"
    amortization_hours = cost.amortization_months * HOURS_PER_MONTH
    amortization = purchase / amortization_hours
    draw_share = cost.power_draw_idle_share + (1.0 - cost.power_draw_idle_share) * busy_share
    if gpu.tdp_w is None:
        if cost.electricity_usd_per_kwh > 0:
            raise MissingPurchasePriceError(
                f"{gpu.id} has no tdp_w in the catalog, so its power cost is unknown; add "
                "tdp_w to the GPU entry, or set costs.gpu.electricity_usd_per_kwh: 0"
            )
        average_w = 0.0
    else:
        average_w = gpu.tdp_w * draw_share
    power = average_w / 1000.0 * cost.pue * cost.electricity_usd_per_kwh
    hosting = cost.hosting_usd_per_gpu_month / HOURS_PER_MONTH
    server = cost.server_overhead_share * purchase / amortization_hours
    return GpuHourCost(
        gpu.id, "owned", 0.0, amortization, power, hosting, server, average_w, source
    )
