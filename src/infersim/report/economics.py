"""Margin tables, per-user margins, the P&L and the months, as tables and stable JSON.

Money is rounded to cents in the output only; other figures to 6 significant digits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from infersim.economics import (
    EconomicsResult,
    FleetCost,
    MarginRow,
    Pnl,
    UserMarginDistribution,
)
from infersim.economics.batch_tiers import BatchTier
from infersim.economics.capacity import CapacityBill
from infersim.economics.energy import EnergyUse
from infersim.economics.value_chain import LABELS, ValueChainResult
from infersim.economics.windows import Window, pnl_over
from infersim.pipeline.run import RunResult
from infersim.report.formats import cents_text, money, pct, per_mtok, share
from infersim.report.tables import DataTable, cents, significant


def _num(value: float | None) -> float | None:
    return None if value is None else significant(float(value))


def _usd(value: float | None) -> float | None:
    return None if value is None else cents(float(value))


def row_json(row: MarginRow) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "product": row.product,
        "deployments": list(row.deployments),
        "users": _num(row.users),
        "active_users": _num(row.active_users),
        "requests": _num(row.requests),
        "capped_requests": _num(row.capped_requests),
        "unserved_requests": _num(row.unserved_requests),
        "unserved_tokens": _num(row.unserved_tokens),
        "revenue_foregone_usd": _usd(row.revenue_foregone_usd),
        "input_tokens": _num(row.input_tokens),
        "cached_input_tokens": _num(row.cached_input_tokens),
        "output_tokens": _num(row.output_tokens),
        "revenue_usd": _usd(row.revenue_usd),
        "gpu_cost_usd": _usd(row.gpu_cost_usd),
        "api_cost_usd": _usd(row.api_cost_usd),
        "overhead_usd": _usd(row.overhead_usd),
        "cost_usd": _usd(row.cost_usd),
        "gross_margin_usd": _usd(row.gross_margin_usd),
        "gross_margin_pct": _num(row.gross_margin_pct),
        "cost_usd_per_mtok": _usd(row.cost_usd_per_mtok),
        "price_usd_per_mtok": _usd(row.price_usd_per_mtok),
    }


def distribution_json(d: UserMarginDistribution) -> dict[str, Any]:
    return {
        "plan": d.plan,
        "users": _num(d.users),
        "active_users": _num(d.active_users),
        "price_usd_per_month": _usd(d.price_usd_per_month),
        "margin_p10_usd": _usd(d.p10_usd),
        "margin_p50_usd": _usd(d.p50_usd),
        "margin_p90_usd": _usd(d.p90_usd),
        "margin_p99_usd": _usd(d.p99_usd),
        "margin_mean_usd": _usd(d.mean_usd),
        "top_decile_margin_mean_usd": _usd(d.top_decile_mean_usd),
        "share_losing_money": _num(d.share_losing_money),
        "breakeven_requests_per_user_per_month": _num(d.breakeven_requests_per_user_per_month),
        "histogram": {
            "edges_usd": [_usd(e) for e in d.histogram_edges_usd],
            "users": [_num(u) for u in d.histogram_users],
        },
    }


def pnl_json(p: Pnl) -> dict[str, Any]:
    return {
        "revenue_usd": _usd(p.revenue_usd),
        "serving_cost_usd": _usd(p.serving_cost_usd),
        "gpu_cost_usd": _usd(p.gpu_cost_usd),
        "api_cost_usd": _usd(p.api_cost_usd),
        "serving_overhead_usd": _usd(p.serving_overhead_usd),
        "gross_margin_usd": _usd(p.gross_margin_usd),
        "gross_margin_pct": _num(p.gross_margin_pct),
        "cost_profit_margin_pct": _num(p.cost_profit_margin_pct),
        "operating_costs_usd": {k: _usd(v) for k, v in p.operating_costs_usd.items()},
        "operating_cost_total_usd": _usd(p.operating_cost_total_usd),
        "operating_margin_usd": _usd(p.operating_margin_usd),
        "operating_margin_pct": _num(p.operating_margin_pct),
        "spent_per_revenue_usd": _num(p.spent_per_revenue_usd),
        "unserved_requests": _num(p.unserved_requests),
        "unserved_share": _num(p.unserved_share),
        "unserved_tokens": _num(p.unserved_tokens),
        "revenue_foregone_usd": _usd(p.revenue_foregone_usd),
    }


def months_json(months: tuple[EconomicsResult, ...]) -> list[dict[str, Any]]:
    cumulative = 0.0
    out = []
    for month in months:
        cumulative += month.pnl.operating_margin_usd
        out.append(
            {
                "month": month.month + 1,
                "revenue_usd": _usd(month.pnl.revenue_usd),
                "serving_cost_usd": _usd(month.pnl.serving_cost_usd),
                "gross_margin_usd": _usd(month.pnl.gross_margin_usd),
                "gross_margin_pct": _num(month.pnl.gross_margin_pct),
                "gpu_cost_usd": _usd(month.pnl.gpu_cost_usd),
                "unserved_share": _num(month.pnl.unserved_share),
                "operating_margin_usd": _usd(month.pnl.operating_margin_usd),
                "cumulative_cash_usd": _usd(cumulative),
            }
        )
    return out


def projection_json(months: tuple[EconomicsResult, ...]) -> dict[str, Any]:
    """When the operating margin turns positive for good, and the cash burnt until then."""
    margins = [m.pnl.operating_margin_usd for m in months]
    cumulative = list(np.cumsum(margins)) if margins else []
    positive_from = None
    for index in range(len(margins)):
        if all(m >= 0 for m in margins[index:]):
            positive_from = index + 1
            break
    lowest = min(cumulative) if cumulative else 0.0
    return {
        "months": len(months),
        "operating_margin_positive_from_month": positive_from,
        "months_with_operating_loss": sum(1 for m in margins if m < 0),
        "cumulative_losses_usd": _usd(max(-lowest, 0.0)),
        "cumulative_cash_usd": _usd(cumulative[-1] if cumulative else 0.0),
    }


def economics_json(result: RunResult) -> dict[str, Any]:
    first = result.first_month
    return {
        "margins": {row.segment: row_json(row) for row in (*first.table.rows, first.table.total)},
        "users": {name: distribution_json(d) for name, d in first.distributions.items()},
        "pnl": pnl_json(first.pnl),
        "months": months_json(result.months),
        "projection": projection_json(result.months),
        "costs": {
            fleet.deployment: {
                "usd_per_gpu_hour": _usd(fleet.usd_per_gpu_hour),
                "gpu_hours_per_month": _num(fleet.gpu_hours_per_month),
                "busy_share": _num(fleet.busy_share),
                "busy_gpu_hours_per_month": _num(fleet.busy_gpu_hours_per_month),
                "fleet_usd_per_month": _usd(fleet.usd_per_month),
                "usd_per_mtok_input": _usd(
                    result.ledger.token_costs[fleet.deployment].usd_per_mtok_input
                ),
                "usd_per_mtok_output": _usd(
                    result.ledger.token_costs[fleet.deployment].usd_per_mtok_output
                ),
                "bill": bill_json(fleet, result.ledger.capacity.get(fleet.deployment)),
            }
            for fleet in result.ledger.fleets
        },
        **({"batch_tiers": batch_tiers_json(first.batch_tiers)} if first.batch_tiers else {}),
        **(
            {"energy": energy_json(result.ledger.energy)}
            if result.scenario.costs.energy is not None
            else {}
        ),
        **(
            {}
            if result.value_chain is None
            else {"value_chain": value_chain_json(result.value_chain)}
        ),
    }


def batch_tiers_json(tiers: tuple[BatchTier, ...]) -> dict[str, Any]:
    """Batch classes' API purchases (cost) and sales (revenue) at batch prices."""
    return {
        f"{t.kind}:{t.name}": {
            "source": t.source,
            "usd_per_mtok_input": _num(t.usd_per_mtok_input),
            "usd_per_mtok_cached_input": _num(t.usd_per_mtok_cached_input),
            "usd_per_mtok_output": _num(t.usd_per_mtok_output),
            "requests_per_month": _num(t.requests_per_month),
            "usd_per_month": _usd(t.usd_per_month),
            "standard_usd_per_month": _usd(t.standard_usd_per_month),
            "saving_usd_per_month": _usd(t.saving_usd_per_month),
        }
        for t in tiers
    }


