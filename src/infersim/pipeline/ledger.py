"""The ledger: from what the engine served and paid for to what the economics prices.

- `FleetCost` per self-hosted deployment: its paid GPU-hours (the fleet scheduled over the
  simulated time, scaled to a month of 730 h) at the $/GPU-hour of its rented or owned GPUs,
  and the share of those hours the GPUs were busy. This bill is the P&L's GPU cost, to the
  cent: the economics charges it whole (`infersim.economics.attribution`).
- `TokenCost` per self-hosted deployment: that bill spread over the tokens the fleet served
  (prefill's share of busy time over prompt tokens, the rest over output tokens), so idle
  capacity is in the price of every token.
- `ClassVolume` per request class and deployment: monthly requests and tokens served, and
  those the fleet could not serve (from the engine where it served them; from the class's
  mean rate and lengths for deployments bought from an API, which serve all they are sent).
- Per population and deployment, what the fleet served of the population's traffic.
- A mixed fleet (`deployments.X.pools`) is billed, bought and powered pool by pool
  (`PoolCost`): each pool's GPU-hours at its own GPU's price and busy share, its reserved and
  spot capacity split by `capacity_bill` on its own hours (`pool:<name>:<kind>` bill parts),
  its kWh at its own GPU's power and its carbon at its own grid; the fleet's figures are the
  pools' sums.

Every monthly figure is the engine's figure over the simulated time x (one month / simulated
time): the tokens priced are the tokens served, and the hours billed are the hours paid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from infersim.catalog.load import Catalog
from infersim.catalog.types import GpuSpec
from infersim.economics import (
    ClassVolume,
    FleetCost,
    GpuHourCost,
    TokenCost,
    gpu_usd_per_hour,
    token_cost_from_fleet,
)
from infersim.economics.api_prices import billed_as_batch
from infersim.economics.attribution import Usage
from infersim.economics.capacity import CapacityBill, SpotRun, capacity_bill
from infersim.economics.energy import EnergyUse, fleet_energy, gpu_power_w, pooled_energy
from infersim.economics.inputs import BillPart
from infersim.economics.segments import Served
from infersim.pipeline.demand import SECONDS_PER_MONTH, PopulationTraffic
from infersim.scenario.deployment import (
    ApiModel,
    FleetPool,
    OwnedGpu,
    RentedGpu,
    SelfHosted,
    fleet_gpus,
)
from infersim.scenario.model import Scenario
from infersim.serving.result import ClassServing, DeploymentServing, ServingResult, SpotServing
from infersim.workload.arrivals import mean_rate_per_s
from infersim.workload.stream import class_share
from infersim.workload.trace import (
    ExternalData,
    class_mean_tokens,
    class_share_of_prompt_above,
)

HOURS_PER_MONTH = SECONDS_PER_MONTH / 3600.0


@dataclass(frozen=True)
class PoolCost:
    """One pool of a mixed fleet: its GPU, how it is bought, and its bill."""

    pool: str
    gpu: GpuSpec
    hour_cost: GpuHourCost
    """Its GPU-hour at its busy share (on demand, for capacity bought several ways)."""
    fleet: FleetCost
    """Its bill (`deployment` is '<fleet>:<pool>'); its parts are the fleet's `pool:<name>...`."""
    capacity: CapacityBill | None
    """With reserved or spot capacity: how its hours were bought."""
    scheduled_gpu_hours_per_month: float
    """The engine's GPU-hours of the pool (its paid hours, less a reserved commitment above)."""


