"""Token-length distributions reproduce the figures they are given, over 10^6 seeded draws:
lognormal by mean or by p50 and p99, truncated at max_tokens; uniform within its bounds;
empirical drawing only its own values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infersim.scenario.workload import Empirical, Fixed, Lognormal, TokenDist, Uniform
from infersim.workload.lengths import Z99, lognormal_params, mean_tokens, sample_tokens

N = 1_000_000


def draw(
    dist: TokenDist, seed: int = 1, empirical: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    return sample_tokens(dist, N, np.random.default_rng(seed), empirical or {})


def test_z99_is_the_normal_99th_percentile() -> None:
    assert 0.5 * math.erfc(-Z99 / math.sqrt(2)) == pytest.approx(0.99, abs=1e-12)


@pytest.mark.parametrize(("mean", "sigma"), [(1000.0, 0.7), (250.0, 1.0), (4000.0, 0.3)])
def test_lognormal_by_mean_reproduces_the_mean(mean: float, sigma: float) -> None:
    dist = Lognormal(dist="lognormal", mean_tokens=mean, sigma=sigma)
    tokens = draw(dist)
    assert tokens.dtype == np.int64
    assert tokens.mean() == pytest.approx(mean, rel=0.01)
    assert np.median(tokens) == pytest.approx(mean * math.exp(-sigma * sigma / 2), rel=0.01)
    assert np.log(tokens).std() == pytest.approx(sigma, rel=0.01)
    assert mean_tokens(dist, {}) == pytest.approx(mean)


@pytest.mark.parametrize(("p50", "p99"), [(500.0, 5000.0), (200.0, 600.0)])
def test_lognormal_by_p50_and_p99_reproduces_them(p50: float, p99: float) -> None:
    dist = Lognormal(dist="lognormal", p50_tokens=p50, p99_tokens=p99)
    tokens = draw(dist, seed=2)
    assert np.median(tokens) == pytest.approx(p50, rel=0.01)
    assert np.percentile(tokens, 99) == pytest.approx(p99, rel=0.02)
    mu, sigma = lognormal_params(dist)
    assert tokens.mean() == pytest.approx(math.exp(mu + sigma * sigma / 2), rel=0.01)


def test_lognormal_by_p50_and_sigma() -> None:
    dist = Lognormal(dist="lognormal", p50_tokens=300, sigma=0.5)
    tokens = draw(dist, seed=3)
    assert np.median(tokens) == pytest.approx(300, rel=0.01)
    assert np.percentile(tokens, 99) == pytest.approx(300 * math.exp(0.5 * Z99), rel=0.02)


def test_lognormal_truncates_at_max_tokens() -> None:
    dist = Lognormal(dist="lognormal", mean_tokens=1000, sigma=1.0, max_tokens=2000)
    tokens = draw(dist, seed=4)
    assert tokens.max() == 2000
    mu, sigma = lognormal_params(dist)
    above = 0.5 * math.erfc((math.log(2000) - mu) / (sigma * math.sqrt(2)))
    assert np.mean(tokens == 2000) == pytest.approx(above, rel=0.03)  # the tail piles up
    assert tokens.mean() < 1000


def test_lognormal_draws_are_at_least_one_token() -> None:
    tokens = draw(Lognormal(dist="lognormal", mean_tokens=2, sigma=2.0), seed=5)
    assert tokens.min() == 1
    assert np.mean(tokens == 1) > 0.3


def test_uniform_covers_its_bounds_and_nothing_else() -> None:
    tokens = draw(Uniform(dist="uniform", low_tokens=10, high_tokens=20), seed=6)
    assert tokens.min() == 10 and tokens.max() == 20
    counts = np.bincount(tokens - 10, minlength=11)
    assert counts.size == 11
    np.testing.assert_allclose(counts / N, 1 / 11, rtol=0.03)
    assert mean_tokens(Uniform(dist="uniform", low_tokens=10, high_tokens=20), {}) == 15


def test_uniform_with_equal_bounds_is_fixed() -> None:
    tokens = draw(Uniform(dist="uniform", low_tokens=7, high_tokens=7), seed=7)
    assert np.all(tokens == 7)


def test_fixed_is_fixed() -> None:
    tokens = draw(Fixed(dist="fixed", tokens=42))
    assert tokens.shape == (N,) and np.all(tokens == 42)
    assert mean_tokens(Fixed(dist="fixed", tokens=42), {}) == 42


def test_empirical_draws_only_its_values_in_proportion() -> None:
    values = np.asarray([120, 35, 980, 35, 410], dtype=np.int64)
    dist = Empirical(dist="empirical", path="lengths.txt")
    tokens = draw(dist, seed=8, empirical={"lengths.txt": values})
    assert set(np.unique(tokens)) == {35, 120, 410, 980}
    assert np.mean(tokens == 35) == pytest.approx(0.4, rel=0.01)  # listed twice
    assert np.mean(tokens == 980) == pytest.approx(0.2, rel=0.02)
    assert mean_tokens(dist, {"lengths.txt": values}) == pytest.approx(values.mean())


def test_same_seed_same_draws() -> None:
    dist = Lognormal(dist="lognormal", mean_tokens=500, sigma=0.8)
    np.testing.assert_array_equal(draw(dist, seed=9), draw(dist, seed=9))
    assert not np.array_equal(draw(dist, seed=9), draw(dist, seed=10))
