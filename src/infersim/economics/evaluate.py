"""One month of economics: margin table, per-user margin distributions, P&L.

`evaluate_month` is pure: it reads the scenario, the engine's per-deployment figures and the
random generator it is given, and returns an `EconomicsResult`. How fleet bills and serving
overhead are attributed to segments is documented in `infersim.economics.attribution`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics.api_prices import api_token_cost
from infersim.economics.attribution import Attribution, DeploymentCost, attribute
from infersim.economics.batch_tiers import BatchTier, batch_tiers
from infersim.economics.errors import InvalidEconomicsInputError, MissingTokenCostError
from infersim.economics.inputs import ClassVolume, FleetCost, TokenCost
from infersim.economics.margins import (
    Detail,
    MarginRow,
    MarginTable,
    UserMarginDistribution,
    user_margin_distribution,
)
from infersim.economics.plans import RequestEconomics, breakeven_requests, user_margins_usd
from infersim.economics.pnl import Pnl, pnl_from_total
from infersim.economics.routing import Mix
from infersim.economics.segments import (
    PlanUsage,
    Segment,
    Served,
    class_segments,
    contract_segments,
    population_segment,
)
from infersim.economics.users import DEFAULT_SAMPLE_CAP, PopulationSample, draw_population
from infersim.scenario.deployment import ApiModel
from infersim.scenario.model import Scenario


@dataclass(frozen=True)
class EconomicsResult:
    month: int
    table: MarginTable
    distributions: Mapping[str, UserMarginDistribution]
    pnl: Pnl
    deployments: Mapping[str, DeploymentCost]
    overhead_rate: float
    batch_tiers: tuple[BatchTier, ...] = ()
    """Batch classes' API purchases and sales at batch prices (empty: none)."""


def evaluate_month(
    scenario: Scenario,
    catalog: Catalog,
    token_costs: Mapping[str, TokenCost],
    volumes: Sequence[ClassVolume],
    fleets: Sequence[FleetCost],
    rng: np.random.Generator,
    month: int = 0,
    sample_cap: int = DEFAULT_SAMPLE_CAP,
    samples: Mapping[str, PopulationSample] | None = None,
    served: Mapping[str, Served] | None = None,
    detail: Detail = "full",
) -> EconomicsResult:
    """Month `month` (0 = the first) of the scenario's economics.

    `token_costs` needs an entry for every self-hosted deployment that serves tokens; API
    deployments default to their list price (`api_token_cost`). User populations are drawn
    from `rng` (at most `sample_cap` users each, weighted; see `infersim.economics.users`),
    unless `samples` gives them already drawn (the pipeline draws them first, to simulate
    their traffic). `served` gives, per population and deployment, what the fleet served of
    that traffic (see `infersim.economics.segments`). `detail`: how much of the per-user
    margin distributions to compute (see `infersim.economics.margins.Detail`).
    """
    if sample_cap < 1:
        raise ValueError(f"sample_cap must be >= 1, got {sample_cap}")
    if month < 0:
        raise ValueError(f"month must be >= 0, got {month}")
    costs = complete_token_costs(scenario, catalog, token_costs)
    fleet_map = _fleet_map(scenario, fleets)
    if samples is None:
        samples = draw_populations(scenario, rng, month, sample_cap)
    served = served or {}
    segments: list[Segment] = [
        population_segment(name, pop, scenario, samples[name], served.get(name))
        for name, pop in scenario.workload.users.items()
    ]
    segments += class_segments(scenario, catalog, volumes)
    segments += contract_segments(scenario)
    segments = _unique_names(segments)
    usages = [usage for segment in segments for usage in segment.usages]
    for usage in usages:
        if usage.deployment not in costs:
            raise MissingTokenCostError(
                f"segment '{usage.segment}' is served on '{usage.deployment}', which has no "
                "TokenCost; the engine gives one per self-hosted deployment"
            )
    attribution = attribute(
        usages,
        costs,
        fleet_map,
        scenario.costs.serving_overhead_share,
        scenario.costs.serving_overhead_usd_per_month,
    )
    rows = [_row(segment, attribution, costs) for segment in segments]
    rows += _unallocated_rows(attribution)
    table = MarginTable.of(rows)
    distributions = {
        segment.name: _distribution(segment, segment.plan, attribution, costs, detail)
        for segment in segments
        if segment.plan is not None
    }
    return EconomicsResult(
        month=month,
        table=table,
        distributions=distributions,
        pnl=pnl_from_total(table.total, scenario.costs.operating_usd_per_month),
        deployments=attribution.deployments,
        overhead_rate=attribution.overhead_rate,
        batch_tiers=batch_tiers(scenario, catalog, volumes, costs),
    )


