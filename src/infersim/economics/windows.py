"""Reporting windows: the P&L over a day (or an hour, a week, N hours or days) as well as the
month.

The run prices a steady month: the simulated time's serving, scaled to 730 h. A window's
figures are the month's x (window / month): a day is 1/30.42 of it. This is the steady
state's daily P&L, not a particular day's (the diurnal pattern within a day is in the
simulation; day-to-day differences within a month are not modelled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infersim.economics.errors import InvalidEconomicsInputError
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.economics.pnl import Pnl

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
NAMED_S = {"hour": 3600.0, "day": 86_400.0, "week": 604_800.0, "month": SECONDS_PER_MONTH}
_SPAN = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>[hd])$")
WINDOW_HELP = "hour, day, week, month, or a span such as 12h or 7d (at most a month)"


@dataclass(frozen=True)
class Window:
    name: str
    seconds: float

    @property
    def month_share(self) -> float:
        return self.seconds / SECONDS_PER_MONTH


def parse_window(text: str) -> Window:
    """'day', '12h', '7d'... raises InvalidEconomicsInputError naming what is allowed."""
    name = text.strip().lower()
    if name in NAMED_S:
        return Window(name, NAMED_S[name])
    match = _SPAN.match(name)
    if match is not None:
        seconds = float(match["n"]) * (3600.0 if match["unit"] == "h" else 86_400.0)
        if 0 < seconds <= SECONDS_PER_MONTH:
            return Window(name, seconds)
    raise InvalidEconomicsInputError(f"window '{text}': expected {WINDOW_HELP}")


@dataclass(frozen=True)
class WindowPnl:
    """The month's P&L over one window; the margins (%) are the month's."""

    window: Window
    revenue_usd: float
    serving_cost_usd: float
    gpu_cost_usd: float
    gross_margin_usd: float
    gross_margin_pct: float | None
    cost_profit_margin_pct: float | None
    operating_cost_total_usd: float
    operating_margin_usd: float
    requests: float


def pnl_over(pnl: Pnl, window: Window) -> WindowPnl:
    share = window.month_share
    return WindowPnl(
        window=window,
        revenue_usd=pnl.revenue_usd * share,
        serving_cost_usd=pnl.serving_cost_usd * share,
        gpu_cost_usd=pnl.gpu_cost_usd * share,
        gross_margin_usd=pnl.gross_margin_usd * share,
        gross_margin_pct=pnl.gross_margin_pct,
        cost_profit_margin_pct=pnl.cost_profit_margin_pct,
        operating_cost_total_usd=pnl.operating_cost_total_usd * share,
        operating_margin_usd=pnl.operating_margin_usd * share,
        requests=pnl.requests * share,
    )
