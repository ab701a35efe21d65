"""Segments of the month before costs are attributed: who was served what, and what they paid.

A segment is a user population (a plan's subscribers or the free tier), a request class's
volume on one deployment (sold through the API product on that deployment, if any), or a
contract. Subscribers pay their plan whether or not they are active; only active users send
requests. Contracts earn their flat fee; the traffic they bring, if simulated, is a request
class of its own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
from infersim.economics.users import PopulationSample
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
    served_fraction: Mapping[str, float] = field(default_factory=dict)
    """Per deployment, requests the fleet served per request the drawn users sent there
    (absent: 1). Below 1 when the fleet could not serve them all; otherwise the engine's
    count of the month over the draw's (the Poisson noise of the simulated window), so that
    the users' costs add up to the segment's."""


@dataclass(frozen=True)
class Segment:
    name: str
    kind: RowKind
    product: str | None
    users: float | None
    active_users: float | None
    requests: float
    capped_requests: float
    unserved_requests: float
    unserved_tokens: float
    revenue_foregone_usd: float
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


@dataclass(frozen=True)
class Served:
    """What the fleets served of one population's traffic, and what they could not, per
    deployment and month (the engine's figures)."""

    served: Mapping[str, Usage]
    unserved: Mapping[str, Usage]


def served_usages(
    segment: str, offered: Sequence[Usage], fleets: Served | None
) -> tuple[list[Usage], dict[str, float], float, float]:
    """The usages the fleets served of `offered` (by deployment), the requests each served per
    request `offered` sent there, and the unserved requests and tokens. Deployments the engine did
    not serve (API deployments, or economics without an engine) serve all they are offered."""
    by_deployment: dict[str, list[Usage]] = {}
    for usage in offered:
        by_deployment.setdefault(usage.deployment, []).append(usage)
    out: list[Usage] = []
    fractions: dict[str, float] = {}
    unserved_requests = unserved_tokens = 0.0
    for deployment, usages in by_deployment.items():
        got = None if fleets is None else fleets.served.get(deployment)
        if got is None or fleets is None:
            out += usages
            continue
        missed = fleets.unserved.get(deployment)
        lost = 0.0 if missed is None else missed.requests
        out.append(dataclasses.replace(got, segment=segment))
        sent = math.fsum(u.requests for u in usages)
        fractions[deployment] = got.requests / sent if sent > 0 else 0.0
        unserved_requests += lost
        if missed is not None:
            unserved_tokens += missed.input_tokens + missed.output_tokens
    return out, fractions, unserved_requests, unserved_tokens


def _unserved_share(served: Sequence[Usage], unserved_requests: float) -> float:
    """Share of the requests sent to the deployments that went unserved."""
    asked = math.fsum(u.requests for u in served) + unserved_requests
    return unserved_requests / asked if asked > 0 else 0.0


def population_segment(
    name: str,
    population: UserPopulation,
    scenario: Scenario,
    sample: PopulationSample,
    served: Served | None = None,
) -> Segment:
    """The month of one population drawn as `sample`; `served` is what the fleets served of
    its traffic (see the module doc)."""
    tokens = RequestTokens.of(population)
    mix = deployment_mix(population.deployment, scenario, f"workload.users.{name}")
    if population.plan == "free":
        total = sample.total_requests
        revenue = ad_revenue_usd(scenario.pricing.free_tier, sample.active_users)
        offered = usages_of(name, mix, total, tokens)
        usages, fractions, unserved, unserved_tokens = served_usages(name, offered, served)
        unserved_share = _unserved_share(usages, unserved)
        return Segment(
            name=name,
            kind="free",
            product="free",
            users=sample.users,
            active_users=sample.active_users,
            requests=total * (1.0 - unserved_share),
            capped_requests=0.0,
            unserved_requests=total * unserved_share,
            unserved_tokens=unserved_tokens,
            revenue_foregone_usd=0.0,
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
    offered = usages_of(name, mix, within, tokens)
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
        offered += usages_of(name, above_mix, above, tokens)
    asked_requests = within + (above if above_mix is not None else 0.0)
    capped = above if above_mix is None else 0.0
    usages, fractions, unserved, unserved_tokens = served_usages(name, offered, served)
    unserved_share = _unserved_share(usages, unserved)
    usage = PlanUsage(population.plan, sample, split, terms, tokens, mix, above_mix, fractions)
    return Segment(
        name=name,
        kind="plan",
        product=population.plan,
        users=sample.users,
        active_users=sample.active_users,
        requests=asked_requests * (1.0 - unserved_share),
        capped_requests=capped,
        unserved_requests=asked_requests * unserved_share,
        unserved_tokens=unserved_tokens,
        revenue_foregone_usd=0.0,
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
        revenue = foregone = 0.0
        product_name = sold_by[0] if sold_by else None
        if product_name is not None:  # booked on served tokens only
            product = scenario.pricing.api[product_name]
            prices = product_prices(product, product_name, catalog)
            revenue = class_revenue_usd(product, prices, volume)
            foregone = class_revenue_usd(product, prices, volume.unserved())
        name = volume.name if counts[volume.name] == 1 else f"{volume.name}@{volume.deployment}"
        usage = Usage(
            name,
            volume.deployment,
            volume.requests_per_month,
            volume.input_tokens_per_month,
            volume.cached_input_tokens_per_month,
            volume.output_tokens_per_month,
            volume.batch_api,
        )
        segments.append(
            Segment(
                name=name,
                kind="api",
                product=product_name,
                users=None,
                active_users=None,
                requests=volume.requests_per_month,
                capped_requests=0.0,
                unserved_requests=volume.unserved_requests_per_month,
                unserved_tokens=volume.unserved_input_tokens_per_month
                + volume.unserved_output_tokens_per_month,
                revenue_foregone_usd=foregone,
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
            capped_requests=0.0,
            unserved_requests=0.0,
            unserved_tokens=0.0,
            revenue_foregone_usd=0.0,
            revenue_usd=contract.fee_usd_per_month,
            usages=(),
            extra_deployments=(contract.deployment,) if contract.deployment else (),
        )
        for name, contract in scenario.pricing.contracts.items()
    ]