@dataclass(frozen=True)
class Ledger:
    gpu_costs: Mapping[str, GpuHourCost]
    fleets: tuple[FleetCost, ...]
    token_costs: Mapping[str, TokenCost]
    volumes: tuple[ClassVolume, ...]
    """Request classes (not populations), served and unserved, per deployment."""
    population_offered: Mapping[str, Mapping[str, Usage]]
    """Per population and self-hosted deployment: what the population sent there a month."""
    population_served: Mapping[str, Mapping[str, Usage]]
    """Per population and self-hosted deployment: what the fleet served of it a month."""
    population_unserved: Mapping[str, Mapping[str, Usage]]
    """Per population and self-hosted deployment: what the fleet was sent and could not
    serve (the engine's offered traffic less what it served)."""
    capacity: Mapping[str, CapacityBill] = field(default_factory=dict)
    """Rented fleets with reserved or spot capacity (a mixed fleet: on any pool, its pools'
    figures summed): how their hours were bought."""
    energy: tuple[EnergyUse, ...] = ()
    """Per self-hosted fleet, with `costs.energy`: kWh and carbon (reported, not billed)."""
    pools: Mapping[str, tuple[PoolCost, ...]] = field(default_factory=dict)
    """Mixed fleets: per deployment, its pools' bills (they add up to its `FleetCost`)."""

    def served(self) -> dict[str, Served]:
        """Per population, what the fleets served of it and what they could not."""
        return {
            name: Served(served, self.population_unserved.get(name, {}))
            for name, served in self.population_served.items()
        }

    @property
    def gpu_cost_usd(self) -> float:
        """The fleets' bills: what the P&L's GPU line must equal."""
        return math.fsum(f.usd_per_month for f in self.fleets)


def _long_context_share(
    scenario: Scenario, class_name: str, deployment: str, data: ExternalData
) -> float:
    """Share of the class's prompt tokens above its API product's long-context threshold."""
    products = [p for p in scenario.pricing.api.values() if p.deployment == deployment]
    cls = scenario.workload.classes[class_name]
    thresholds = [p.long_context_threshold_tokens for p in products]
    if not thresholds or thresholds[0] is None:
        return 0.0
    return class_share_of_prompt_above(cls, thresholds[0], data)


def build_ledger(
    scenario: Scenario,
    catalog: Catalog,
    serving: ServingResult,
    data: ExternalData,
    traffic: Mapping[str, PopulationTraffic] | None = None,
) -> Ledger:
    """Fleet bills, per-token costs and monthly volumes (see the module doc). `scenario` is
    the one the engine served (population classes included); `traffic` names those classes."""
    traffic = traffic or {}
    to_month = SECONDS_PER_MONTH / serving.horizon_s
    served = {d.name: d for d in serving.deployments}
    gpu_costs: dict[str, GpuHourCost] = {}
    fleets: list[FleetCost] = []
    token_costs: dict[str, TokenCost] = {}
    volumes: list[ClassVolume] = []
    offered: dict[str, dict[str, Usage]] = {}
    population_served: dict[str, dict[str, Usage]] = {}
    population_unserved: dict[str, dict[str, Usage]] = {}
    capacity: dict[str, CapacityBill] = {}
    energy: list[EnergyUse] = []
    pooled: dict[str, tuple[PoolCost, ...]] = {}
    for sent in traffic.values():
        offered.setdefault(sent.population, {})[sent.deployment] = sent.offered
        # what the engine served of it (no arrival in the simulated window: nothing)
        nothing = Usage(sent.population, sent.deployment, 0.0, 0.0, 0.0, 0.0)
        population_served.setdefault(sent.population, {})[sent.deployment] = nothing
        population_unserved.setdefault(sent.population, {})[sent.deployment] = nothing
    for name, dep in scenario.deployments.items():
        if isinstance(dep, ApiModel):
            volumes += _api_volumes(scenario, name, data)
            continue
        assert isinstance(dep, SelfHosted)
        gpu = catalog.gpu_of(dep.gpu)
        result = served.get(name)
        if result is None:  # provisioned, but no traffic: all idle
            hours, busy = fleet_gpus(dep, scenario.fleet) * HOURS_PER_MONTH, 0.0
        else:
            # a steady month pays the fleet scheduled over the simulated time: the drain
            # after a finite simulation overlaps the next window's arrivals in reality
            hours = result.gpu_hours_scheduled * to_month
            scheduled = result.gpu_hours_scheduled
            busy = min(result.gpu_hours_busy / scheduled, 1.0) if scheduled > 0 else 0.0
        cost = dep.cost or scenario.costs.gpu
        hour_cost = gpu_usd_per_hour(cost, gpu, busy)
        gpu_costs[name] = hour_cost
        if dep.pools is not None:  # a mixed fleet: each pool billed at its own price
            pools = _pool_costs(scenario, catalog, name, dep, result, to_month)
            pooled[name] = pools
            fleet = _fleet_of(
                name,
                tuple(part for p in pools for part in p.fleet.parts),
                math.fsum(p.fleet.busy_gpu_hours_per_month for p in pools),
            )
            if any(p.capacity is not None for p in pools):
                capacity[name] = _pooled_capacity(fleet, pools)
        elif isinstance(cost, RentedGpu) and (cost.reserved or cost.spot):
            bill = capacity_bill(
                cost, gpu, hour_cost.usd_per_hour, hours, hours * busy, dep.gpus_per_replica,
                spot_run=_spot_run(result, to_month),
            )  # fmt: skip
            capacity[name] = bill
            fleet = _fleet_of(name, bill.parts, bill.busy_gpu_hours_per_month)
        else:
            kind = cost.pricing if isinstance(cost, RentedGpu) else "owned"
            fleet = FleetCost(
                name, hours, busy, hour_cost.usd_per_hour,
                (BillPart(kind, hours, hour_cost.usd_per_hour),),
            )  # fmt: skip
        fleets.append(fleet)
        if scenario.costs.energy is not None:
            tokens = 0.0
            if result is not None:
                tokens = (result.served_input_tokens + result.served_output_tokens) * to_month
            if dep.pools is None:
                energy.append(_energy(scenario, catalog, name, cost, gpu, fleet, tokens))
            else:
                pools = pooled[name]
                energy.append(_pooled_energy(scenario, catalog, name, dep, pools, result, to_month))
        if result is None:
            token_costs[name] = TokenCost(name, 0.0, 0.0, 0.0, "engine")
            continue
        token_costs[name] = token_cost_from_fleet(
            name,
            fleet.usd_per_month,
            result.served_input_tokens * to_month,
            result.served_cached_input_tokens * to_month,
            result.served_output_tokens * to_month,
            result.prefill_share,
        )
        for cls in result.classes:
            item = traffic.get(cls.name)
            got, missed = _monthly(cls, item.population if item else cls.name, name, to_month)
            if item is not None:
                population_served.setdefault(item.population, {})[name] = got
                population_unserved.setdefault(item.population, {})[name] = missed
                continue
            volumes.append(_served_volume(scenario, cls.name, got, missed, data))
    return Ledger(
        gpu_costs,
        tuple(fleets),
        token_costs,
        tuple(volumes),
        offered,
        population_served,
        population_unserved,
        capacity,
        tuple(energy),
        pooled,
    )


