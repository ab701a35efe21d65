"""A rented fleet's bill split by how its GPU-hours are bought: reserved, on demand, spot.

With `reserved` GPUs (R of them), every one of their 730 hours a month is paid, used or not;
the fleet's scheduled GPU-hours H run on them first. Above the commitment, the burst
B = max(H - R x 730, 0) is bought as spot for `spot.share` of it and on demand for the rest.
(The engine reports the fleet's hours over the month, not instant by instant: for an
autoscaled fleet that dips below the commitment and bursts above it within the month, B is the
average excess, a lower bound on the hour-by-hour burst.)

Spot interruptions happen in the engine (`serving.interruptions`): it reclaims replicas at
the rate these spot hours give (in expectation, spot GPU-hours x `interruptions_per_gpu_hour`
reclaims a month), moves every request on a reclaimed replica to the rest of the fleet, which
recomputes them (no request is lost), and keeps the slot down for the replacement lag. The
month's reclaims are their expectation, and so is the capacity missing (each reclaim's lag x
the replica's GPUs): a simulated window shorter than the reclaims' spacing would see none. What
a reclaim costs beyond its lag comes from the engine (`SpotRun`): the requests in flight it
recomputed and the busy GPU-hours spent recomputing them, per reclaim simulated, times the
month's reclaims. Both are within the fleet's paid hours (the recompute runs on the fleet,
the replacement is billed from its launch), so they cost no hour beyond the schedule: the
recompute's share of the bill is reported, and the lag, paid in latency, as
`capacity_missing_share` of the scheduled GPU-hours. When the engine simulated no reclaim
(an idle fleet, or a window too short for one), the recompute is unknown and reported as 0
with `spot_figures: expected` (else `engine`); latencies show reclaims only when the window
holds some.

The parts add up to the bill, and their hours to the paid GPU-hours. A mixed fleet's pools
are each billed so on their own hours, with the engine's reclaims of their own replicas; its
cheapest-first routing orders them by `marginal_usd_per_gpu_hour` (reserved hours at 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from infersim.catalog.types import GpuSpec
from infersim.catalog.types import Pricing as QuotePricing
from infersim.economics.errors import MissingRentalQuoteError
from infersim.economics.inputs import HOURS_PER_MONTH, BillPart
from infersim.scenario.deployment import RentedGpu


@dataclass(frozen=True)
class SpotRun:
    """What the engine's spot reclaims did in a month (its figures scaled to 730 h). The bill
    takes from it what a reclaim costs (`requests_recomputed` and `recompute_gpu_hours` per
    reclaim); its count and down time are the expectation's (`capacity_bill`)."""

    reclaims: float
    requests_recomputed: float
    recompute_gpu_hours: float
    """Busy GPU-hours spent computing again what reclaimed replicas had computed."""
    down_gpu_hours: float
    """GPU-hours from reclaims to their replacements serving."""


SpotFigures = Literal["engine", "expected"]


@dataclass(frozen=True)
class CapacityBill:
    """How a rented fleet's paid GPU-hours were bought, and what spot's reclaims did."""

    parts: tuple[BillPart, ...]
    busy_gpu_hours_per_month: float
    """The engine's busy hours (the spot recompute included: it ran on the fleet)."""
    reserved_idle_gpu_hours_per_month: float
    """Reserved hours paid and not scheduled (the commitment above the fleet)."""
    spot_interruptions_per_month: float
    capacity_missing_share: float
    """GPU-hours missing during replacement lags over the scheduled GPU-hours."""
    spot_requests_recomputed_per_month: float = 0.0
    spot_recompute_gpu_hours_per_month: float = 0.0
    """Of the busy hours, those recomputing requests moved off reclaimed replicas."""
    spot_figures: SpotFigures | None = None
    """With spot: 'engine' (the recompute per reclaim from the reclaims simulated), or
    'expected' when none was simulated (the recompute unknown, 0; the count and missing
    capacity are expectations either way)."""

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


