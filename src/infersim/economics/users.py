"""Users: heavy-tailed requests per active user per month, sampled with numpy.

Parameter conversions (Z99 = 2.3263..., the standard normal's 99th percentile):

- lognormal: mu = ln(median), or ln(mean) - sigma^2 / 2; sigma given, or ln(p99 / median) / Z99
  (so p99 = median x exp(Z99 x sigma));
- pareto (type I, support [minimum, inf)): minimum given, or mean x (alpha - 1) / alpha
  (alpha > 1 is enforced by the scenario model); quantile q = minimum x (1 - q)^(-1 / alpha).

Weighted sampling: a population of `users_active` active users is represented by
`n_sim = min(users_active, sample_cap)` draws (rounded to a whole number, at least 1 when
there are active users), each standing for `weight = users_active / n_sim` real users. Totals
are sums over the draws times the weight; below the cap every user is drawn (weight 1).

Usage growth: in month m (0 = the first) every user's requests are multiplied by
(1 + usage_growth_per_month)^m.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from infersim.scenario.workload import UsageDist, UserPopulation

Z99 = 2.3263478740408408
"""The standard normal's 99th percentile."""

DEFAULT_SAMPLE_CAP = 1_000_000


@dataclass(frozen=True)
class LognormalUsage:
    mu: float
    sigma: float

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def p99(self) -> float:
        return math.exp(self.mu + Z99 * self.sigma)


@dataclass(frozen=True)
class ParetoUsage:
    alpha: float
    minimum: float

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def mean(self) -> float:
        return self.alpha * self.minimum / (self.alpha - 1)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    def quantile(self, q: float) -> float:
        return float(self.minimum * (1.0 - q) ** (-1.0 / self.alpha))


UsageParams = LognormalUsage | ParetoUsage


def usage_params(dist: UsageDist) -> UsageParams:
    """The distribution's natural parameters, from however the scenario stated it."""
    if dist.dist == "lognormal":
        if dist.sigma is not None:
            sigma = dist.sigma
        else:
            assert dist.p99 is not None and dist.median is not None  # the model validates it
            sigma = math.log(dist.p99 / dist.median) / Z99
        if dist.median is not None:
            mu = math.log(dist.median)
        else:
            assert dist.mean is not None
            mu = math.log(dist.mean) - sigma**2 / 2
        return LognormalUsage(mu, sigma)
    assert dist.alpha is not None
    if dist.minimum is not None:
        return ParetoUsage(dist.alpha, dist.minimum)
    assert dist.mean is not None
    return ParetoUsage(dist.alpha, dist.mean * (dist.alpha - 1) / dist.alpha)


#: Draws kept by `sample_requests_per_user` (8 MB each at a million users).
DRAWS_KEPT = 4
_DRAWS: OrderedDict[tuple[object, ...], tuple[np.ndarray, Mapping[str, Any]]] = OrderedDict()
"""Memo of recent draws: (generator state, distribution, count) -> (draws, state after)."""
_DRAWS_LOCK = threading.Lock()  # Dask workers run tasks in threads


def _draw(params: UsageParams, n_users: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(params, LognormalUsage):
        return rng.lognormal(params.mu, params.sigma, size=n_users)
    # numpy's pareto is Lomax (support from 0): shift by one and scale
    draws = rng.pareto(params.alpha, size=n_users)
    draws += 1.0
    draws *= params.minimum
    return draws


def sample_requests_per_user(
    dist: UsageDist, n_users: int, rng: np.random.Generator, growth_factor: float = 1.0
) -> np.ndarray:
    """Requests per month of `n_users` independent users (float64), times growth_factor.

    The same generator state, distribution and count give the same draws: every month of a
    run, and every Monte Carlo sample, draws the same users (common random numbers), so the
    last few draws are kept and the generator is moved on as if it had drawn them again."""
    params = usage_params(dist)
    key = (repr(rng.bit_generator.state), params, n_users)
    with _DRAWS_LOCK:
        kept = _DRAWS.get(key)
        if kept is not None:
            _DRAWS.move_to_end(key)
    if kept is None:
        base = _draw(params, n_users, rng)
        base.flags.writeable = False
        with _DRAWS_LOCK:
            _DRAWS[key] = (base, rng.bit_generator.state)
            while len(_DRAWS) > DRAWS_KEPT:
                _DRAWS.popitem(last=False)
    else:
        base, after = kept
        rng.bit_generator.state = after
    return base * growth_factor if growth_factor != 1.0 else base.copy()


def growth_factor(usage_growth_per_month: float, month: int) -> float:
    """(1 + g)^m: usage in month m relative to month 0."""
    return float((1.0 + usage_growth_per_month) ** month)


@dataclass(frozen=True)
class PopulationSample:
    """The active users of one population, drawn for one month."""

    name: str
    population: UserPopulation
    users: float
    active_users: float
    weight: float
    requests: np.ndarray

    @property
    def inactive_users(self) -> float:
        return self.users - self.active_users

    @property
    def total_requests(self) -> float:
        return float(self.requests.sum()) * self.weight


def simulated_count(active_users: float, sample_cap: int) -> int:
    """How many users to draw for `active_users` real ones (see the module docstring)."""
    if active_users <= 0:
        return 0
    return max(1, min(round(active_users), sample_cap))


def draw_population(
    name: str,
    population: UserPopulation,
    rng: np.random.Generator,
    month: int = 0,
    sample_cap: int = DEFAULT_SAMPLE_CAP,
) -> PopulationSample:
    """Draw the month's requests per active user of `population`, with their weight."""
    if sample_cap < 1:
        raise ValueError(f"sample_cap must be >= 1, got {sample_cap}")
    if month < 0:
        raise ValueError(f"month must be >= 0, got {month}")
    users = float(population.users)
    active = users * population.active_share
    n_sim = simulated_count(active, sample_cap)
    weight = active / n_sim if n_sim else 0.0
    factor = growth_factor(population.usage_growth_per_month, month)
    requests = sample_requests_per_user(population.requests_per_user_per_month, n_sim, rng, factor)
    return PopulationSample(name, population, users, active, weight, requests)
