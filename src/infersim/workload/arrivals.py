"""Arrival processes: Poisson, bursty (Gamma inter-arrivals with a coefficient of variation),
a 24-hour diurnal profile (non-homogeneous Poisson by thinning), and trace replay."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from infersim.scenario.workload import Bursty, Diurnal, Poisson, Trace
from infersim.workload.trace import ExternalData, replay_rate_per_s

SECONDS_PER_HOUR = 3600.0


def _renewal_times(
    draw: np.random.Generator, mean_gap_s: float, horizon_s: float, sampler: str, shape: float
) -> NDArray[np.float64]:
    """Arrival times of a renewal process in [0, horizon_s), drawn in vectorized batches."""
    expected = horizon_s / mean_gap_s
    chunks: list[NDArray[np.float64]] = []
    last = 0.0
    while last < horizon_s:
        size = int(expected - last / mean_gap_s + 6 * math.sqrt(expected + 1) + 16)
        if sampler == "exponential":
            gaps = draw.exponential(mean_gap_s, size=size)
        else:
            gaps = draw.gamma(shape, mean_gap_s / shape, size=size)
        times = last + np.cumsum(gaps)
        chunks.append(times)
        last = float(times[-1])
    times = np.concatenate(chunks)
    return times[times < horizon_s]


def poisson_times(
    process: Poisson, horizon_s: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    return _renewal_times(rng, 1.0 / process.rate_per_s, horizon_s, "exponential", 1.0)


def bursty_times(
    process: Bursty, horizon_s: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    shape = 1.0 / (process.cv * process.cv)  # Gamma with cv: shape k = 1 / cv^2
    return _renewal_times(rng, 1.0 / process.rate_per_s, horizon_s, "gamma", shape)


def diurnal_rate_per_s(process: Diurnal, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
    weights = np.asarray(process.hourly_weights, dtype=np.float64)
    hour = (t_s // SECONDS_PER_HOUR).astype(np.int64) % 24
    rates: NDArray[np.float64] = process.mean_rate_per_s * weights[hour] / weights.mean()
    return rates


def diurnal_times(
    process: Diurnal, horizon_s: float, rng: np.random.Generator, start_s: float = 0.0
) -> NDArray[np.float64]:
    """Non-homogeneous Poisson arrivals by thinning a Poisson stream at the peak rate, over
    `horizon_s` from the profile's time `start_s` on (returned from 0: `start_s` is when 0 is
    on the profile's clock; before 0, the previous day's hours)."""
    weights = np.asarray(process.hourly_weights, dtype=np.float64)
    peak = process.mean_rate_per_s * weights.max() / weights.mean()
    candidates = _renewal_times(rng, 1.0 / peak, horizon_s, "exponential", 1.0)
    keep = rng.random(len(candidates)) * peak < diurnal_rate_per_s(process, candidates + start_s)
    kept: NDArray[np.float64] = candidates[keep]
    return kept


def mean_rate_per_s(arrival: Poisson | Bursty | Diurnal | Trace, data: ExternalData) -> float:
    """The mean arrival rate of any arrival process, requests per second: the stated rate, a
    diurnal profile's mean, or a trace replay's (its window's requests per pass, sped up and
    sampled)."""
    if isinstance(arrival, Trace):
        return replay_rate_per_s(arrival, data.traces[arrival.path])
    if isinstance(arrival, Diurnal):
        return float(arrival.mean_rate_per_s)
    return float(arrival.rate_per_s)
