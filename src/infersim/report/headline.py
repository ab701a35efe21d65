"""A run's answer in three lines: the margin, the cost per million tokens, the verdict in words.

Printed at the end of `infersim run` and at the top of its HTML report, from the run's result
at full precision, in the formats of the tables that show the same figures
(`infersim.report.formats`): one figure, one source.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from infersim.economics import MarginRow, UserMarginDistribution
from infersim.pipeline.run import RunResult
from infersim.report.formats import load_text, money, pct, per_mtok, share


@dataclass(frozen=True)
class Headline:
    """The three lines, and the KPI figures they are made of (for the HTML cards)."""

    margin: str
    cost: str
    verdict: str
    kpis: tuple[tuple[str, str], ...]

    @property
    def lines(self) -> tuple[str, str, str]:
        return (self.margin, self.cost, self.verdict)


def projection_words(operating_margins_usd: Sequence[float]) -> str | None:
    """What the months say about the operating margin, in words: `positive in all 12
    months`, `turns negative in month 21`, `negative until month 7, then positive`,
    `negative in every one of 12 months`; None with a single month."""
    values = list(operating_margins_usd)
    if len(values) < 2:
        return None
    if all(m >= 0 for m in values):
        return f"operating margin positive in all {len(values)} months"
    if all(m < 0 for m in values):
        return f"operating margin negative in every one of {len(values)} months"
    last_negative = max(i for i, m in enumerate(values) if m < 0) + 1
    first_negative = next(i for i, m in enumerate(values) if m < 0) + 1
    if first_negative == 1:
        return f"operating margin negative until month {last_negative}, then positive"
    return f"operating margin turns negative in month {first_negative}"


def _main_plan(result: RunResult) -> tuple[MarginRow, UserMarginDistribution] | None:
    """The subscription plan with the most revenue: its margin row and its users' margins."""
    first = result.first_month
    by_segment = {d.segment: d for d in first.distributions.values()}
    plans = [
        (row, by_segment[row.segment]) for row in first.table.rows if row.segment in by_segment
    ]
    if not plans:
        return None
    return max(plans, key=lambda p: p[0].revenue_usd)


def _fleet_words(result: RunResult) -> list[str]:
    deployments = result.serving.deployments
    words: list[str] = []
    if len(deployments) == 1:
        words.append(f"fleet at {load_text(deployments[0].load_factor)} of capacity")
    elif deployments:
        busiest = max(deployments, key=lambda d: d.load_factor)
        words.append(
            f"busiest fleet ({busiest.name}) at {load_text(busiest.load_factor)} of capacity"
        )
    return words + [f"{d.name}: {d.verdict}" for d in deployments if d.verdict]


def headline(result: RunResult) -> Headline:
    """The headline of one run, in the formats of the tables that show the same figures."""
    first = result.first_month
    pnl = first.pnl
    total = first.table.total
    if pnl.revenue_usd > 0:
        margin = (
            f"margin: {pct(pnl.gross_margin_pct) or '-'} gross margin, "
            f"{money(pnl.gross_margin_usd)} a month on {money(pnl.revenue_usd)} of revenue"
        )
    else:
        margin = f"margin: no revenue; serving costs {money(pnl.serving_cost_usd)} a month"
    if pnl.operating_cost_total_usd:
        margin += f"; operating margin {pct(pnl.operating_margin_pct) or '-'}"
    cost = f"cost: {per_mtok(total.cost_usd_per_mtok) or '-'} per million tokens served"
    priced = total.price_usd_per_mtok is not None and pnl.revenue_usd > 0
    if priced:
        cost += f", sold at {per_mtok(total.price_usd_per_mtok)} per million"
    if pnl.unserved_requests > 0:
        cost += f"; {share(pnl.unserved_share)} of requests unserved"
    parts: list[str] = []
    kpis: list[tuple[str, str]] = (
        [
            ("gross margin", pct(pnl.gross_margin_pct) or "-"),
            ("gross margin a month", money(pnl.gross_margin_usd) or "-"),
        ]
        if pnl.revenue_usd > 0
        else [("cost of serving a month", money(pnl.serving_cost_usd) or "-")]
    )
    kpis.append(("cost per million tokens", per_mtok(total.cost_usd_per_mtok) or "-"))
    if priced:
        kpis.append(("price per million tokens", per_mtok(total.price_usd_per_mtok) or "-"))
    plan = _main_plan(result)
    if plan is not None:
        row, users = plan
        parts.append(f"{row.segment} makes {pct(row.gross_margin_pct) or 'no'} gross margin")
        if users.share_losing_money is not None:
            losing = share(users.share_losing_money) or "-"
            parts.append(f"{losing} of {row.segment} subscribers lose money")
            kpis.append((f"{row.segment} subscribers losing money", losing))
    elif pnl.gross_margin_pct is not None:
        parts.append(f"{pct(pnl.gross_margin_pct)} gross margin")
    else:
        parts.append("no revenue, so no margin: the figures are what serving costs")
    parts += _fleet_words(result)
    months = projection_words([m.pnl.operating_margin_usd for m in result.months])
    if months is not None:
        parts.append(months)
    return Headline(margin, cost, "verdict: " + "; ".join(parts), tuple(kpis))


def headline_text(runs: Sequence[tuple[str, Headline]], width: int) -> str:
    """The headline of each run for the end of the terminal output, wrapped to `width`
    between words (a figure is never split); titled by the run when there are several."""
    blocks: list[str] = []
    for title, found in runs:
        wrapped = [f"{title}:"]
        for line in found.lines:
            wrapped += textwrap.wrap(
                line,
                width=max(width, 20),
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        blocks.append("\n".join(wrapped))
    return "\n" + "\n\n".join(blocks) + "\n" if blocks else ""
