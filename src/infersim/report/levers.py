"""The levers section of `infersim run`: self-hosting against buying from an API.

`lever_json` and `lever_tables` format the breakeven of every (self-hosted, API) pair of a
run's scenario (`infersim.levers.breakeven`, computed by the pipeline: `RunResult.breakevens`),
or nothing when the scenario lacks either kind.
Money is rounded to cents, other figures to 6 significant digits.
"""

from __future__ import annotations

import math
from typing import Any

from infersim.levers.breakeven import Breakeven
from infersim.pipeline.run import RunResult
from infersim.report.tables import DataTable, cents, significant


def _num(value: float | None) -> float | None:
    """6 significant digits; None for a missing or infinite figure (JSON has no inf)."""
    if value is None or not math.isfinite(value):
        return None
    return significant(float(value))


def _cents(value: float) -> float | None:
    return cents(value) if math.isfinite(value) else None


def breakeven_json(b: Breakeven) -> dict[str, Any]:
    return {
        "self_hosted": b.self_hosted,
        "api": b.api,
        "gpus": _num(b.gpus),
        "fixed_usd_per_month": _cents(b.fixed_usd_per_month),
        "marginal_usd_per_mtok": _num(b.marginal_usd_per_mtok),
        "api_usd_per_mtok": _num(b.api_usd_per_mtok),
        "volume_mtok_per_month": _num(b.volume_mtok_per_month),
        "self_hosted_usd_at_volume": _cents(b.self_hosted_usd(b.volume_mtok_per_month)),
        "api_usd_at_volume": _cents(b.api_usd(b.volume_mtok_per_month)),
        "breakeven_mtok_per_month": _num(b.breakeven_mtok_per_month),
        "capacity_mtok_per_month": _num(b.capacity_mtok_per_month),
        "outcome": b.outcome,
        "verdict": b.verdict,
    }


def lever_json(result: RunResult) -> dict[str, Any] | None:
    """{"breakeven": [...]} for the run, or None when no pair applies."""
    pairs = result.breakevens
    if not pairs:
        return None
    return {"breakeven": [breakeven_json(b) for b in pairs]}


def _money(value: float) -> str | None:
    return f"${value:,.0f}" if math.isfinite(value) else None


def lever_tables(result: RunResult, label: str) -> list[DataTable]:
    """The breakeven table for the run, or no table when no pair applies."""
    pairs = result.breakevens
    if not pairs:
        return []
    rows = [
        [
            b.self_hosted,
            b.api,
            b.gpus,
            _money(b.fixed_usd_per_month),
            b.marginal_usd_per_mtok,
            b.api_usd_per_mtok,
            b.volume_mtok_per_month,
            _money(b.self_hosted_usd(b.volume_mtok_per_month)),
            _money(b.api_usd(b.volume_mtok_per_month)),
            b.breakeven_mtok_per_month,
            b.capacity_mtok_per_month,
            b.verdict,
        ]
        for b in pairs
    ]
    return [
        DataTable(
            f"{label}: self-hosting vs API",
            [
                "self-hosted",
                "api",
                "GPUs",
                "fixed $/month",
                "marginal $/Mtok",
                "api $/Mtok",
                "volume Mtok/month",
                "self-hosted $/month",
                "api $/month",
                "breakeven Mtok/month",
                "capacity Mtok/month",
                "verdict",
            ],
            rows,
            caption="Mtok = million prompt + output tokens; fixed = rental, or amortization, "
            "hosting and idle power; marginal = power above idle at load; "
            "breakeven = fixed / (api - marginal)",
        )
    ]
