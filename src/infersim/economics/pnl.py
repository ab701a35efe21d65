"""The company's month: revenue, cost of serving, operating costs, operating margin.

serving_cost = gpu_cost + api_cost (tokens bought from API providers) + serving_overhead;
gross_margin = revenue - serving_cost; operating_margin = gross_margin - operating costs;
spent_per_revenue_usd = (serving_cost + operating costs) / revenue (the article's "$1.69
spent per $1 of revenue"); cost_profit_margin_pct = gross_margin / serving_cost (profit per
dollar of cost, the markup, beside the gross margin's profit per dollar of revenue). Ratios
are None without revenue (the cost-profit margin: without serving cost). `unserved_*` is the
demand the fleets could not serve (not billed, not in the costs), and `revenue_foregone_usd` what
per-token products would have earned on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    requests: float = 0.0
    unserved_requests: float = 0.0
    unserved_tokens: float = 0.0
    revenue_foregone_usd: float = 0.0

    @property
    def cost_profit_margin_pct(self) -> float | None:
        """Gross margin over the cost of serving (%): what each dollar of cost earns."""
        if self.serving_cost_usd <= 0:
            return None
        return 100.0 * self.gross_margin_usd / self.serving_cost_usd

    @property
    def unserved_share(self) -> float:
        """Share of the requests asked for that the fleets could not serve."""
        asked = self.requests + self.unserved_requests
        return self.unserved_requests / asked if asked > 0 else 0.0


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
        requests=total.requests,
        unserved_requests=total.unserved_requests,
        unserved_tokens=total.unserved_tokens,
        revenue_foregone_usd=total.revenue_foregone_usd,
    )