def evaluate_horizon(
    scenario: Scenario,
    catalog: Catalog,
    token_costs: Mapping[str, TokenCost],
    volumes: Sequence[ClassVolume],
    fleets: Sequence[FleetCost],
    rng: np.random.Generator,
    months: int | None = None,
    sample_cap: int = DEFAULT_SAMPLE_CAP,
) -> list[EconomicsResult]:
    """Months 0 .. months-1 (default: the scenario's horizon) with common random numbers: the
    same users every month, their usage grown, so month-to-month changes are not noise."""
    seed = int(rng.integers(2**63 - 1))
    count = scenario.horizon.months if months is None else months
    return [
        evaluate_month(
            scenario,
            catalog,
            token_costs,
            volumes,
            fleets,
            np.random.default_rng(seed),
            m,
            sample_cap,
        )
        for m in range(count)
    ]


def draw_populations(
    scenario: Scenario,
    rng: np.random.Generator,
    month: int = 0,
    sample_cap: int = DEFAULT_SAMPLE_CAP,
) -> dict[str, PopulationSample]:
    """Every population's active users for the month, drawn from `rng` in scenario order."""
    return {
        name: draw_population(name, pop, rng, month, sample_cap)
        for name, pop in scenario.workload.users.items()
    }


def complete_token_costs(
    scenario: Scenario, catalog: Catalog, token_costs: Mapping[str, TokenCost]
) -> dict[str, TokenCost]:
    """The given token costs, checked, plus list prices for API deployments not given."""
    out: dict[str, TokenCost] = {}
    for key, cost in token_costs.items():
        if key not in scenario.deployments:
            raise InvalidEconomicsInputError(
                f"token cost for unknown deployment '{key}'; known: "
                f"{', '.join(scenario.deployments)}"
            )
        if cost.deployment != key:
            raise InvalidEconomicsInputError(
                f"token_costs['{key}'] is the token cost of '{cost.deployment}'"
            )
        out[key] = cost
    for name, deployment in scenario.deployments.items():
        if name not in out and isinstance(deployment, ApiModel):
            out[name] = api_token_cost(deployment, name, catalog)
    return out


def _fleet_map(scenario: Scenario, fleets: Sequence[FleetCost]) -> dict[str, FleetCost]:
    out: dict[str, FleetCost] = {}
    for fleet in fleets:
        deployment = scenario.deployments.get(fleet.deployment)
        if deployment is None:
            raise InvalidEconomicsInputError(
                f"fleet of unknown deployment '{fleet.deployment}'; known: "
                f"{', '.join(scenario.deployments)}"
            )
        if isinstance(deployment, ApiModel):
            raise InvalidEconomicsInputError(
                f"'{fleet.deployment}' is bought from an API at list price: it has no fleet"
            )
        if fleet.deployment in out:
            raise InvalidEconomicsInputError(f"two fleets for '{fleet.deployment}'; give one")
        out[fleet.deployment] = fleet
    return out


def _unique_names(segments: list[Segment]) -> list[Segment]:
    """Segment names as given, or 'kind:name' where two kinds share a name."""
    counts = Counter(segment.name for segment in segments)
    return [
        s if counts[s.name] == 1 else dataclasses.replace(s, name=f"{s.kind}:{s.name}")
        for s in segments
    ]


