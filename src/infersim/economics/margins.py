"""Margin tables: one row per segment (plan population, API class, free tier, contract),
a total row, and the per-user margin distribution of subscription plans.

Percentages are in percent (30.0 = 30%). Ratios whose denominator is 0 are None, never NaN:
gross_margin_pct without revenue, cost and price per 1M tokens without tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

RowKind = Literal["plan", "api", "free", "contract", "unallocated", "total", "group"]

Detail = Literal["full", "figures", "totals"]
"""How much of a per-user margin distribution to compute: `full` (the report's month: every
figure and the histogram), `figures` (every figure, no histogram: an analysis point, whose
outputs are numbers), `totals` (mean, share losing money and breakeven only: a month no
output shows the percentiles of). The figures computed are the same at every level."""


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return numerator / denominator * scale if denominator > 0 else None


@dataclass(frozen=True)
class MarginRow:
    """One segment's month. cost_usd = gpu + api + overhead; requests and tokens served only.

    `capped_requests` were past a plan's cap and not served by the plan's terms (throttle);
    `unserved_*` is demand the fleet could not serve in the simulated window (capacity), and
    `revenue_foregone_usd` what per-token products would have earned on it."""

    segment: str
    kind: RowKind
    product: str | None
    deployments: tuple[str, ...]
    users: float | None
    active_users: float | None
    requests: float
    capped_requests: float
    unserved_requests: float
    unserved_tokens: float
    revenue_foregone_usd: float
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    revenue_usd: float
    gpu_cost_usd: float
    api_cost_usd: float
    overhead_usd: float
    cost_usd: float = field(init=False)
    gross_margin_usd: float = field(init=False)
    gross_margin_pct: float | None = field(init=False)
    cost_usd_per_mtok: float | None = field(init=False)
    price_usd_per_mtok: float | None = field(init=False)

    def __post_init__(self) -> None:
        cost = self.gpu_cost_usd + self.api_cost_usd + self.overhead_usd
        mtok = (self.input_tokens + self.output_tokens) / 1e6
        object.__setattr__(self, "cost_usd", cost)
        object.__setattr__(self, "gross_margin_usd", self.revenue_usd - cost)
        object.__setattr__(
            self, "gross_margin_pct", _ratio(self.revenue_usd - cost, self.revenue_usd, 100.0)
        )
        object.__setattr__(self, "cost_usd_per_mtok", _ratio(cost, mtok))
        object.__setattr__(self, "price_usd_per_mtok", _ratio(self.revenue_usd, mtok))


def _sum_optional(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def sum_rows(rows: Sequence[MarginRow], segment: str, kind: RowKind) -> MarginRow:
    """A row adding up `rows` (ratios recomputed from the sums)."""
    deployments = tuple(sorted({d for row in rows for d in row.deployments}))
    products = {row.product for row in rows}
    return MarginRow(
        segment=segment,
        kind=kind,
        product=products.pop() if len(products) == 1 else None,
        deployments=deployments,
        users=_sum_optional(row.users for row in rows),
        active_users=_sum_optional(row.active_users for row in rows),
        requests=math.fsum(row.requests for row in rows),
        capped_requests=math.fsum(row.capped_requests for row in rows),
        unserved_requests=math.fsum(row.unserved_requests for row in rows),
        unserved_tokens=math.fsum(row.unserved_tokens for row in rows),
        revenue_foregone_usd=math.fsum(row.revenue_foregone_usd for row in rows),
        input_tokens=math.fsum(row.input_tokens for row in rows),
        cached_input_tokens=math.fsum(row.cached_input_tokens for row in rows),
        output_tokens=math.fsum(row.output_tokens for row in rows),
        revenue_usd=math.fsum(row.revenue_usd for row in rows),
        gpu_cost_usd=math.fsum(row.gpu_cost_usd for row in rows),
        api_cost_usd=math.fsum(row.api_cost_usd for row in rows),
        overhead_usd=math.fsum(row.overhead_usd for row in rows),
    )


@dataclass(frozen=True)
class MarginTable:
    """Rows and their total (the footer)."""

    rows: tuple[MarginRow, ...]
    total: MarginRow

    @classmethod
    def of(cls, rows: Iterable[MarginRow]) -> MarginTable:
        rows = tuple(rows)
        return cls(rows, sum_rows(rows, "total", "total"))

    def row(self, segment: str) -> MarginRow:
        for row in self.rows:
            if row.segment == segment:
                return row
        known = ", ".join(r.segment for r in self.rows)
        raise KeyError(f"no segment '{segment}' in the margin table; known: {known}")

    def grouped(self, key: Callable[[MarginRow], str]) -> MarginTable:
        """Rows summed by key(row), e.g. `lambda r: r.kind` or `lambda r: r.product or '-'`."""
        groups: dict[str, list[MarginRow]] = {}
        for row in self.rows:
            groups.setdefault(key(row), []).append(row)
        return MarginTable.of(sum_rows(g, name, "group") for name, g in groups.items())


@dataclass(frozen=True)
class UserMarginDistribution:
    """Per-user monthly margin of one subscription population (inactive subscribers pay and
    use nothing: they count at margin = price). Margins in USD per user per month; None when
    the population has no users."""

    segment: str
    plan: str
    users: float
    active_users: float
    price_usd_per_month: float
    mean_usd: float | None
    p10_usd: float | None
    p50_usd: float | None
    p90_usd: float | None
    p99_usd: float | None
    top_decile_mean_usd: float | None
    share_losing_money: float | None
    breakeven_requests_per_user_per_month: float | None
    histogram_edges_usd: tuple[float, ...] = ()
    """Bin edges of the per-user margin histogram (for charts)."""
    histogram_users: tuple[float, ...] = ()
    """Users in each bin (inactive subscribers in the bin of the plan price)."""


HISTOGRAM_BINS = 40
#: The histogram's first edge: this quantile of the margins (linear interpolation), or 0.
HISTOGRAM_LOW_QUANTILE = 0.005


def _linear_quantile_indices(n: int, q: float) -> tuple[int, int, float]:
    """The order statistics (and weight) of numpy's default (linear) quantile q of n values."""
    virtual = (n - 1) * q
    below = min(max(math.floor(virtual), 0), n - 1)
    return below, min(below + 1, n - 1), virtual - below


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between order statistics (so the figures equal np.quantile's)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def margin_histogram(
    margins: np.ndarray,
    weight: float,
    price: float,
    inactive: float,
    low_quantile: float | None = None,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-user margins binned from their 0.5th percentile (or below 0) up to the price; the
    long tail of heavy users is gathered in the first bin.

    The bins are equal, so each margin's bin is computed, without sorting (numpy's
    uniform-bin histogram: the same counts as with the edges given). `low_quantile`: the
    margins' 0.5th percentile when the caller has it (`user_margin_distribution` takes it
    from the partition it makes for the percentiles)."""
    if margins.size == 0 and inactive <= 0:
        return (), ()
    if margins.size:
        low = (
            float(np.quantile(margins, HISTOGRAM_LOW_QUANTILE))
            if low_quantile is None
            else low_quantile
        )
        smallest, largest = float(margins.min()), float(margins.max())
        low = min(low, 0.0) if smallest < 0 else low
        high = max(price, largest)
    else:
        low, high = price - 1.0, price
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(margins, low, high), bins=HISTOGRAM_BINS, range=(low, high))
    users = counts.astype(np.float64) * weight
    users[min(int(np.searchsorted(edges, price, side="right")) - 1, HISTOGRAM_BINS - 1)] += inactive
    return tuple(float(e) for e in edges), tuple(float(u) for u in users)


def _atom_picks(
    n: int, weight: float, below: int, atom_mass: float, qs: Sequence[float]
) -> list[int] | None:
    """Per quantile, the index of its order statistic among the values, or -1 for the atom;
    None when there is no mass at all."""
    total = n * weight + atom_mass
    if total <= 0:
        return None
    picks: list[int] = []
    for q in qs:
        target = q * total
        if n and target <= below * weight:
            picks.append(max(math.ceil(target / weight) - 1, 0))
        elif not n or target <= below * weight + atom_mass:
            picks.append(-1)
        else:
            picks.append(min(math.ceil((target - atom_mass) / weight) - 1, n - 1))
    return picks


def quantiles_with_atom(
    values: np.ndarray, weight: float, atom: float, atom_mass: float, qs: Sequence[float]
) -> list[float | None]:
    """Lower quantiles of n values of equal weight plus a point mass at `atom`, in O(n)."""
    n = values.size
    below = int(np.count_nonzero(values < atom)) if n else 0
    picks = _atom_picks(n, weight, below, atom_mass, qs)
    if picks is None:
        return [None for _ in qs]
    indices = sorted({p for p in picks if p >= 0})
    ordered = np.partition(values, indices) if indices else values
    return [float(ordered[p]) if p >= 0 else float(atom) for p in picks]


def top_share_mean(
    values: np.ndarray,
    usage: np.ndarray,
    weight: float,
    atom: float,
    atom_mass: float,
    share: float = 0.1,
) -> float | None:
    """Mean of `values` over the `share` of users with the highest usage (the atom has none)."""
    n = values.size
    k = _top_count(n, weight, atom_mass, share)
    top = np.argpartition(usage, n - k)[n - k :] if k else np.empty(0, dtype=np.intp)
    return _top_mean(values[top], n, weight, atom, atom_mass, share)


def _top_count(n: int, weight: float, atom_mass: float, share: float = 0.1) -> int:
    """How many of the n drawn users (each `weight`) make the top `share` of all users."""
    total = n * weight + atom_mass
    if total <= 0 or not n:
        return 0
    return min(n, max(1, round(share * total / weight)))


def _top_mean(
    top: np.ndarray, n: int, weight: float, atom: float, atom_mass: float, share: float = 0.1
) -> float | None:
    """Mean over the top `share` of all users: the drawn users `top` (of n), then the atom."""
    total = n * weight + atom_mass
    if total <= 0:
        return None
    target = share * total
    rest = max(target - top.size * weight, 0.0)
    return (weight * float(top.sum()) + rest * atom) / (top.size * weight + rest)


def user_margin_distribution(
    segment: str,
    plan: str,
    margins: np.ndarray,
    requests: np.ndarray,
    weight: float,
    users: float,
    active_users: float,
    price_usd_per_month: float,
    breakeven: float | None,
    detail: Detail = "full",
    falls_with_usage: bool = False,
) -> UserMarginDistribution:
    """Summarise per-user margins of the drawn active users (each `weight` real users), to
    the `detail` asked for.

    `falls_with_usage`: each user's margin is a non-increasing function of their requests
    (costs per request >= 0, no overage that earns more than it costs), so the heaviest decile
    is the decile of lowest margins, found by the partition that gives the percentiles."""
    inactive = max(users - active_users, 0.0)
    n = margins.size
    total = n * weight + inactive
    mean = losing = None
    if total > 0:
        mean = (weight * float(margins.sum()) + inactive * price_usd_per_month) / total
        negative = float(np.count_nonzero(margins < 0)) * weight
        losing = negative / total  # inactive subscribers pay and cost nothing
    p10 = p50 = p90 = p99 = top = None
    edges: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()
    if detail != "totals":
        below = int(np.count_nonzero(margins < price_usd_per_month)) if n else 0
        picks = _atom_picks(n, weight, below, inactive, (0.1, 0.5, 0.9, 0.99))
        # One partition gives the percentiles, the histogram's first edge (a sort's figures)
        # and, when margins fall with usage, the heaviest decile.
        low_a, low_b, low_t = (
            _linear_quantile_indices(n, HISTOGRAM_LOW_QUANTILE) if n else (0, 0, 0.0)
        )
        wanted = {low_a, low_b, *(p for p in picks or () if p >= 0)} if n else set()
        heaviest = _top_count(n, weight, inactive) if falls_with_usage else 0
        if heaviest:
            wanted.add(heaviest - 1)
        ordered = np.partition(margins, sorted(wanted)) if wanted else margins
        if picks is not None:
            p10, p50, p90, p99 = (
                float(ordered[p]) if p >= 0 else float(price_usd_per_month) for p in picks
            )
        if falls_with_usage:
            top = _top_mean(ordered[:heaviest], n, weight, price_usd_per_month, inactive)
        else:
            top = top_share_mean(margins, requests, weight, price_usd_per_month, inactive)
        if detail == "full":
            low = _lerp(float(ordered[low_a]), float(ordered[low_b]), low_t) if n else None
            edges, counts = margin_histogram(margins, weight, price_usd_per_month, inactive, low)
    return UserMarginDistribution(
        segment=segment,
        plan=plan,
        users=users,
        active_users=active_users,
        price_usd_per_month=price_usd_per_month,
        mean_usd=mean,
        p10_usd=p10,
        p50_usd=p50,
        p90_usd=p90,
        p99_usd=p99,
        top_decile_mean_usd=top,
        share_losing_money=losing,
        breakeven_requests_per_user_per_month=breakeven,
        histogram_edges_usd=edges,
        histogram_users=counts,
    )