def _spot_run(result: DeploymentServing | None, to_month: float) -> SpotRun | None:
    """The engine's spot reclaims over a month (None: the engine did not simulate spot)."""
    if result is None or result.spot is None:
        return None
    return _monthly_spot(result.spot, to_month)


def _monthly_spot(spot: SpotServing, to_month: float) -> SpotRun:
    return SpotRun(
        spot.reclaims * to_month,
        spot.requests_recomputed * to_month,
        spot.recompute_gpu_hours * to_month,
        spot.down_gpu_hours * to_month,
    )


def _pool_costs(
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    result: DeploymentServing | None,
    to_month: float,
) -> tuple[PoolCost, ...]:
    """A mixed fleet's pools, each billed at its own GPU's price and utilization: one part
    `pool:<name>`, or with reserved or spot capacity `capacity_bill`'s parts on the pool's own
    hours, named `pool:<name>:<kind>`, with the engine's reclaims of the pool's own replicas.
    With no traffic every pool is paid all month, idle (its expected reclaims)."""
    assert dep.pools is not None
    served = {} if result is None else {p.name: p for p in result.mixed_pools}
    out = []
    for pool in dep.pools:
        layout = dep.pool_layout(pool)
        row = served.get(pool.name)
        if row is None:
            hours, busy = pool.replicas * layout.gpus_per_replica * HOURS_PER_MONTH, 0.0
        else:
            hours, busy = row.gpu_hours_scheduled * to_month, min(row.busy_share, 1.0)
        cost = layout.cost or scenario.costs.gpu
        gpu = catalog.gpu_of(pool.gpu)
        hour_cost = gpu_usd_per_hour(cost, gpu, busy)
        key, bill = f"pool:{pool.name}", None
        if isinstance(cost, RentedGpu) and (cost.reserved or cost.spot):
            spot_run = None
            if row is not None and row.spot is not None:
                spot_run = _monthly_spot(row.spot, to_month)
            bill = capacity_bill(
                cost, gpu, hour_cost.usd_per_hour, hours, hours * busy, layout.gpus_per_replica,
                spot_run=spot_run,
            )  # fmt: skip
            parts = tuple(
                BillPart(f"{key}:{p.kind}", p.gpu_hours_per_month, p.usd_per_gpu_hour)
                for p in bill.parts
            )
            fleet = _fleet_of(f"{name}:{pool.name}", parts, bill.busy_gpu_hours_per_month)
        else:
            part = BillPart(key, hours, hour_cost.usd_per_hour)
            fleet = _fleet_of(f"{name}:{pool.name}", (part,), hours * busy)
        out.append(PoolCost(pool.name, gpu, hour_cost, fleet, bill, hours))
    return tuple(out)


