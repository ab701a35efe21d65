"""The router's trade-off: what routing saves against sending everything to the frontier model,
what quality it gives up, and (for `difficulty` routing) the cost-quality frontier.

A routed request costs what its mean tokens cost on each deployment it is served on (the
run's per-token cost: the engine's for self-hosted fleets, idle capacity included; the list
price for APIs), weighted by the requests each deployment serves per routed request
(`infersim.routing.plan_routes`); serving overhead is left out, as it scales both sides
alike. Mean tokens are those of the routed traffic: request classes without a deployment of
their own (their monthly volumes in the ledger) and user populations without one.

The frontier curve re-plans the router at other quality targets and prices each plan at the
same per-token costs: utilization effects (a fleet busier or idler at another split) are
held at the run's level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infersim.catalog.load import Catalog
from infersim.economics import TokenCost
from infersim.economics.evaluate import complete_token_costs
from infersim.pipeline.populations import SECONDS_PER_MONTH, population_rate_per_s
from infersim.pipeline.run import RunResult
from infersim.report.compare import Delta, Unit, delta, format_delta, format_value
from infersim.report.tables import DataTable, significant
from infersim.routing import RoutePlan, effective_quality, plan_routes
from infersim.scenario.deployment import RouterKind

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


def routed_tokens(result: RunResult, served_per_request: float) -> RequestTokens | None:
    """Mean tokens per served request of the routed traffic (None: no routed traffic)."""
    scenario = result.scenario
    routed = {n for n, c in scenario.workload.classes.items() if c.deployment is None}
    requests = prompt = cached = output = 0.0
    for v in result.ledger.volumes:
        if v.name in routed:
            requests += v.requests_per_month
            prompt += v.input_tokens_per_month
            cached += v.cached_input_tokens_per_month
            output += v.output_tokens_per_month
    if len(scenario.deployments) > 1:
        for pop in scenario.workload.users.values():
            if pop.deployment is not None:
                continue
            served = population_rate_per_s(pop) * SECONDS_PER_MONTH * served_per_request
            requests += served
            prompt += served * pop.prompt_tokens_per_request
            cached += served * pop.prompt_tokens_per_request * pop.cached_prefix_share
            output += served * pop.output_tokens_per_request
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


def routing_report(result: RunResult, catalog: Catalog) -> RoutingReport | None:
    """The run's routing against all-to-frontier, and its frontier curve (None: no routing)."""
    scenario = result.scenario
    routing = scenario.routing
    if routing is None:
        return None
    plan = plan_routes(scenario)
    tokens = routed_tokens(result, sum(plan.served_per_request.values()))
    costs = complete_token_costs(scenario, catalog, result.ledger.token_costs)
    usd = {name: _usd_per_request(costs.get(name), tokens) for name in scenario.deployments}
    served = {d.name: d for d in result.serving.deployments}
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


# --- JSON and tables ----------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    return None if value is None else significant(value)