_TIER_SOURCES = {
    "scenario": "the scenario's batch_discount",
    "list_price": "the list price's batch tier",
    "none": "no batch tier: standard prices",
}


def _batch_tier_table(tiers: tuple[BatchTier, ...], label: str) -> DataTable:
    return DataTable(
        f"{label}: batch classes at batch prices (purchases: API cost; sales: revenue)",
        ["kind", "name", "batch $/Mtok in", "batch $/Mtok out", "$/month", "standard $/month",
         "price from"],
        [
            [
                t.kind, t.name, _per_mtok(t.usd_per_mtok_input), _per_mtok(t.usd_per_mtok_output),
                _money(t.usd_per_month), _money(t.standard_usd_per_month), _TIER_SOURCES[t.source],
            ]
            for t in tiers
        ],
    )  # fmt: skip


def bill_json(fleet: FleetCost, capacity: CapacityBill | None) -> dict[str, Any]:
    """A fleet's bill by how its GPU-hours were bought; the parts add up to the bill."""
    out: dict[str, Any] = {
        part.kind: {
            "gpu_hours_per_month": _num(part.gpu_hours_per_month),
            "usd_per_gpu_hour": _usd(part.usd_per_gpu_hour),
            "usd_per_month": _usd(part.usd_per_month),
        }
        for part in fleet.parts
    }
    if capacity is not None:
        out["reserved_idle_gpu_hours_per_month"] = _num(capacity.reserved_idle_gpu_hours_per_month)
        out["spot_interruptions_per_month"] = _num(capacity.spot_interruptions_per_month)
        out["capacity_missing_share"] = _num(capacity.capacity_missing_share)
        if capacity.spot_figures is not None:
            out["spot_requests_recomputed_per_month"] = _num(
                capacity.spot_requests_recomputed_per_month
            )
            out["spot_recompute_gpu_hours_per_month"] = _num(
                capacity.spot_recompute_gpu_hours_per_month
            )
            out["spot_figures"] = capacity.spot_figures
    return out


