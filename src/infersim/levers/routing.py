"""The router's trade-off: what routing saves against sending everything to the frontier model,
what quality it gives up, and (for `difficulty` routing) the cost-quality frontier.

A routed request costs what its mean tokens cost on each deployment it is served on (the
run's per-token cost: the engine's for self-hosted fleets, idle capacity included; the list
price for APIs), weighted by the requests each deployment serves per routed request
(`infersim.routing.plan_routes`); serving overhead is left out, as it scales both sides
alike. Mean tokens are those of the routed traffic: request classes without a deployment of
their own (their monthly volumes in the ledger) and user populations without one (what they
sent to the fleets).

The frontier curve re-plans the router at other quality targets and prices each plan at the
same per-token costs: utilization effects (a fleet busier or idler at another split) are
held at the run's level. Computed once by the pipeline (`RunResult.routing`); the report
layer only formats it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from infersim.catalog.load import Catalog
from infersim.economics import TokenCost
from infersim.economics.evaluate import complete_token_costs
from infersim.pipeline.ledger import Ledger
from infersim.routing import RoutePlan, effective_quality, plan_routes
from infersim.scenario.deployment import RouterKind
from infersim.scenario.model import Scenario
from infersim.serving.result import ServingResult

#: Quality targets of the frontier sweep (the run's own target is added).
CURVE_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class RequestTokens:
    """Mean tokens of one served routed request."""

    input_tokens: float
    cached_input_tokens: float
    output_tokens: float


@dataclass(frozen=True)
class RoutedDeployment:
    name: str
    quality: float | None
    """The model's quality after its quantization penalty."""
    served_per_request: float
    usd_per_request: float | None
    """What one request served there costs (None: no per-token cost or no routed tokens)."""
    ttft_p50_s: float | None
    e2e_mean_s: float | None
    """None for an API deployment: the engine does not serve it."""


@dataclass(frozen=True)
class CurvePoint:
    quality_target: float
    frontier_share: float
    quality: float | None
    usd_per_request: float | None
    saving_pct: float | None
    is_run: bool


@dataclass(frozen=True)
class RoutingReport:
    strategy: RouterKind
    quality_target: float | None
    frontier: str
    tokens: RequestTokens | None
    deployments: tuple[RoutedDeployment, ...]
    quality: float | None
    frontier_quality: float | None
    usd_per_request: float | None
    frontier_usd_per_request: float | None
    e2e_mean_s: float | None
    frontier_e2e_mean_s: float | None
    curve: tuple[CurvePoint, ...]

    @property
    def saving_pct(self) -> float | None:
        return _saving_pct(self.usd_per_request, self.frontier_usd_per_request)


def _saving_pct(routed: float | None, frontier: float | None) -> float | None:
    if routed is None or frontier is None or frontier <= 0:
        return None
    return (frontier - routed) / frontier * 100.0


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def routed_tokens(scenario: Scenario, ledger: Ledger) -> RequestTokens | None:
    """Mean tokens per served request of the routed traffic (None: no routed traffic)."""
    routed = {n for n, c in scenario.workload.classes.items() if c.deployment is None}
    requests = prompt = cached = output = 0.0
    for v in ledger.volumes:
        if v.name in routed:
            requests += v.requests_per_month
            prompt += v.input_tokens_per_month
            cached += v.cached_input_tokens_per_month
            output += v.output_tokens_per_month
    for name, pop in scenario.workload.users.items():
        if pop.deployment is not None or len(scenario.deployments) < 2:
            continue
        sent = ledger.population_offered.get(name, {})
        for usage in sent.values():  # what the population sent, wherever it went
            requests += usage.requests
            prompt += usage.input_tokens
            cached += usage.cached_input_tokens
            output += usage.output_tokens
    if requests <= 0:
        return None
    return RequestTokens(prompt / requests, cached / requests, output / requests)


def _usd_per_request(cost: TokenCost | None, tokens: RequestTokens | None) -> float | None:
    if cost is None or tokens is None:
        return None
    rates = (cost.usd_per_mtok_input, cost.usd_per_mtok_cached_input, cost.usd_per_mtok_output)
    if cost.source == "engine" and not any(rates):
        return None  # a fleet that served no token has no per-token cost
    return cost.usd(tokens.input_tokens, tokens.cached_input_tokens, tokens.output_tokens)


def _weighted(plan: RoutePlan, per_deployment: Mapping[str, float | None]) -> float | None:
    """Sum over deployments of requests served per routed request x the figure there."""
    total = 0.0
    for name, served in plan.served_per_request.items():
        if served <= 0:
            continue
        value = per_deployment.get(name)
        if value is None:
            return None
        total += served * value
    return total


def routing_report(
    scenario: Scenario, ledger: Ledger, serving: ServingResult, catalog: Catalog
) -> RoutingReport | None:
    """The run's routing against all-to-frontier, and its frontier curve (None: no routing)."""
    routing = scenario.routing
    if routing is None:
        return None
    plan = plan_routes(scenario)
    tokens = routed_tokens(scenario, ledger)
    costs = complete_token_costs(scenario, catalog, ledger.token_costs)
    usd = {name: _usd_per_request(costs.get(name), tokens) for name in scenario.deployments}
    served = {d.name: d for d in serving.deployments}
    e2e = {name: d.e2e_s.mean for name, d in served.items()}
    names = list(routing.order) if routing.order else list(routing.split)
    deployments = tuple(
        RoutedDeployment(
            name=name,
            quality=effective_quality(scenario, name),
            served_per_request=plan.served_per_request.get(name, 0.0),
            usd_per_request=usd.get(name),
            ttft_p50_s=served[name].ttft_s.p50 if name in served else None,
            e2e_mean_s=e2e.get(name),
        )
        for name in names
    )
    frontier_usd = usd.get(plan.frontier)
    curve: list[CurvePoint] = []
    if routing.strategy is RouterKind.DIFFICULTY:
        target = routing.quality_target
        for t in sorted({*CURVE_TARGETS, *([] if target is None else [target])}):
            p = plan_routes(scenario, t)
            cost = _weighted(p, usd)
            curve.append(
                CurvePoint(
                    quality_target=t,
                    frontier_share=p.served_per_request.get(p.frontier, 0.0),
                    quality=_finite(p.quality),
                    usd_per_request=cost,
                    saving_pct=_saving_pct(cost, frontier_usd),
                    is_run=t == target,
                )
            )
    return RoutingReport(
        strategy=routing.strategy,
        quality_target=routing.quality_target,
        frontier=plan.frontier,
        tokens=tokens,
        deployments=deployments,
        quality=_finite(plan.quality),
        frontier_quality=_finite(plan.frontier_quality),
        usd_per_request=_weighted(plan, usd),
        frontier_usd_per_request=frontier_usd,
        e2e_mean_s=_weighted(plan, e2e),
        frontier_e2e_mean_s=e2e.get(plan.frontier),
        curve=tuple(curve),
    )
