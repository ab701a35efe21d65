"""Margin rows, tables, weighted quantiles and the P&L."""

from __future__ import annotations

import math

import numpy as np
import pytest
from econ_fixtures import scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from infersim.catalog.load import Catalog
from infersim.economics import MarginRow, MarginTable, evaluate_month
from infersim.economics.margins import (
    HISTOGRAM_BINS,
    RowKind,
    quantiles_with_atom,
    top_share_mean,
    user_margin_distribution,
)
from infersim.economics.pnl import pnl_from_total


def row(
    segment: str, kind: RowKind = "plan", revenue: float = 0.0, gpu: float = 0.0, **kw: float
) -> MarginRow:
    return MarginRow(
        segment=segment,
        kind=kind,
        product=segment,
        deployments=("main",),
        users=None,
        active_users=None,
        requests=0.0,
        capped_requests=0.0,
        unserved_requests=0.0,
        unserved_tokens=0.0,
        revenue_foregone_usd=0.0,
        input_tokens=kw.get("input_tokens", 0.0),
        cached_input_tokens=0.0,
        output_tokens=kw.get("output_tokens", 0.0),
        revenue_usd=revenue,
        gpu_cost_usd=gpu,
        api_cost_usd=0.0,
        overhead_usd=kw.get("overhead_usd", 0.0),
    )


def test_row_ratios() -> None:
    r = row("a", revenue=100.0, gpu=30.0, overhead_usd=10.0, input_tokens=3e6, output_tokens=1e6)
    assert r.cost_usd == 40.0
    assert r.gross_margin_usd == 60.0
    assert r.gross_margin_pct == pytest.approx(60.0)
    assert r.cost_usd_per_mtok == pytest.approx(10.0)
    assert r.price_usd_per_mtok == pytest.approx(25.0)


def test_empty_row_has_no_ratios() -> None:
    r = row("empty")
    assert r.gross_margin_pct is None
    assert r.cost_usd_per_mtok is None and r.price_usd_per_mtok is None
    loss = row("loss", gpu=5.0)
    assert loss.gross_margin_usd == -5.0 and loss.gross_margin_pct is None


def test_table_total_and_grouping() -> None:
    table = MarginTable.of(
        [row("a", revenue=10, gpu=4), row("b", "api", revenue=5, gpu=1), row("c", revenue=1, gpu=3)]
    )
    assert table.total.revenue_usd == 16 and table.total.cost_usd == 8
    assert table.total.gross_margin_pct == pytest.approx(50.0)
    by_kind = table.grouped(lambda r: r.kind)
    assert [g.segment for g in by_kind.rows] == ["plan", "api"]
    assert by_kind.row("plan").gross_margin_usd == pytest.approx(4.0)
    assert by_kind.total.gross_margin_usd == table.total.gross_margin_usd
    with pytest.raises(KeyError, match="known: a, b, c"):
        table.row("z")


def test_empty_table() -> None:
    table = MarginTable.of([])
    assert table.total.revenue_usd == 0 and table.total.gross_margin_pct is None
    assert table.total.users is None


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-100, 100), min_size=0, max_size=40),
    weight=st.integers(1, 5),
    atom=st.floats(-100, 100),
    atom_mass=st.integers(0, 60),
    q=st.floats(0.01, 0.99),
)
def test_quantiles_with_atom_match_the_expanded_sample(
    values: list[float], weight: int, atom: float, atom_mass: int, q: float
) -> None:
    """Against numpy's inverted-CDF quantile of the sample with every user written out."""
    array = np.array(values, dtype=float)
    expanded = np.concatenate([np.repeat(array, weight), np.full(atom_mass, atom)])
    (got,) = quantiles_with_atom(array, float(weight), atom, float(atom_mass), [q])
    if expanded.size == 0:
        assert got is None
    else:
        assert got == np.quantile(expanded, q, method="inverted_cdf")


def test_top_share_mean() -> None:
    usage = np.arange(100, dtype=float)
    margins = 100.0 - usage
    # the 10 heaviest of 100 equal users: usage 90..99
    assert top_share_mean(margins, usage, 1.0, 0.0, 0.0) == pytest.approx(np.mean(100 - usage[90:]))
    # 900 inactive users (margin 7): the top 10% of 1,000 is all 100 active users
    assert top_share_mean(margins, usage, 1.0, 7.0, 900.0) == pytest.approx(np.mean(margins))
    # 1,400 inactive: the top 150 of 1,500 are the 100 active users and 50 inactive ones
    mixed = top_share_mean(margins, usage, 1.0, 7.0, 1400.0)
    assert mixed == pytest.approx((margins.sum() + 50 * 7.0) / 150)
    assert top_share_mean(np.empty(0), np.empty(0), 1.0, 7.0, 0.0) is None