def _row(segment: Segment, attribution: Attribution, costs: Mapping[str, TokenCost]) -> MarginRow:
    gpu, api, overhead = attribution.segment_costs(segment.usages, costs)
    return MarginRow(
        segment=segment.name,
        kind=segment.kind,
        product=segment.product,
        deployments=segment.deployments,
        users=segment.users,
        active_users=segment.active_users,
        requests=segment.requests,
        capped_requests=segment.capped_requests,
        unserved_requests=segment.unserved_requests,
        unserved_tokens=segment.unserved_tokens,
        revenue_foregone_usd=segment.revenue_foregone_usd,
        input_tokens=sum(u.input_tokens for u in segment.usages),
        cached_input_tokens=sum(u.cached_input_tokens for u in segment.usages),
        output_tokens=sum(u.output_tokens for u in segment.usages),
        revenue_usd=segment.revenue_usd,
        gpu_cost_usd=gpu,
        api_cost_usd=api,
        overhead_usd=overhead,
    )


def _cost_row(name: str, deployments: tuple[str, ...], gpu: float, overhead: float) -> MarginRow:
    return MarginRow(
        segment=name,
        kind="unallocated",
        product=None,
        deployments=deployments,
        users=None,
        active_users=None,
        requests=0.0,
        capped_requests=0.0,
        unserved_requests=0.0,
        unserved_tokens=0.0,
        revenue_foregone_usd=0.0,
        input_tokens=0.0,
        cached_input_tokens=0.0,
        output_tokens=0.0,
        revenue_usd=0.0,
        gpu_cost_usd=gpu,
        api_cost_usd=0.0,
        overhead_usd=overhead,
    )


def _unallocated_rows(attribution: Attribution) -> list[MarginRow]:
    """Fleets no token was served on, and overhead with no serving cost to carry it."""
    rate = attribution.overhead_rate
    rows = [
        _cost_row(f"idle fleet: {name}", (name,), d.unallocated_usd, d.unallocated_usd * rate)
        for name, d in attribution.deployments.items()
        if d.unallocated_usd > 0
    ]
    if attribution.unallocated_overhead_usd > 0:
        rows.append(_cost_row("serving overhead", (), 0.0, attribution.unallocated_overhead_usd))
    return rows


def _usd_per_request(
    mix: Mix, usage: PlanUsage, attribution: Attribution, costs: Mapping[str, TokenCost]
) -> float | None:
    """All-in cost of one request of `usage`'s tokens served as `mix` says, the share the fleet
    could not serve costing nothing (None: a deployment without a token cost, which only a
    population with no active user reaches)."""
    tokens = usage.tokens
    total = 0.0
    for deployment, share in mix.items():
        if deployment not in costs:
            return None
        priced = costs[deployment].usd(tokens.input, tokens.cached_input, tokens.output)
        charged = attribution.deployments.get(deployment)
        served = usage.served_fraction.get(deployment, 1.0)
        total += share * served * priced * (charged.factor if charged is not None else 1.0)
    return total * (1.0 + attribution.overhead_rate)


def _distribution(
    segment: Segment,
    usage: PlanUsage,
    attribution: Attribution,
    costs: Mapping[str, TokenCost],
    detail: Detail,
) -> UserMarginDistribution:
    within = _usd_per_request(usage.mix, usage, attribution, costs)
    above: float | None = 0.0
    if usage.above_mix is not None:
        above = _usd_per_request(usage.above_mix, usage, attribution, costs)
    revenue_above = usage.terms.overage_usd_per_request if usage.terms.at_cap == "overage" else 0.0
    price = usage.terms.price_usd_per_month
    breakeven = None
    falls = True  # a margin that is the same for every user falls (weakly) with usage
    if within is None or above is None:  # no active user: every margin is the price
        margins = np.full(usage.sample.requests.size, price)
    else:
        economics = RequestEconomics(within, above, revenue_above)
        margins = user_margins_usd(usage.split, price, economics)
        breakeven = breakeven_requests(price, usage.terms.cap_requests, economics)
        falls = economics.cost_within_usd >= 0 and economics.net_above_usd <= 0
    return user_margin_distribution(
        segment=segment.name,
        plan=usage.plan,
        margins=margins,
        requests=usage.sample.requests,
        weight=usage.sample.weight,
        users=usage.sample.users,
        active_users=usage.sample.active_users,
        price_usd_per_month=price,
        breakeven=breakeven,
        detail=detail,
        falls_with_usage=falls,
    )