def _energy_total(uses: tuple[EnergyUse, ...]) -> tuple[float, float | None, float | None]:
    """kWh, tCO2e and gCO2e per 1,000 tokens of all the fleets together."""
    kwh = math.fsum(u.kwh_per_month for u in uses)
    carbon = [u.tco2e_per_month for u in uses]
    if any(c is None for c in carbon):
        return kwh, None, None
    tonnes = math.fsum(c for c in carbon if c is not None)
    tokens = math.fsum(u.tokens_per_month for u in uses)
    return kwh, tonnes, (tonnes * 1e6 / (tokens / 1000.0) if tokens > 0 else None)


def _energy_use_json(u: EnergyUse) -> dict[str, Any]:
    """One fleet's (or pool's) energy; a mixed fleet's with its pools, which add up to it."""
    out: dict[str, Any] = {
        "gpu_power_w": _num(u.gpu_power_w),
        "pue": _num(u.pue),
        "host_overhead_share": _num(u.host_overhead_share),
        "kwh_per_month": _num(u.kwh_per_month),
        "gco2e_per_kwh": _num(u.gco2e_per_kwh),
        "tco2e_per_month": _num(u.tco2e_per_month),
        "gco2e_per_ktok": _num(u.gco2e_per_ktok),
    }
    if u.pools:
        out["pools"] = {p.pool: _energy_use_json(p) for p in u.pools}
    return out


def energy_json(uses: tuple[EnergyUse, ...]) -> dict[str, Any]:
    kwh, tonnes, per_ktok = _energy_total(uses)
    return {
        "billed": False,
        "deployments": {u.deployment: _energy_use_json(u) for u in uses},
        "kwh_per_month": _num(kwh),
        "tco2e_per_month": _num(tonnes),
        "gco2e_per_ktok": _num(per_ktok),
    }


