"""Token-length distributions: fixed, uniform, lognormal (by mean or p50, sigma or p99),
empirical. Draws are integers >= 1, vectorized over a `numpy.random.Generator`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from infersim.scenario.workload import Empirical, Fixed, Lognormal, TokenDist, Uniform

if TYPE_CHECKING:  # numpy is imported where arrays are made: the preflight needs none
    import numpy as np
    from numpy.typing import NDArray

#: z-score of the 99th percentile of a standard normal.
Z99 = 2.3263478740408408


def lognormal_params(dist: Lognormal) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal from the distribution's stated figures."""
    sigma = dist.sigma
    if sigma is None:
        assert dist.p99_tokens is not None and dist.p50_tokens is not None
        sigma = math.log(dist.p99_tokens / dist.p50_tokens) / Z99
    if dist.p50_tokens is not None:
        return math.log(dist.p50_tokens), sigma
    assert dist.mean_tokens is not None
    return math.log(dist.mean_tokens) - sigma * sigma / 2, sigma


def mean_tokens(dist: TokenDist, empirical: Mapping[str, NDArray[np.int64]]) -> float:
    """The distribution's mean (before truncation at max_tokens, for lognormal)."""
    if isinstance(dist, Fixed):
        return float(dist.tokens)
    if isinstance(dist, Uniform):
        return (dist.low_tokens + dist.high_tokens) / 2
    if isinstance(dist, Lognormal):
        mu, sigma = lognormal_params(dist)
        mean = math.exp(mu + sigma * sigma / 2)
        return min(mean, float(dist.max_tokens)) if dist.max_tokens else mean
    return float(empirical[dist.path].mean())


def sample_tokens(
    dist: TokenDist,
    n: int,
    rng: np.random.Generator,
    empirical: Mapping[str, NDArray[np.int64]],
) -> NDArray[np.int64]:
    """`n` token counts (>= 1) drawn from `dist`."""
    import numpy as np

    if isinstance(dist, Fixed):
        return np.full(n, dist.tokens, dtype=np.int64)
    if isinstance(dist, Uniform):
        return rng.integers(dist.low_tokens, dist.high_tokens + 1, size=n, dtype=np.int64)
    if isinstance(dist, Lognormal):
        mu, sigma = lognormal_params(dist)
        draws = np.rint(rng.lognormal(mu, sigma, size=n))
        upper = dist.max_tokens if dist.max_tokens is not None else 10_000_000
        return np.clip(draws, 1, upper).astype(np.int64)
    assert isinstance(dist, Empirical)
    values = empirical[dist.path]
    return values[rng.integers(0, len(values), size=n)]


def share_of_tokens_above(
    dist: TokenDist, threshold: int, empirical: Mapping[str, NDArray[np.int64]]
) -> float:
    """The share of all tokens that come from draws longer than `threshold` tokens (e.g. the
    prompt tokens billed at a long-context tier). Lognormal: the size-biased tail
    1 - Phi((ln T - mu - sigma^2) / sigma), ignoring truncation at max_tokens."""
    import numpy as np

    if isinstance(dist, Fixed):
        return 1.0 if dist.tokens > threshold else 0.0
    if isinstance(dist, Uniform):
        values = np.arange(dist.low_tokens, dist.high_tokens + 1, dtype=np.float64)
        return float(values[values > threshold].sum() / values.sum())
    if isinstance(dist, Lognormal):
        mu, sigma = lognormal_params(dist)
        z = (math.log(threshold) - mu - sigma * sigma) / sigma
        return 0.5 * math.erfc(z / math.sqrt(2.0))
    values = empirical[dist.path].astype(np.float64)
    return float(values[values > threshold].sum() / values.sum())
