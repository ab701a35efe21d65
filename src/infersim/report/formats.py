"""How a figure reads in the tables, the headline and the HTML report: one format per kind of
figure, so a figure shown in two places reads the same in both."""

from __future__ import annotations


def money(value: float | None) -> str | None:
    """Whole dollars: `$2,230,796`, `-$52`."""
    if value is None:
        return None
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"


def cents_text(value: float | None) -> str | None:
    """Dollars and cents: `$19.78`, `-$0.40`."""
    if value is None:
        return None
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def pct(value: float | None) -> str | None:
    """A percentage given in percent (`gross_margin_pct`): `99.1%`."""
    return None if value is None else f"{value:.1f}%"


def share(value: float | None) -> str | None:
    """A share given as a fraction (`share_losing_money`): `4.4%`."""
    return None if value is None else f"{value:.1%}"


def per_mtok(value: float | None) -> str | None:
    """Dollars per million tokens: `$0.267`."""
    return None if value is None else f"${value:,.3f}"


def load_text(value: float) -> str:
    """Offered load over capacity (`load_factor`): `63%`."""
    return f"{value:.0%}"
