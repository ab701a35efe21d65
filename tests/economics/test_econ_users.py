"""Usage distributions: parameter conversions against theory, and the weighted sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from econ_fixtures import lognormal_users

from infersim.economics import LognormalUsage, ParetoUsage, sample_requests_per_user, usage_params
from infersim.economics.users import Z99, draw_population, growth_factor, simulated_count
from infersim.scenario.workload import UsageDist, UserPopulation

N = 1_000_000


def _dist(**fields: float | str) -> UsageDist:
    return UsageDist.model_validate(fields)


def _close(sampled: float, expected: float, rel: float) -> None:
    assert sampled == pytest.approx(expected, rel=rel)


def test_z99_is_the_normal_99th_percentile() -> None:
    assert 0.5 * math.erfc(-Z99 / math.sqrt(2)) == pytest.approx(0.99, abs=1e-12)


@pytest.mark.parametrize(
    ("fields", "mean", "median", "p99"),
    [
        ({"median": 100.0, "p99": 3000.0}, None, 100.0, 3000.0),
        ({"median": 20.0, "sigma": 1.0}, 20.0 * math.exp(0.5), 20.0, 20.0 * math.exp(Z99)),
        ({"mean": 50.0, "sigma": 0.8}, 50.0, 50.0 * math.exp(-0.32), None),
    ],
)
def test_lognormal_conversions_round_trip(
    fields: dict[str, float], mean: float | None, median: float, p99: float | None
) -> None:
    params = usage_params(_dist(dist="lognormal", **fields))
    assert isinstance(params, LognormalUsage)
    draws = sample_requests_per_user(_dist(dist="lognormal", **fields), N, np.random.default_rng(1))
    _close(float(np.median(draws)), median, 0.02)
    _close(params.median, median, 1e-12)
    if mean is not None:
        _close(params.mean, mean, 1e-12)
    if p99 is not None:
        _close(params.p99, p99, 1e-12)
    # the sample agrees with the parameters' own mean and p99
    _close(float(draws.mean()), params.mean, 0.03)
    _close(float(np.quantile(draws, 0.99)), params.p99, 0.03)


def test_pareto_from_minimum() -> None:
    dist = _dist(dist="pareto", alpha=1.5, minimum=10.0)
    params = usage_params(dist)
    assert params == ParetoUsage(1.5, 10.0)
    draws = sample_requests_per_user(dist, N, np.random.default_rng(2))
    assert draws.min() >= 10.0
    _close(float(np.median(draws)), 10.0 * 2 ** (1 / 1.5), 0.02)
    _close(float(np.quantile(draws, 0.99)), 10.0 * 100 ** (1 / 1.5), 0.04)


def test_pareto_from_mean() -> None:
    dist = _dist(dist="pareto", alpha=3.0, mean=60.0)
    params = usage_params(dist)
    assert params.minimum == pytest.approx(40.0)
    assert params.mean == pytest.approx(60.0)
    draws = sample_requests_per_user(dist, N, np.random.default_rng(3))
    _close(float(draws.mean()), 60.0, 0.02)
    _close(float(np.median(draws)), params.median, 0.02)


def test_growth_scales_every_draw() -> None:
    dist = _dist(dist="lognormal", median=10.0, sigma=1.0)
    base = sample_requests_per_user(dist, 1000, np.random.default_rng(4))
    grown = sample_requests_per_user(dist, 1000, np.random.default_rng(4), growth_factor(0.1, 3))
    np.testing.assert_allclose(grown, base * 1.1**3)
    assert growth_factor(0.05, 0) == 1.0
    assert growth_factor(-0.5, 2) == pytest.approx(0.25)


def test_seeded_sampling_is_reproducible_and_uses_no_global_state() -> None:
    dist = _dist(dist="pareto", alpha=2.0, minimum=1.0)
    _, keys_before, pos_before, *_ = np.random.get_state()
    first = sample_requests_per_user(dist, 100, np.random.default_rng(9))
    second = sample_requests_per_user(dist, 100, np.random.default_rng(9))
    np.testing.assert_array_equal(first, second)
    # the global generator is untouched
    _, keys_after, pos_after, *_ = np.random.get_state()
    np.testing.assert_array_equal(keys_after, keys_before)
    assert pos_after == pos_before


@pytest.mark.parametrize(
    ("active", "cap", "expected"),
    [(0.0, 10, 0), (0.4, 10, 1), (7.0, 10, 7), (1e7, 1_000_000, 1_000_000), (2.5, 100, 2)],
)
def test_simulated_count(active: float, cap: int, expected: int) -> None:
    assert simulated_count(active, cap) == expected


def test_population_weight_preserves_totals() -> None:
    population = UserPopulation.model_validate(
        lognormal_users("plus", 3_000_000, median=50.0, p99=500.0, active_share=0.5)
    )
    sample = draw_population("plus", population, np.random.default_rng(5), sample_cap=200_000)
    assert sample.requests.size == 200_000
    assert sample.weight == pytest.approx(7.5)
    assert sample.active_users == pytest.approx(1_500_000)
    params = usage_params(population.requests_per_user_per_month)
    _close(sample.total_requests, 1_500_000 * params.mean, 0.03)


def test_population_growth_in_month_m() -> None:
    population = UserPopulation.model_validate(
        lognormal_users("plus", 1000, usage_growth_per_month=0.2)
    )
    month0 = draw_population("p", population, np.random.default_rng(6), month=0)
    month4 = draw_population("p", population, np.random.default_rng(6), month=4)
    np.testing.assert_allclose(month4.requests, month0.requests * 1.2**4)


def test_zero_users_draw_nothing() -> None:
    population = UserPopulation.model_validate(lognormal_users("plus", 0))
    sample = draw_population("p", population, np.random.default_rng(7))
    assert sample.requests.size == 0
    assert sample.weight == 0.0
    assert sample.total_requests == 0.0


@pytest.mark.parametrize(
    "dist",
    [
        _dist(dist="lognormal", median=150.0, p99=4000.0),
        _dist(dist="pareto", alpha=1.5, minimum=2.0),
    ],
)
def test_kept_draws_equal_fresh_ones_and_move_the_generator_on(dist: UsageDist) -> None:
    """Drawn again from the same state (the next month, the next sample): the same users as a
    generator of numpy's would give, and the generator left where drawing leaves it."""
    params = usage_params(dist)
    for factor in (1.0, 1.08**5):
        fresh = np.random.default_rng(11)
        if isinstance(params, LognormalUsage):
            expected = fresh.lognormal(params.mu, params.sigma, size=5000)
        else:
            expected = (fresh.pareto(params.alpha, size=5000) + 1.0) * params.minimum
        if factor != 1.0:
            expected *= factor
        for _ in range(2):  # drawn, then kept
            rng = np.random.default_rng(11)
            draws = sample_requests_per_user(dist, 5000, rng, factor)
            np.testing.assert_array_equal(draws, expected)
            assert draws.flags.writeable
            assert rng.bit_generator.state == fresh.bit_generator.state
            draws *= 2.0  # the caller's copy: the kept draws stay as they were