def _pooled_capacity(fleet: FleetCost, pools: tuple[PoolCost, ...]) -> CapacityBill:
    """A mixed fleet's capacity figures: its pools' sums (a pool bought by the hour adds its
    hours and busy hours, and no reserved idle hours, reclaims or missing capacity); its spot
    figures are the engine's when the engine reclaimed any pool's replicas."""
    scheduled = math.fsum(p.scheduled_gpu_hours_per_month for p in pools)
    bills = [p.capacity for p in pools if p.capacity is not None]
    figures = {b.spot_figures for b in bills if b.spot_figures is not None}
    missing = math.fsum(
        p.capacity.capacity_missing_share * p.scheduled_gpu_hours_per_month
        for p in pools
        if p.capacity is not None
    )
    return CapacityBill(
        parts=fleet.parts,
        busy_gpu_hours_per_month=fleet.busy_gpu_hours_per_month,
        reserved_idle_gpu_hours_per_month=math.fsum(
            b.reserved_idle_gpu_hours_per_month for b in bills
        ),
        spot_interruptions_per_month=math.fsum(b.spot_interruptions_per_month for b in bills),
        capacity_missing_share=missing / scheduled if scheduled > 0 else 0.0,
        spot_requests_recomputed_per_month=math.fsum(
            b.spot_requests_recomputed_per_month for b in bills
        ),
        spot_recompute_gpu_hours_per_month=math.fsum(
            b.spot_recompute_gpu_hours_per_month for b in bills
        ),
        spot_figures=("engine" if "engine" in figures else "expected") if figures else None,
    )


def _fleet_of(name: str, parts: tuple[BillPart, ...], busy_hours: float) -> FleetCost:
    """A fleet bought in parts: its paid hours, busy share and mean $/GPU-hour."""
    paid = math.fsum(p.gpu_hours_per_month for p in parts)
    bill = math.fsum(p.usd_per_month for p in parts)
    busy = min(busy_hours / paid, 1.0) if paid > 0 else 0.0
    rate = bill / paid if paid > 0 else 0.0
    return FleetCost(name, paid, busy, rate, parts)


def _energy(
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    cost: RentedGpu | OwnedGpu,
    gpu: GpuSpec,
    fleet: FleetCost,
    tokens_per_month: float,
    pool: FleetPool | None = None,
) -> EnergyUse:
    """A fleet's (or a pool's) kWh and carbon: owned GPUs with their cost block's idle share
    and PUE (the figures their power bill uses), rented ones with `costs.energy`'s; carbon at
    the pool's own grid where it gives one, else `costs.energy`'s."""
    energy = scenario.costs.energy
    assert energy is not None
    if isinstance(cost, OwnedGpu):
        idle, pue = cost.power_draw_idle_share, cost.pue
    else:
        idle, pue = energy.idle_power_share, energy.pue
    grid, intensity = energy.grid, energy.gco2e_per_kwh
    if pool is not None and (pool.grid is not None or pool.gco2e_per_kwh is not None):
        grid, intensity = pool.grid, pool.gco2e_per_kwh
    if grid is not None:
        intensity = catalog.grid(grid).gco2e_per_kwh
    use = fleet_energy(
        name, fleet.gpu_hours_per_month, gpu_power_w(gpu, idle, fleet.busy_share),
        energy.host_overhead_share, pue, tokens_per_month, intensity,
    )  # fmt: skip
    return use if pool is None else replace(use, pool=pool.name)


