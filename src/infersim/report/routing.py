"""The router's trade-off (`infersim.levers.routing`, computed by the pipeline) as stable JSON
and tables."""

from __future__ import annotations

from typing import Any

from infersim.levers.routing import RoutingReport
from infersim.report.compare import Delta, Unit, delta, format_delta, format_value
from infersim.report.tables import DataTable, significant

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