def value_chain_json(chain: ValueChainResult) -> dict[str, Any]:
    return {
        "revenue_usd": _usd(chain.revenue_usd),
        "shares": {
            s.who: {"usd_per_month": _usd(s.usd_per_month), "share": _num(s.share)}
            for s in chain.shares
        },
    }


_money = money
_cents = cents_text
_pct = pct
_per_mtok = per_mtok


def _margin_cells(row: MarginRow) -> list[Any]:
    return [
        row.segment,
        row.kind,
        None if row.users is None else f"{row.users:,.0f}",
        f"{row.requests:,.0f}",
        f"{(row.input_tokens + row.output_tokens) / 1e6:,.1f}",
        _money(row.revenue_usd),
        _money(row.cost_usd),
        _money(row.gross_margin_usd),
        _pct(row.gross_margin_pct),
        _per_mtok(row.cost_usd_per_mtok),
        _per_mtok(row.price_usd_per_mtok),
    ]


MARGIN_COLUMNS = [
    "segment", "kind", "users", "requests", "Mtok", "revenue", "cost", "gross margin",
    "margin %", "cost $/Mtok", "price $/Mtok",
]  # fmt: skip


def _unserved_cell(row: MarginRow) -> str:
    """Requests the fleets could not serve, and their share of what was asked."""
    asked = row.requests + row.unserved_requests
    share = row.unserved_requests / asked if asked > 0 else 0.0
    return f"{row.unserved_requests:,.0f} ({share:.1%})"


