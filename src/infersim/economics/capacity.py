"""A rented fleet's bill split by how its GPU-hours are bought: reserved, on demand, spot.

With `reserved` GPUs (R of them), every one of their 730 hours a month is paid, used or not;
the fleet's scheduled GPU-hours H run on them first. Above the commitment, the burst
B = max(H - R x 730, 0) is bought as spot for `spot.share` of it and on demand for the rest.
(The engine reports the fleet's hours over the month, not instant by instant: for an
autoscaled fleet that dips below the commitment and bursts above it within the month, B is the
average excess, a lower bound on the hour-by-hour burst.)

Spot interruptions (modelled analytically, not in the engine): reclaims per month
= spot GPU-hours x `interruptions_per_gpu_hour`, each taking its replica down. The requests in
flight on it are recomputed on the rest of the fleet: on average half a mean request's
end-to-end time of the replica's busy work, i.e. gpus_per_replica x busy_share x e2e_mean / 2
GPU-seconds per reclaim, bought on demand ("spot recompute"): no request is lost. The
replacement lag leaves gpus_per_replica x lag GPU-seconds missing per reclaim; it is paid in
latency, not dollars, and reported as `capacity_missing_share` of the scheduled GPU-hours.

The parts add up to the bill, and their hours to the paid GPU-hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.catalog.types import GpuSpec
from infersim.catalog.types import Pricing as QuotePricing
from infersim.economics.errors import MissingRentalQuoteError
from infersim.economics.inputs import HOURS_PER_MONTH, BillPart
from infersim.scenario.deployment import RentedGpu


@dataclass(frozen=True)
class CapacityBill:
    """How a rented fleet's paid GPU-hours were bought, and what spot cost beyond its rate."""

    parts: tuple[BillPart, ...]
    busy_gpu_hours_per_month: float
    """The engine's busy hours plus the spot recompute (all of it computes)."""
    reserved_idle_gpu_hours_per_month: float
    """Reserved hours paid and not scheduled (the commitment above the fleet)."""
    spot_interruptions_per_month: float
    capacity_missing_share: float
    """GPU-hours missing during replacement lags over the scheduled GPU-hours."""

    @property
    def gpu_hours_per_month(self) -> float:
        return sum(p.gpu_hours_per_month for p in self.parts)


def _quote(gpu: GpuSpec, pricing: QuotePricing, term_years: int | None) -> float:
    for quote in gpu.rental:
        if quote.pricing is pricing and (term_years is None or quote.term_years == term_years):
            return quote.usd_per_hour
    what = f"{term_years}-year reserved" if term_years else pricing.value
    raise MissingRentalQuoteError(
        f"{gpu.id} has no {what} rental quote in the catalog; give its usd_per_gpu_hour"
        + (" (or discount)" if term_years else "")
        + " under costs.gpu (or the deployment's cost)"
    )


def capacity_bill(
    cost: RentedGpu,
    gpu: GpuSpec,
    on_demand_usd_per_gpu_hour: float,
    scheduled_gpu_hours: float,
    busy_gpu_hours: float,
    gpus_per_replica: int,
    e2e_mean_s: float,
) -> CapacityBill:
    """The bill of a fleet scheduled `scheduled_gpu_hours` a month, `busy_gpu_hours` of them
    computing, bought as `cost` says (see the module doc)."""
    reserved_hours = 0.0
    parts: list[BillPart] = []
    if cost.reserved is not None:
        reserved = cost.reserved
        if reserved.usd_per_gpu_hour is not None:
            rate = reserved.usd_per_gpu_hour
        elif reserved.discount is not None:
            rate = on_demand_usd_per_gpu_hour * (1.0 - reserved.discount)
        else:
            rate = _quote(gpu, QuotePricing.RESERVED, reserved.term_years)
        reserved_hours = reserved.gpus * HOURS_PER_MONTH
        parts.append(BillPart(f"reserved_{reserved.term_years}y", reserved_hours, rate))
    burst = max(scheduled_gpu_hours - reserved_hours, 0.0)
    busy_share = busy_gpu_hours / scheduled_gpu_hours if scheduled_gpu_hours > 0 else 0.0
    spot_hours = reclaims = recompute = missing = 0.0
    if cost.spot is not None:
        spot = cost.spot
        spot_rate = (
            spot.usd_per_gpu_hour
            if spot.usd_per_gpu_hour is not None
            else _quote(gpu, QuotePricing.SPOT, None)
        )
        spot_hours = burst * spot.share
        reclaims = spot_hours * spot.interruptions_per_gpu_hour
        recompute = reclaims * gpus_per_replica * busy_share * e2e_mean_s / 2.0 / 3600.0
        missing = reclaims * gpus_per_replica * spot.replacement_lag_s / 3600.0
        parts.append(BillPart("spot", spot_hours, spot_rate))
    parts.append(BillPart("on_demand", burst - spot_hours, on_demand_usd_per_gpu_hour))
    if cost.spot is not None:
        parts.append(BillPart("spot_recompute", recompute, on_demand_usd_per_gpu_hour))
    return CapacityBill(
        parts=tuple(parts),
        busy_gpu_hours_per_month=busy_gpu_hours + recompute,
        reserved_idle_gpu_hours_per_month=max(reserved_hours - scheduled_gpu_hours, 0.0),
        spot_interruptions_per_month=reclaims,
        capacity_missing_share=missing / scheduled_gpu_hours if scheduled_gpu_hours > 0 else 0.0,
    )
