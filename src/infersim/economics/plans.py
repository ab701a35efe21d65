"""Subscription plans and the free tier, per user and vectorized.

A plan's cap is a number of requests per user per month: `requests_per_month`, or
`tokens_per_month` over the tokens of one request (prompt + output), or the smaller of the
two. Requests up to the cap are served on the population's deployment(s). Past the cap:

- throttle: not served (no cost, no extra revenue);
- downgrade: served on `downgrade_deployment`, at its per-token cost;
- overage: served as before, and their tokens (prompt + output) billed at
  `overage_usd_per_mtok`.

A user's margin is then linear in each piece: with r requests, w = min(r, cap) and
a = r - w, margin = price - w x cost_within + a x (overage_revenue - cost_above) per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from infersim.scenario.economics import FreeTier, Plan
from infersim.scenario.workload import UserPopulation


@dataclass(frozen=True)
class RequestTokens:
    """Tokens of one request: input (all prompt tokens), its cached part, output."""

    input: float
    cached_input: float
    output: float

    @classmethod
    def of(cls, population: UserPopulation) -> RequestTokens:
        prompt = population.prompt_tokens_per_request
        return cls(
            prompt, prompt * population.cached_prefix_share, population.output_tokens_per_request
        )

    @property
    def total(self) -> float:
        return self.input + self.output


@dataclass(frozen=True)
class PlanTerms:
    """A plan's cap in requests per user per month (inf: none) and what happens past it."""

    price_usd_per_month: float
    cap_requests: float
    at_cap: Literal["throttle", "downgrade", "overage"]
    downgrade_deployment: str | None
    overage_usd_per_request: float

    @classmethod
    def of(cls, plan: Plan, tokens: RequestTokens) -> PlanTerms:
        cap = plan.cap
        if cap is None:
            return cls(plan.price_usd_per_month, math.inf, "throttle", None, 0.0)
        limits = [math.inf]
        if cap.requests_per_month is not None:
            limits.append(float(cap.requests_per_month))
        if cap.tokens_per_month is not None:
            limits.append(cap.tokens_per_month / tokens.total)
        overage = 0.0
        if cap.at_cap == "overage" and cap.overage_usd_per_mtok is not None:
            overage = cap.overage_usd_per_mtok * tokens.total / 1e6
        return cls(
            plan.price_usd_per_month,
            min(limits),
            cap.at_cap,
            cap.downgrade_deployment if cap.at_cap == "downgrade" else None,
            overage,
        )

    @property
    def serves_above_cap(self) -> bool:
        return self.at_cap != "throttle" and math.isfinite(self.cap_requests)


@dataclass(frozen=True)
class CapSplit:
    """Per user: requests within the cap, and past it."""

    within: np.ndarray
    above: np.ndarray


def split_at_cap(requests: np.ndarray, cap_requests: float) -> CapSplit:
    if not math.isfinite(cap_requests):
        return CapSplit(requests, np.zeros(requests.shape))  # calloc'd: no pass over memory
    within = np.minimum(requests, cap_requests)
    return CapSplit(within, requests - within)


@dataclass(frozen=True)
class RequestEconomics:
    """USD per request, all costs included (GPU or API, fleet attribution, overhead)."""

    cost_within_usd: float
    cost_above_usd: float  # 0 when throttled
    revenue_above_usd: float  # overage billing; 0 otherwise

    @property
    def net_above_usd(self) -> float:
        """What one request past the cap adds to the user's margin."""
        return self.revenue_above_usd - self.cost_above_usd


def user_margins_usd(
    split: CapSplit, price_usd_per_month: float, economics: RequestEconomics
) -> np.ndarray:
    """Margin per user per month, vectorized."""
    margins = split.within * -economics.cost_within_usd
    margins += price_usd_per_month
    if economics.net_above_usd != 0.0:
        margins += split.above * economics.net_above_usd
    return margins


def breakeven_requests(
    price_usd_per_month: float, cap_requests: float, economics: RequestEconomics
) -> float | None:
    """The requests per month at which the user's margin reaches 0 (None: never)."""
    if price_usd_per_month <= 0:
        return 0.0
    within = economics.cost_within_usd
    if within > 0 and price_usd_per_month / within <= cap_requests:
        return price_usd_per_month / within
    if not math.isfinite(cap_requests):
        return None
    left_at_cap = price_usd_per_month - within * cap_requests
    slope = -economics.net_above_usd
    if slope <= 0:
        return None
    return cap_requests + left_at_cap / slope


def ad_revenue_usd(free_tier: FreeTier | None, active_users: float) -> float:
    """Active users x impressions x fill x CPM / 1000."""
    if free_tier is None:
        return 0.0
    return (
        active_users
        * free_tier.impressions_per_active_user_per_month
        * free_tier.ads_fill_share
        * free_tier.ad_revenue_usd_per_kimpression
        / 1000.0
    )