def economics_tables(result: RunResult, label: str) -> list[DataTable]:
    first = result.first_month
    margin_rows = [_margin_cells(row) for row in first.table.rows]
    footer = _margin_cells(first.table.total)
    columns = list(MARGIN_COLUMNS)
    if first.table.total.unserved_requests > 0:  # the fleets fell short: say where
        columns.insert(4, "unserved")
        for cells, row in zip(margin_rows, first.table.rows, strict=True):
            cells.insert(4, _unserved_cell(row))
        footer.insert(4, _unserved_cell(first.table.total))
    tables = [DataTable(f"{label}: margins, month 1", columns, margin_rows, footer=footer)]
    if first.distributions:
        tables.append(
            DataTable(
                f"{label}: margin per subscriber, month 1",
                [
                    "plan",
                    "users",
                    "price",
                    "p10",
                    "p50",
                    "p90",
                    "p99",
                    "top 10% mean",
                    "losing money",
                    "breakeven requests/user",
                ],
                [
                    [
                        d.plan,
                        f"{d.users:,.0f}",
                        _money(d.price_usd_per_month),
                        _cents(d.p10_usd),
                        _cents(d.p50_usd),
                        _cents(d.p90_usd),
                        _cents(d.p99_usd),
                        _cents(d.top_decile_mean_usd),
                        share(d.share_losing_money),
                        None
                        if d.breakeven_requests_per_user_per_month is None
                        else f"{d.breakeven_requests_per_user_per_month:,.0f}",
                    ]
                    for d in first.distributions.values()
                ],
            )
        )
    pnl = first.pnl
    rows: list[list[Any]] = [
        ["revenue", _money(pnl.revenue_usd)],
        ["cost of serving", _money(pnl.serving_cost_usd)],
        ["  GPUs", _money(pnl.gpu_cost_usd)],
        ["  API purchases", _money(pnl.api_cost_usd)],
        ["  serving overhead", _money(pnl.serving_overhead_usd)],
        ["gross margin", f"{_money(pnl.gross_margin_usd)} ({_pct(pnl.gross_margin_pct) or '-'})"],
        ["  cost-profit margin (profit / cost)", _pct(pnl.cost_profit_margin_pct) or "-"],
        *[[f"  {k}", _money(v)] for k, v in pnl.operating_costs_usd.items()],
        ["operating costs", _money(pnl.operating_cost_total_usd)],
        [
            "operating margin",
            f"{_money(pnl.operating_margin_usd)} ({_pct(pnl.operating_margin_pct) or '-'})",
        ],
        [
            "$ spent per $ of revenue",
            None if pnl.spent_per_revenue_usd is None else f"{pnl.spent_per_revenue_usd:.2f}",
        ],
    ]
    if pnl.unserved_requests > 0:
        rows += [
            [
                "unserved (fleet capacity)",
                f"{pnl.unserved_requests:,.0f} requests ({pnl.unserved_share:.1%})",
            ],
            ["  revenue foregone", _money(pnl.revenue_foregone_usd)],
        ]
    if result.ledger.energy:
        kwh, tonnes, per_ktok = _energy_total(result.ledger.energy)
        rows.append(["energy (reported, not billed)", f"{kwh:,.0f} kWh"])
        if tonnes is not None:
            rows.append(["  carbon", f"{tonnes:,.2f} tCO2e"])
            if per_ktok is not None:
                rows.append(["  per 1,000 tokens", f"{per_ktok:,.3f} gCO2e"])
    tables.append(DataTable(f"{label}: P&L, month 1", ["line", "USD per month"], rows))
    if len(result.months) > 1:
        tables.append(
            DataTable(
                f"{label}: months",
                [
                    "month",
                    "revenue",
                    "cost of serving",
                    "gross margin %",
                    "operating margin",
                    "cumulative cash",
                ],
                [
                    [
                        m["month"],
                        _money(m["revenue_usd"]),
                        _money(m["serving_cost_usd"]),
                        _pct(m["gross_margin_pct"]),
                        _money(m["operating_margin_usd"]),
                        _money(m["cumulative_cash_usd"]),
                    ]
                    for m in months_json(result.months)
                ],
            )
        )
    ledger = result.ledger
    if ledger.fleets:
        tables.append(
            DataTable(
                f"{label}: serving cost per deployment",
                [
                    "deployment",
                    "$/GPU-hour",
                    "GPU-h/month",
                    "busy",
                    "fleet $/month",
                    "$/Mtok in",
                    "$/Mtok out",
                ],
                [
                    [
                        f.deployment,
                        f"${f.usd_per_gpu_hour:,.2f}",
                        f"{f.gpu_hours_per_month:,.0f}",
                        f"{f.busy_share:.0%}",
                        _money(f.usd_per_month),
                        _per_mtok(ledger.token_costs[f.deployment].usd_per_mtok_input),
                        _per_mtok(ledger.token_costs[f.deployment].usd_per_mtok_output),
                    ]
                    for f in ledger.fleets
                ],
            )
        )
    if result.first_month.batch_tiers:
        tables.append(_batch_tier_table(result.first_month.batch_tiers, label))
    if ledger.capacity or any(_pooled(f) for f in ledger.fleets):
        tables.append(_bill_table(result, label))
    if ledger.energy:
        tables.append(_energy_table(ledger.energy, label))
    if result.value_chain is not None:
        tables.append(value_chain_table(result.value_chain, label))
    return tables


def _pooled(fleet: FleetCost) -> bool:
    """A mixed fleet: billed per pool."""
    return any(part.kind.startswith("pool:") for part in fleet.parts)


