"""Segments of the month before costs are attributed: who was served what, and what they paid.

A segment is a user population (a plan's subscribers or the free tier), a request class's
volume on one deployment (sold through the API product on that deployment, if any), or a
contract. Subscribers pay their plan whether or not they are active; only active users send
requests. Contracts earn their flat fee; the traffic they bring, if simulated, is a request
class of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics.api_prices import class_revenue_usd, product_prices
from infersim.economics.attribution import Usage
from infersim.economics.errors import EconomicsError, InvalidEconomicsInputError
from infersim.economics.inputs import ClassVolume
from infersim.economics.margins import RowKind
from infersim.economics.plans import (
    CapSplit,
    PlanTerms,
    RequestTokens,
    ad_revenue_usd,
    split_at_cap,
)
from infersim.economics.routing import Mix, deployment_mix
from infersim.economics.users import PopulationSample, draw_population
from infersim.scenario.model import Scenario
from infersim.scenario.workload import UserPopulation


@dataclass(frozen=True)
class PlanUsage:
    """What a subscription population's per-user margins are computed from."""

    plan: str
    sample: PopulationSample
    split: CapSplit
    terms: PlanTerms
    tokens: RequestTokens
    mix: Mix
    above_mix: Mix | None  # None: requests past the cap are not served


@dataclass(frozen=True)
class Segment:
    name: str
    kind: RowKind
    product: str | None
    users: float | None
    active_users: float | None
    requests: float
    unserved_requests: float
    revenue_usd: float
    usages: tuple[Usage, ...]
    extra_deployments: tuple[str, ...] = ()
    plan: PlanUsage | None = field(default=None)

    @property
    def deployments(self) -> tuple[str, ...]:
        return tuple(sorted({u.deployment for u in self.usages} | set(self.extra_deployments)))


def usages_of(segment: str, mix: Mix, requests: float, tokens: RequestTokens) -> list[Usage]:
    """`requests` of `tokens` each, spread over deployments as `mix` says (none if 0)."""
    if requests <= 0:
        return []
    return [
        Usage(
            segment,
            deployment,
            requests * share,
            requests * share * tokens.input,
            requests * share * tokens.cached_input,
            requests * share * tokens.output,
        )
        for deployment, share in mix.items()
    ]


def population_segment(
    name: str,
    population: UserPopulation,
    scenario: Scenario,
    rng: np.random.Generator,
    month: int,
    sample_cap: int,
) -> Segment:
    sample = draw_population(name, population, rng, month, sample_cap)
    tokens = RequestTokens.of(population)
    mix = deployment_mix(population.deployment, scenario, f"workload.users.{name}")
    if population.plan == "free":
        total = sample.total_requests
        revenue = ad_revenue_usd(scenario.pricing.free_tier, sample.active_users)
        usages = usages_of(name, mix, total, tokens)
        return Segment(
            name=name,
            kind="free",
            product="free",
            users=sample.users,
            active_users=sample.active_users,
            requests=total,
            unserved_requests=0.0,
            revenue_usd=revenue,
            usages=tuple(usages),
            extra_deployments=tuple(mix),
        )
    plan = scenario.pricing.plans.get(population.plan)
    if plan is None:
        known = ", ".join([*scenario.pricing.plans, "free"])
        raise EconomicsError(
            f"workload.users.{name}.plan: unknown plan '{population.plan}'; known: {known}"
        )
    terms = PlanTerms.of(plan, tokens)
    split = split_at_cap(sample.requests, terms.cap_requests)
    within = float(split.within.sum()) * sample.weight
    above = float(split.above.sum()) * sample.weight
    usages = usages_of(name, mix, within, tokens)
    revenue = sample.users * terms.price_usd_per_month
    above_mix: Mix | None = None
    if terms.at_cap == "downgrade" and terms.downgrade_deployment is not None:
        above_mix = deployment_mix(
            terms.downgrade_deployment, scenario, f"pricing.plans.{population.plan}.cap"
        )
    elif terms.at_cap == "overage":
        above_mix = mix
        revenue += above * terms.overage_usd_per_request
    if above_mix is not None:
        usages += usages_of(name, above_mix, above, tokens)
    served = within + (above if above_mix is not None else 0.0)
    unserved = above if above_mix is None else 0.0
    usage = PlanUsage(population.plan, sample, split, terms, tokens, mix, above_mix)
    return Segment(
        name=name,
        kind="plan",
        product=population.plan,
        users=sample.users,
        active_users=sample.active_users,
        requests=served,
        unserved_requests=unserved,
        revenue_usd=revenue,
        usages=tuple(usages),
        extra_deployments=(*mix, *(above_mix or {})),
        plan=usage,
    )


def class_segments(
    scenario: Scenario, catalog: Catalog, volumes: Sequence[ClassVolume]
) -> list[Segment]:
    """One segment per volume, priced by the API product sold on its deployment (if any)."""
    products: dict[str, list[str]] = {}
    for key, api_product in scenario.pricing.api.items():
        products.setdefault(api_product.deployment, []).append(key)
    counts: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for volume in volumes:
        if volume.deployment not in scenario.deployments:
            raise InvalidEconomicsInputError(
                f"volume of class '{volume.name}': unknown deployment '{volume.deployment}'; "
                f"known: {', '.join(scenario.deployments)}"
            )
        if (volume.name, volume.deployment) in seen:
            raise InvalidEconomicsInputError(
                f"two volumes of class '{volume.name}' on '{volume.deployment}'; give one"
            )
        seen.add((volume.name, volume.deployment))
        counts[volume.name] = counts.get(volume.name, 0) + 1
    segments: list[Segment] = []
    for volume in volumes:
        sold_by = products.get(volume.deployment, [])
        if len(sold_by) > 1:
            raise EconomicsError(
                f"deployment '{volume.deployment}' is sold by several API products "
                f"({', '.join(sold_by)}), so class '{volume.name}' cannot be priced; keep one "
                "product per deployment (batch pricing is the product's batch_discount)"
            )
        revenue = 0.0
        product_name = sold_by[0] if sold_by else None
        if product_name is not None:
            product = scenario.pricing.api[product_name]
            prices = product_prices(product, product_name, catalog)
            revenue = class_revenue_usd(product, prices, volume)
        name = volume.name if counts[volume.name] == 1 else f"{volume.name}@{volume.deployment}"
        usage = Usage(
            name,
            volume.deployment,
            volume.requests_per_month,
            volume.input_tokens_per_month,
            volume.cached_input_tokens_per_month,
            volume.output_tokens_per_month,
        )
        segments.append(
            Segment(
                name=name,
                kind="api",
                product=product_name,
                users=None,
                active_users=None,
                requests=volume.requests_per_month,
                unserved_requests=0.0,
                revenue_usd=revenue,
                usages=(usage,),
            )
        )
    return segments


def contract_segments(scenario: Scenario) -> list[Segment]:
    return [
        Segment(
            name=name,
            kind="contract",
            product=name,
            users=None,
            active_users=None,
            requests=0.0,
            unserved_requests=0.0,
            revenue_usd=contract.fee_usd_per_month,
            usages=(),
            extra_deployments=(contract.deployment,) if contract.deployment else (),
        )
        for name, contract in scenario.pricing.contracts.items()
    ]