def _per_1k(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


def routing_json(report: RoutingReport) -> dict[str, Any]:
    t = report.tokens
    return {
        "strategy": report.strategy.value,
        "quality_target": report.quality_target,
        "frontier": report.frontier,
        "mean_tokens_per_request": None
        if t is None
        else {
            "input_tokens": _num(t.input_tokens),
            "cached_input_tokens": _num(t.cached_input_tokens),
            "output_tokens": _num(t.output_tokens),
        },
        "deployments": {
            d.name: {
                "quality": _num(d.quality),
                "served_per_request": _num(d.served_per_request),
                "usd_per_1k_requests": _num(_per_1k(d.usd_per_request)),
                "ttft_p50_s": _num(d.ttft_p50_s),
                "e2e_mean_s": _num(d.e2e_mean_s),
            }
            for d in report.deployments
        },
        "routed": {
            "quality": _num(report.quality),
            "usd_per_1k_requests": _num(_per_1k(report.usd_per_request)),
            "e2e_mean_s": _num(report.e2e_mean_s),
        },
        "all_to_frontier": {
            "quality": _num(report.frontier_quality),
            "usd_per_1k_requests": _num(_per_1k(report.frontier_usd_per_request)),
            "e2e_mean_s": _num(report.frontier_e2e_mean_s),
        },
        "saving_pct": _num(report.saving_pct),
        "frontier_curve": [
            {
                "quality_target": p.quality_target,
                "frontier_share": _num(p.frontier_share),
                "quality": _num(p.quality),
                "usd_per_1k_requests": _num(_per_1k(p.usd_per_request)),
                "saving_pct": _num(p.saving_pct),
                "is_run": p.is_run,
            }
            for p in report.curve
        ],
    }


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _vs_frontier(unit: Unit, routed: float | None, frontier: float | None, up: bool) -> str:
    d: Delta = delta(frontier, routed, "higher" if up else "lower")
    return format_delta(unit, frontier, d)


DEPLOYMENT_COLUMNS = [
    "deployment", "quality", "served/request", "$/1k requests there", "$/1k routed requests",
    "TTFT p50 ms", "E2E mean ms",
]  # fmt: skip
CURVE_COLUMNS = ["quality target", "to frontier", "quality", "$/1k requests"]


def routing_tables(report: RoutingReport, label: str) -> list[DataTable]:
    """Per deployment, routed vs all to the frontier, and the frontier curve."""
    how = report.strategy.value
    if report.quality_target is not None:
        how += f", quality target {report.quality_target:g}"
    t = report.tokens
    tokens = (
        "no routed traffic to price"
        if t is None
        else f"mean tokens per request: {t.input_tokens:,.0f} in "
        f"({t.cached_input_tokens:,.0f} cached), {t.output_tokens:,.0f} out"
    )
    rows = [
        [
            d.name,
            None if d.quality is None else f"{d.quality:.3f}",
            f"{d.served_per_request:.1%}",
            format_value("usd", _per_1k(d.usd_per_request)),
            format_value("usd", _per_1k(_times(d.usd_per_request, d.served_per_request))),
            format_value("s", d.ttft_p50_s),
            format_value("s", d.e2e_mean_s),
        ]
        for d in report.deployments
    ]
    footer = [
        "routed",
        None,
        f"{sum(d.served_per_request for d in report.deployments):.1%}",
        None,
        format_value("usd", _per_1k(report.usd_per_request)),
        None,
        format_value("s", report.e2e_mean_s),
    ]
    tables = [
        DataTable(
            f"{label}: routing ({how})",
            [
                "deployment",
                "quality",
                "served/request",
                "$/1k requests there",
                "$/1k routed requests",
                "TTFT p50 ms",
                "E2E mean ms",
            ],
            rows,
            footer=footer,
            caption=f"{tokens}; per-token costs of the run, before serving overhead",
        )
    ]
    frontier = f"all to {report.frontier}"
    versus = [
        [
            "expected quality",
            format_value("share", report.quality),
            format_value("share", report.frontier_quality),
            _vs_frontier("share", report.quality, report.frontier_quality, up=True),
        ],
        [
            "cost $/1k requests",
            format_value("usd", _per_1k(report.usd_per_request)),
            format_value("usd", _per_1k(report.frontier_usd_per_request)),
            _vs_frontier(
                "usd",
                _per_1k(report.usd_per_request),
                _per_1k(report.frontier_usd_per_request),
                up=False,
            ),
        ],
        [
            "E2E mean ms",
            format_value("s", report.e2e_mean_s),
            format_value("s", report.frontier_e2e_mean_s),
            _vs_frontier("s", report.e2e_mean_s, report.frontier_e2e_mean_s, up=False),
        ],
    ]
    tables.append(
        DataTable(
            f"{label}: routing vs {frontier}",
            ["metric", "routed", frontier, "routed vs frontier"],
            versus,
            caption="saving: "
            + ("-" if report.saving_pct is None else f"{report.saving_pct:.1f}%")
            + "; latency at the run's utilization (none for API deployments)",
        )
    )
    if report.curve:
        tables.append(
            DataTable(
                f"{label}: cost-quality frontier (router threshold sweep)",
                [
                    "quality target",
                    "to frontier",
                    "quality",
                    "$/1k requests",
                    f"saving vs {frontier}",
                    "this run",
                ],
                [
                    [
                        f"{p.quality_target:g}",
                        f"{p.frontier_share:.1%}",
                        format_value("share", p.quality),
                        format_value("usd", _per_1k(p.usd_per_request)),
                        None if p.saving_pct is None else f"{p.saving_pct:.1f}%",
                        "<-" if p.is_run else None,
                    ]
                    for p in report.curve
                ],
                caption="priced with this run's per-token costs: utilization effects are "
                "held at the run's level",
            )
        )
    return tables