def _pooled_energy(
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    pools: tuple[PoolCost, ...],
    result: DeploymentServing | None,
    to_month: float,
) -> EnergyUse:
    """A mixed fleet's kWh and carbon, pool by pool: each at its own GPU's power, busy share
    and grid. A pool's tokens are the fleet's in the share of the output tokens its replicas
    computed (as its output tokens per second in the serving figures)."""
    assert dep.pools is not None
    tokens = 0.0
    shares = dict.fromkeys((p.name for p in dep.pools), 0.0)
    if result is not None:
        tokens = (result.served_input_tokens + result.served_output_tokens) * to_month
        if result.output_tokens_per_s > 0:
            for row in result.mixed_pools:
                shares[row.name] = row.output_tokens_per_s / result.output_tokens_per_s
    uses = []
    for pool, cost in zip(dep.pools, pools, strict=True):
        layout_cost = dep.pool_layout(pool).cost or scenario.costs.gpu
        share = tokens * shares[pool.name]
        use = _energy(scenario, catalog, name, layout_cost, cost.gpu, cost.fleet, share, pool)
        uses.append(use)
    return pooled_energy(name, tuple(uses), tokens)


def _monthly(
    cls: ClassServing, segment: str, deployment: str, to_month: float
) -> tuple[Usage, Usage]:
    """A class's month on a fleet: what the fleet served, and what it could not."""
    served = Usage(
        segment,
        deployment,
        cls.served_requests * to_month,
        cls.served_input_tokens * to_month,
        cls.served_cached_input_tokens * to_month,
        cls.served_output_tokens * to_month,
    )
    unserved = Usage(
        segment,
        deployment,
        max(cls.offered_requests - cls.served_requests, 0.0) * to_month,
        max(cls.input_tokens - cls.served_input_tokens, 0.0) * to_month,
        max(cls.cached_input_tokens - cls.served_cached_input_tokens, 0.0) * to_month,
        max(cls.output_tokens - cls.served_output_tokens, 0.0) * to_month,
    )
    return served, unserved


def _served_volume(
    scenario: Scenario, name: str, served: Usage, unserved: Usage, data: ExternalData
) -> ClassVolume:
    """A request class's month on a fleet, priced by the API product sold there (if any)."""
    deployment = served.deployment
    return ClassVolume(
        name=name,
        deployment=deployment,
        requests_per_month=served.requests,
        input_tokens_per_month=served.input_tokens,
        cached_input_tokens_per_month=served.cached_input_tokens,
        output_tokens_per_month=served.output_tokens,
        batch_api=billed_as_batch(scenario.workload.classes[name]),
        long_context_input_share=_long_context_share(scenario, name, deployment, data),
        unserved_requests_per_month=unserved.requests,
        unserved_input_tokens_per_month=unserved.input_tokens,
        unserved_cached_input_tokens_per_month=unserved.cached_input_tokens,
        unserved_output_tokens_per_month=unserved.output_tokens,
    )


def _api_volumes(scenario: Scenario, deployment: str, data: ExternalData) -> list[ClassVolume]:
    """Monthly volumes of classes sent to an API deployment, from rates and mean lengths."""
    out = []
    for name, cls in scenario.workload.classes.items():
        share = class_share(scenario, name, deployment)
        if share <= 0:
            continue
        requests = mean_rate_per_s(cls.arrival, data) * share * SECONDS_PER_MONTH
        prompt = class_mean_tokens(cls, "prompt_tokens", data)
        out.append(
            ClassVolume(
                name=name,
                deployment=deployment,
                requests_per_month=requests,
                input_tokens_per_month=requests * prompt,
                cached_input_tokens_per_month=requests * prompt * cls.cached_prefix_share,
                output_tokens_per_month=requests * class_mean_tokens(cls, "output_tokens", data),
                batch_api=billed_as_batch(cls),
                long_context_input_share=_long_context_share(scenario, name, deployment, data),
            )
        )
    return out