def _bill_table(result: RunResult, label: str) -> DataTable:
    rows: list[list[Any]] = []
    for fleet in result.ledger.fleets:
        for part in fleet.parts:
            rows.append(
                [
                    fleet.deployment,
                    part.kind,
                    f"{part.gpu_hours_per_month:,.0f}",
                    f"${part.usd_per_gpu_hour:,.2f}",
                    _money(part.usd_per_month),
                ]
            )
        bill = result.ledger.capacity.get(fleet.deployment)
        if bill is not None or _pooled(fleet):
            rows.append(
                [
                    fleet.deployment,
                    "total",
                    f"{fleet.gpu_hours_per_month:,.0f}",
                    f"${fleet.usd_per_gpu_hour:,.2f}",
                    _money(fleet.usd_per_month),
                ]
            )
        if bill is not None:
            rows.append(
                [
                    fleet.deployment,
                    "reserved idle / spot reclaims / capacity missing",
                    f"{bill.reserved_idle_gpu_hours_per_month:,.0f} GPU-h",
                    f"{bill.spot_interruptions_per_month:,.0f}",
                    f"{bill.capacity_missing_share:.2%}",
                ]
            )
        if bill is not None and bill.spot_figures is not None:
            rows.append(
                [
                    fleet.deployment,
                    f"spot recompute ({bill.spot_figures}): requests / GPU-h busy",
                    f"{bill.spot_recompute_gpu_hours_per_month:,.1f} GPU-h",
                    f"{bill.spot_requests_recomputed_per_month:,.0f}",
                    "-",
                ]
            )
    columns = ["deployment", "bought as", "GPU-h/month", "$/GPU-hour", "$/month"]
    return DataTable(f"{label}: GPU bill by kind, month 1", columns, rows)


def _energy_table(uses: tuple[EnergyUse, ...], label: str) -> DataTable:
    def carbon(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    rows = [
        [
            u.deployment if u.pool is None else f"{u.deployment}: pool {u.pool}",
            f"{u.gpu_power_w:,.0f}",
            f"{u.pue:.2f}",
            f"{u.kwh_per_month:,.0f}",
            carbon(u.gco2e_per_kwh, 0),
            carbon(u.tco2e_per_month, 2),
            carbon(u.gco2e_per_ktok, 3),
        ]
        for whole in uses
        for u in (whole, *whole.pools)
    ]
    columns = ["deployment", "W/GPU", "PUE", "kWh/month", "gCO2e/kWh", "tCO2e/month", "g/1k tok"]
    title = f"{label}: energy and carbon (reported, not billed), month 1"
    return DataTable(title, columns, rows)


def value_chain_table(chain: ValueChainResult, label: str) -> DataTable:
    rows = [
        [LABELS[s.who], _money(s.usd_per_month), None if s.share is None else f"{s.share:.1%}"]
        for s in chain.shares
    ]
    whole = "100.0%" if chain.revenue_usd > 0 else None
    footer = ["revenue (the user's dollar)", _money(chain.revenue_usd), whole]
    return DataTable(
        f"{label}: who earns each dollar a user pays, month 1",
        ["who", "USD per month", "per $"],
        rows,
        footer=footer,
    )


def windows_json(result: RunResult, windows: list[Window]) -> dict[str, Any]:
    """The first month's P&L over each window (the month's figures x window / month)."""
    out: dict[str, Any] = {}
    for window in windows:
        w = pnl_over(result.first_month.pnl, window)
        out[window.name] = {
            "seconds": _num(window.seconds),
            "revenue_usd": _usd(w.revenue_usd),
            "serving_cost_usd": _usd(w.serving_cost_usd),
            "gpu_cost_usd": _usd(w.gpu_cost_usd),
            "gross_margin_usd": _usd(w.gross_margin_usd),
            "gross_margin_pct": _num(w.gross_margin_pct),
            "cost_profit_margin_pct": _num(w.cost_profit_margin_pct),
            "operating_cost_total_usd": _usd(w.operating_cost_total_usd),
            "operating_margin_usd": _usd(w.operating_margin_usd),
            "requests": _num(w.requests),
        }
    return out


def window_table(result: RunResult, windows: list[Window], label: str) -> DataTable:
    rows = []
    for window in windows:
        w = pnl_over(result.first_month.pnl, window)
        rows.append(
            [
                window.name,
                _money(w.revenue_usd),
                _money(w.serving_cost_usd),
                _money(w.gross_margin_usd),
                _pct(w.gross_margin_pct),
                _pct(w.cost_profit_margin_pct),
                _money(w.operating_margin_usd),
                f"{w.requests:,.0f}",
            ]
        )
    columns = [
        "window", "revenue", "cost of serving", "gross margin", "margin %",
        "profit / cost %", "operating margin", "requests",
    ]  # fmt: skip
    return DataTable(f"{label}: P&L per window (steady month 1)", columns, rows)
