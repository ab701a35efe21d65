"""The company's month: revenue, cost of serving, operating costs, operating margin.

serving_cost = gpu_cost + api_cost (tokens bought from API providers) + serving_overhead;
gross_margin = revenue - serving_cost; operating_margin = gross_margin - operating costs;
spent_per_revenue_usd = (serving_cost + operating costs) / revenue (the article's "$1.69
spent per $1 of revenue"). Ratios are None without revenue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from infersim.economics.margins import MarginRow


@dataclass(frozen=True)
class Pnl:
    revenue_usd: float
    serving_cost_usd: float
    gpu_cost_usd: float
    api_cost_usd: float
    serving_overhead_usd: float
    gross_margin_usd: float
    gross_margin_pct: float | None
    operating_costs_usd: Mapping[str, float]
    operating_cost_total_usd: float
    operating_margin_usd: float
    operating_margin_pct: float | None
    spent_per_revenue_usd: float | None


def pnl_from_total(total: MarginRow, operating_usd_per_month: Mapping[str, float]) -> Pnl:
    """The P&L of a margin table's total row plus the company's operating costs."""
    operating = dict(operating_usd_per_month)
    operating_total = math.fsum(operating.values())
    revenue = total.revenue_usd
    operating_margin = total.gross_margin_usd - operating_total
    has_revenue = revenue > 0
    return Pnl(
        revenue_usd=revenue,
        serving_cost_usd=total.cost_usd,
        gpu_cost_usd=total.gpu_cost_usd,
        api_cost_usd=total.api_cost_usd,
        serving_overhead_usd=total.overhead_usd,
        gross_margin_usd=total.gross_margin_usd,
        gross_margin_pct=total.gross_margin_pct,
        operating_costs_usd=operating,
        operating_cost_total_usd=operating_total,
        operating_margin_usd=operating_margin,
        operating_margin_pct=100.0 * operating_margin / revenue if has_revenue else None,
        spent_per_revenue_usd=(total.cost_usd + operating_total) / revenue if has_revenue else None,
    )
