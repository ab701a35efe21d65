"""Arrival processes against their definitions, over seeded draws of about a million
arrivals: Poisson counts and exponential gaps, Gamma gaps with a stated coefficient of
variation, and a diurnal profile that follows its hourly weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infersim.scenario.workload import Bursty, Diurnal, Poisson
from infersim.workload.arrivals import (
    bursty_times,
    diurnal_rate_per_s,
    diurnal_times,
    poisson_times,
)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_arrivals_in_horizon(times: np.ndarray, horizon_s: float) -> None:
    assert times.dtype == np.float64
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0 and times[-1] < horizon_s


@pytest.mark.parametrize("seed", [1, 2])
def test_poisson_count_and_exponential_gaps(seed: int) -> None:
    rate, horizon = 50.0, 20_000.0
    times = poisson_times(Poisson(process="poisson", rate_per_s=rate), horizon, rng(seed))
    assert_arrivals_in_horizon(times, horizon)
    expected = rate * horizon
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.005)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.01)
    # Kolmogorov-Smirnov distance to the exponential CDF (critical ~0.0014 at n = 1e6)
    ordered = np.sort(gaps)
    empirical = np.arange(1, len(ordered) + 1) / len(ordered)
    assert np.max(np.abs(empirical - (1 - np.exp(-rate * ordered)))) < 0.003


def test_poisson_counts_in_windows_have_variance_equal_to_mean() -> None:
    times = poisson_times(Poisson(process="poisson", rate_per_s=20), 50_000, rng(3))
    counts = np.bincount(times.astype(np.int64), minlength=50_000)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_bursty_gaps_have_the_stated_coefficient_of_variation(cv: float) -> None:
    rate, horizon = 50.0, 20_000.0
    process = Bursty(process="bursty", rate_per_s=rate, cv=cv)
    times = bursty_times(process, horizon, rng(4))
    assert_arrivals_in_horizon(times, horizon)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.01 * max(cv, 1))
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.03)
    assert len(times) == pytest.approx(rate * horizon, rel=0.02)


def test_bursty_with_cv_above_one_clusters_arrivals() -> None:
    horizon = 50_000.0
    smooth = bursty_times(Bursty(process="bursty", rate_per_s=20, cv=0.5), horizon, rng(5))
    bursty = bursty_times(Bursty(process="bursty", rate_per_s=20, cv=3), horizon, rng(5))

    def dispersion(times: np.ndarray) -> float:
        counts = np.bincount(times.astype(np.int64), minlength=int(horizon))
        return float(counts.var() / counts.mean())

    assert dispersion(smooth) < 0.5 < 2 < dispersion(bursty)


WEIGHTS = [float(h + 1) for h in range(24)]


def test_diurnal_hourly_rates_follow_the_weights() -> None:
    process = Diurnal(process="diurnal", mean_rate_per_s=20, hourly_weights=WEIGHTS)
    days = 2
    times = diurnal_times(process, days * 86_400, rng(6))
    assert_arrivals_in_horizon(times, days * 86_400)
    per_hour = np.bincount((times // 3600).astype(np.int64) % 24, minlength=24) / (days * 3600)
    expected = 20 * np.asarray(WEIGHTS) / np.mean(WEIGHTS)
    np.testing.assert_allclose(per_hour, expected, rtol=0.04)
    assert len(times) / (days * 86_400) == pytest.approx(20, rel=0.01)


def test_diurnal_hour_with_zero_weight_gets_no_arrivals() -> None:
    weights = [0.0] * 6 + [1.0] * 18
    process = Diurnal(process="diurnal", mean_rate_per_s=5, hourly_weights=weights)
    times = diurnal_times(process, 86_400, rng(7))
    assert times.size > 0
    assert times.min() >= 6 * 3600


def test_diurnal_rate_is_the_weighted_mean_rate() -> None:
    process = Diurnal(process="diurnal", mean_rate_per_s=12, hourly_weights=WEIGHTS)
    hours = np.arange(48) * 3600.0 + 1800
    rates = diurnal_rate_per_s(process, hours)
    np.testing.assert_allclose(rates[:24], rates[24:])  # the profile repeats each day
    assert rates[:24].mean() == pytest.approx(12)
    assert rates[23] / rates[0] == pytest.approx(24)


def test_same_seed_same_arrivals_other_seed_other() -> None:
    process = Bursty(process="bursty", rate_per_s=10, cv=2)
    first = bursty_times(process, 1000, rng(8))
    np.testing.assert_array_equal(first, bursty_times(process, 1000, rng(8)))
    other = bursty_times(process, 1000, rng(9))
    assert len(first) != len(other) or not np.array_equal(first, other)