def test_pnl_spent_per_dollar_of_revenue_s1() -> None:
    """Claim S1's shape: $13B revenue, $22B spent in a year = $1.69 per $1 of revenue."""
    month_revenue = 13e9 / 12
    serving = 8e9 / 12
    total = row("all", revenue=month_revenue, gpu=serving)
    pnl = pnl_from_total(total, {"r_and_d": 9e9 / 12, "staff_and_sales": 5e9 / 12})
    assert pnl.spent_per_revenue_usd == pytest.approx(22 / 13)
    assert round(pnl.spent_per_revenue_usd, 2) == 1.69
    assert pnl.operating_margin_usd == pytest.approx(-9e9 / 12)
    assert pnl.operating_margin_pct == pytest.approx(-900 / 13)
    assert pnl.gross_margin_usd == pytest.approx(5e9 / 12)
    assert math.isclose(pnl.serving_cost_usd, serving)


def test_pnl_of_a_scenario_with_operating_costs() -> None:
    sc = scenario(
        contracts={"acme": {"fee_usd_per_month": 100_000}},
        costs={"operating_usd_per_month": {"staff": 80_000, "training_runs": 40_000}},
    )
    result = evaluate_month(sc, Catalog(), {}, [], [], np.random.default_rng(0))
    pnl = result.pnl
    assert pnl.revenue_usd == 100_000 and pnl.serving_cost_usd == 0
    assert dict(pnl.operating_costs_usd) == {"staff": 80_000, "training_runs": 40_000}
    assert pnl.operating_margin_usd == -20_000
    assert pnl.spent_per_revenue_usd == pytest.approx(1.2)
    assert result.table.row("acme").kind == "contract"


@pytest.mark.parametrize("n", [1, 2, 3, 10, 201, 50_000])
@pytest.mark.parametrize("ties", [False, True])
def test_distribution_figures_equal_their_sorted_definitions(n: int, ties: bool) -> None:
    """One partition and an unsorted histogram give the figures a sort gives: the histogram's
    first edge is np.quantile's 0.5th percentile (or 0), its counts np.histogram's with the
    edges given; the percentiles are order statistics."""
    rng = np.random.default_rng(n)
    requests = rng.lognormal(4.0, 1.3, n)
    margins = 20.0 - np.minimum(requests, 300.0) * 0.2
    if ties:
        margins = np.round(margins)  # values on the bins' edges, repeated values
    inactive, weight = float(n // 4 + 1), 1.0
    d = user_margin_distribution(
        "s", "p", margins, requests, weight, n + inactive, float(n), 20.0, None
    )
    low = float(np.quantile(margins, 0.005))
    low = min(low, 0.0) if margins.min() < 0 else low
    high = max(20.0, float(margins.max()))
    high = high if high > low else low + 1.0
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts = np.histogram(np.clip(margins, low, high), bins=edges)[0].astype(np.float64)
    counts[min(int(np.searchsorted(edges, 20.0, side="right")) - 1, HISTOGRAM_BINS - 1)] += inactive
    assert d.histogram_edges_usd == tuple(edges.tolist())
    assert d.histogram_users == tuple(counts.tolist())
    expected = quantiles_with_atom(margins, weight, 20.0, inactive, (0.1, 0.5, 0.9, 0.99))
    assert [d.p10_usd, d.p50_usd, d.p90_usd, d.p99_usd] == expected
    assert d.share_losing_money == np.count_nonzero(margins < 0) / (n + inactive)


@pytest.mark.parametrize("n", [1, 2, 10, 201, 50_000])
@pytest.mark.parametrize("cap", [math.inf, 150.0])
@pytest.mark.parametrize("weight", [1.0, 3.5])
def test_each_detail_gives_the_same_figures(n: int, cap: float, weight: float) -> None:
    """`figures` is `full` without the histogram, `totals` keeps mean, losers and breakeven;
    when margins fall with usage the heaviest decile taken from the percentiles' partition
    is the one `top_share_mean` finds by usage."""
    rng = np.random.default_rng(n)
    requests = np.round(rng.lognormal(4.0, 1.3, n))  # ties in usage, and so in margins
    within = np.minimum(requests, cap)
    margins = 20.0 - within * 0.2 - (requests - within) * 0.05  # falls with usage
    users, active = n * weight * 1.3, n * weight
    args = ("s", "p", margins, requests, weight, users, active, 20.0, 100.0)
    full = user_margin_distribution(*args, detail="full", falls_with_usage=False)
    figures = user_margin_distribution(*args, detail="figures", falls_with_usage=True)
    totals = user_margin_distribution(*args, detail="totals", falls_with_usage=True)
    assert full.histogram_users and not figures.histogram_users and not totals.histogram_users
    for name in ("p10_usd", "p50_usd", "p90_usd", "p99_usd", "mean_usd", "share_losing_money"):
        assert getattr(figures, name) == getattr(full, name), name
    assert figures.top_decile_mean_usd == pytest.approx(full.top_decile_mean_usd, rel=1e-12)
    assert full.top_decile_mean_usd == top_share_mean(
        margins, requests, weight, 20.0, users - active
    )
    assert (totals.mean_usd, totals.share_losing_money) == (full.mean_usd, full.share_losing_money)
    assert totals.breakeven_requests_per_user_per_month == 100.0
    assert totals.p50_usd is None and totals.top_decile_mean_usd is None
