"""Reporting windows and the cost-profit margin."""

from __future__ import annotations

import pytest

from infersim.economics.errors import InvalidEconomicsInputError
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.economics.pnl import Pnl
from infersim.economics.windows import parse_window, pnl_over

PNL = Pnl(
    revenue_usd=3000.0,
    serving_cost_usd=2000.0,
    gpu_cost_usd=1500.0,
    api_cost_usd=300.0,
    serving_overhead_usd=200.0,
    gross_margin_usd=1000.0,
    gross_margin_pct=100.0 / 3.0,
    operating_costs_usd={"staff": 400.0},
    operating_cost_total_usd=400.0,
    operating_margin_usd=600.0,
    operating_margin_pct=20.0,
    spent_per_revenue_usd=0.8,
    requests=7300.0,
)


def test_cost_profit_margin_is_profit_over_cost() -> None:
    assert PNL.cost_profit_margin_pct == 50.0
    free = Pnl(**{**PNL.__dict__, "serving_cost_usd": 0.0})
    assert free.cost_profit_margin_pct is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("day", 86_400), ("hour", 3600), ("week", 604_800), ("12h", 43_200), ("7d", 604_800)],
)
def test_windows_parse(text: str, seconds: float) -> None:
    assert parse_window(text).seconds == seconds


@pytest.mark.parametrize("text", ["fortnight", "0h", "-1d", "40d", "1.5.2h", ""])
def test_bad_windows_say_what_is_allowed(text: str) -> None:
    with pytest.raises(InvalidEconomicsInputError, match="hour, day, week, month"):
        parse_window(text)


def test_a_day_is_the_months_share_and_windows_add_up() -> None:
    day = pnl_over(PNL, parse_window("day"))
    assert day.revenue_usd == pytest.approx(3000.0 * 24 / HOURS_PER_MONTH)
    assert day.gross_margin_pct == PNL.gross_margin_pct
    assert day.cost_profit_margin_pct == 50.0
    month = pnl_over(PNL, parse_window("month"))
    assert month.operating_margin_usd == PNL.operating_margin_usd
    half = pnl_over(PNL, parse_window(f"{HOURS_PER_MONTH / 2:g}h"))
    assert 2 * half.revenue_usd == pytest.approx(PNL.revenue_usd)