def spot_gpu_hours(cost: RentedGpu, scheduled_gpu_hours: float) -> float:
    """The spot GPU-hours of a month that schedules `scheduled_gpu_hours`: `spot.share` of
    those above the reservation (0 without spot). The engine reclaims replicas at the rate
    these hours give (`serving.interruptions`); the bill buys them."""
    if cost.spot is None:
        return 0.0
    reserved = cost.reserved.gpus * HOURS_PER_MONTH if cost.reserved is not None else 0.0
    return max(scheduled_gpu_hours - reserved, 0.0) * cost.spot.share


def capacity_bill(
    cost: RentedGpu,
    gpu: GpuSpec,
    on_demand_usd_per_gpu_hour: float,
    scheduled_gpu_hours: float,
    busy_gpu_hours: float,
    gpus_per_replica: int,
    *,
    spot_run: SpotRun | None = None,
) -> CapacityBill:
    """The bill of a fleet scheduled `scheduled_gpu_hours` a month, `busy_gpu_hours` of them
    computing, bought as `cost` says, with the engine's `spot_run` when it simulated the
    fleet (see the module doc)."""
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
    spot_hours = spot_gpu_hours(cost, scheduled_gpu_hours)
    figures: SpotFigures | None = None
    run = SpotRun(0.0, 0.0, 0.0, 0.0)
    if cost.spot is not None:
        spot = cost.spot
        spot_rate = (
            spot.usd_per_gpu_hour
            if spot.usd_per_gpu_hour is not None
            else _quote(gpu, QuotePricing.SPOT, None)
        )
        # the month's reclaims and lag: their expectation (a simulated window shorter than
        # the reclaims' spacing sees none, or a lucky few); what a reclaim recomputes: the
        # engine's mean over the reclaims it simulated
        reclaims = spot_hours * spot.interruptions_per_gpu_hour
        down = reclaims * gpus_per_replica * spot.replacement_lag_s / 3600.0
        figures = "expected"
        requests = recompute = 0.0
        if spot_run is not None and spot_run.reclaims > 0:
            figures = "engine"
            requests = reclaims * spot_run.requests_recomputed / spot_run.reclaims
            recompute = reclaims * spot_run.recompute_gpu_hours / spot_run.reclaims
        run = SpotRun(reclaims, requests, recompute, down)
        parts.append(BillPart("spot", spot_hours, spot_rate))
    parts.append(BillPart("on_demand", burst - spot_hours, on_demand_usd_per_gpu_hour))
    return CapacityBill(
        parts=tuple(parts),
        busy_gpu_hours_per_month=busy_gpu_hours,
        reserved_idle_gpu_hours_per_month=max(reserved_hours - scheduled_gpu_hours, 0.0),
        spot_interruptions_per_month=run.reclaims,
        capacity_missing_share=run.down_gpu_hours / scheduled_gpu_hours
        if scheduled_gpu_hours > 0
        else 0.0,
        spot_requests_recomputed_per_month=run.requests_recomputed,
        spot_recompute_gpu_hours_per_month=run.recompute_gpu_hours,
        spot_figures=figures,
    )


def marginal_usd_per_gpu_hour(
    cost: RentedGpu, gpu: GpuSpec, on_demand_usd_per_gpu_hour: float, gpus: int
) -> float:
    """What one more hour of work on a fixed fleet of `gpus` rented GPUs costs, on average
    over its month: the bill of its hours above the commitment (spot and on demand) over all
    its hours. Reserved hours are paid whether used or not, so their marginal price is 0: a
    fleet within its commitment is free to use, one half reserved costs half its burst
    rate, an all-spot one its spot rate. Cheapest-first routing orders a mixed fleet's pools
    by it (`serving.pool_routing`)."""
    hours = gpus * HOURS_PER_MONTH
    if hours <= 0:
        return on_demand_usd_per_gpu_hour
    bill = capacity_bill(cost, gpu, on_demand_usd_per_gpu_hour, hours, 0.0, 1)
    burst = [p.usd_per_month for p in bill.parts if not p.kind.startswith("reserved")]
    return math.fsum(burst) / hours
