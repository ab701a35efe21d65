"""Who earns each dollar a user pays (the article's claim S6), from the scenario's own figures.

The month's revenue splits into (USD per month, and as a share of revenue):

- GPU vendor, gross margin: GPU-hours x purchase price x vendor gross margin / amortization
  hours (the part of each GPU-hour that pays the vendor's margin on the GPU);
- GPU vendor, cost of goods: the same with (1 - gross margin);
- servers: host hardware, as a share of the GPU purchase, amortized the same way;
- power & hosting: kWh x electricity price, plus hosting per GPU-month;
- cloud, rental markup over TCO: a rented fleet's bill less the four lines above, i.e. what
  the cloud keeps over its cost of owning the GPUs (negative: it rents below cost). Owned
  fleets have none: their bill is those lines (`infersim.economics.gpu_cost`);
- API providers: tokens bought from API deployments;
- serving overhead: CPU, network and storage beyond the GPUs;
- model provider, operating costs; and model provider, operating margin (the rest: revenue
  less everything above; negative when the provider loses money).

Rented GPUs are priced with `costs.value_chain`'s cloud figures: the catalog's purchase price
amortized over `cloud_amortization_months` of 730 h (as if the cloud rented every hour it
owns), power at the fleet's kWh (`costs.energy`'s figures, or its defaults) and
`cloud_electricity_usd_per_kwh`. A mixed fleet enters pool by pool, each with its own GPU's
purchase price, power and bill. The lines add up to the revenue; the shares to 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from infersim.catalog.types import GpuSpec
from infersim.economics.energy import EnergyUse, fleet_energy, gpu_power_w
from infersim.economics.errors import MissingPurchasePriceError
from infersim.economics.gpu_cost import GpuHourCost
from infersim.economics.inputs import HOURS_PER_MONTH, FleetCost
from infersim.economics.pnl import Pnl
from infersim.scenario.economics import Energy, ValueChain

VENDOR_MARGIN = "gpu_vendor_margin"
VENDOR_COGS = "gpu_vendor_cost_of_goods"
SERVERS = "servers"
POWER_HOSTING = "power_hosting"
CLOUD_MARKUP = "cloud_markup"
API = "api_providers"
OVERHEAD = "serving_overhead"
OPEX = "provider_operating_costs"
MARGIN = "provider_operating_margin"
LABELS = {
    VENDOR_MARGIN: "GPU vendor: gross margin",
    VENDOR_COGS: "GPU vendor: cost of goods",
    SERVERS: "servers (host hardware)",
    POWER_HOSTING: "power & hosting",
    CLOUD_MARKUP: "cloud: rental markup over TCO",
    API: "API providers",
    OVERHEAD: "serving overhead",
    OPEX: "model provider: operating costs",
    MARGIN: "model provider: operating margin",
}
#: For charts: the same lines, short (two lines at most).
SHORT_LABELS = {
    VENDOR_MARGIN: "vendor\nmargin",
    VENDOR_COGS: "vendor\nCOGS",
    SERVERS: "servers",
    POWER_HOSTING: "power,\nhosting",
    CLOUD_MARKUP: "cloud\nmarkup",
    API: "API",
    OVERHEAD: "overhead",
    OPEX: "opex",
    MARGIN: "provider\nkeeps",
}
LINES = (VENDOR_MARGIN, VENDOR_COGS, SERVERS, POWER_HOSTING, CLOUD_MARKUP, API, OVERHEAD, OPEX)


@dataclass(frozen=True)
class ValueShare:
    who: str
    """One of `LABELS`' keys."""
    usd_per_month: float
    share: float | None
    """Of the revenue; None without revenue."""


@dataclass(frozen=True)
class ValueChainResult:
    revenue_usd: float
    shares: tuple[ValueShare, ...]

    def usd(self, who: str) -> float:
        return next(s.usd_per_month for s in self.shares if s.who == who)


@dataclass(frozen=True)
class FleetInputs:
    """What the value chain needs of one self-hosted fleet (or one pool of a mixed fleet)."""

    fleet: FleetCost
    gpu: GpuSpec
    hour_cost: GpuHourCost
    energy: EnergyUse | None


def _rented_lines(item: FleetInputs, chain: ValueChain, energy: Energy) -> dict[str, float]:
    gpu, fleet = item.gpu, item.fleet
    if gpu.purchase_usd is None:
        raise MissingPurchasePriceError(
            f"{gpu.id} has no purchase_usd in the catalog, so the cloud's cost of owning it "
            "is unknown; add it to the GPU entry, or remove costs.value_chain"
        )
    hours = fleet.gpu_hours_per_month
    per_hour = gpu.purchase_usd / (chain.cloud_amortization_months * HOURS_PER_MONTH)
    used = item.energy
    if used is None:
        power = gpu_power_w(gpu, energy.idle_power_share, fleet.busy_share)
        used = fleet_energy(
            fleet.deployment, hours, power, energy.host_overhead_share, energy.pue, 0.0, None
        )
    lines = {
        VENDOR_MARGIN: hours * per_hour * chain.gpu_vendor_gross_margin,
        VENDOR_COGS: hours * per_hour * (1.0 - chain.gpu_vendor_gross_margin),
        SERVERS: hours * per_hour * chain.cloud_server_overhead_share,
        POWER_HOSTING: used.kwh_per_month * chain.cloud_electricity_usd_per_kwh
        + hours * chain.cloud_hosting_usd_per_gpu_month / HOURS_PER_MONTH,
    }
    lines[CLOUD_MARKUP] = fleet.usd_per_month - math.fsum(lines.values())
    return lines


def _owned_lines(item: FleetInputs, chain: ValueChain) -> dict[str, float]:
    hours, cost = item.fleet.gpu_hours_per_month, item.hour_cost
    amortization = hours * cost.amortization_usd_per_hour
    lines = {
        VENDOR_MARGIN: amortization * chain.gpu_vendor_gross_margin,
        VENDOR_COGS: amortization * (1.0 - chain.gpu_vendor_gross_margin),
        SERVERS: hours * cost.server_overhead_usd_per_hour,
        POWER_HOSTING: hours * (cost.power_usd_per_hour + cost.hosting_usd_per_hour),
    }
    lines[CLOUD_MARKUP] = 0.0
    return lines


def value_chain(
    chain: ValueChain, energy: Energy, fleets: Mapping[str, FleetInputs], pnl: Pnl
) -> ValueChainResult:
    """The month's revenue split among who earns it (see the module doc)."""
    usd = dict.fromkeys(LINES, 0.0)
    for item in fleets.values():
        lines = (
            _owned_lines(item, chain)
            if item.hour_cost.kind == "owned"
            else _rented_lines(item, chain, energy)
        )
        for who, amount in lines.items():
            usd[who] += amount
    usd[API] = pnl.api_cost_usd
    usd[OVERHEAD] = pnl.serving_overhead_usd
    usd[OPEX] = pnl.operating_cost_total_usd
    revenue = pnl.revenue_usd
    usd[MARGIN] = revenue - math.fsum(usd.values())
    has_revenue = revenue > 0
    return ValueChainResult(
        revenue,
        tuple(
            ValueShare(who, amount, amount / revenue if has_revenue else None)
            for who, amount in usd.items()
        ),
    )
