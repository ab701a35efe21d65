"""What the serving simulation returns: plain frozen data, no behaviour beyond summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Mode = Literal["des", "sampled", "fluid"]


@dataclass(frozen=True)
class Percentiles:
    """Seconds (or any unit) at p50/p90/p99, and the mean; None when there is no sample."""

    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None

    @classmethod
    def of(cls, values: NDArray[np.float64]) -> Percentiles:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return cls(None, None, None, None)
        p50, p90, p99 = np.percentile(finite, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(finite.mean()))

    @classmethod
    def weighted(cls, values: NDArray[np.float64], weights: NDArray[np.float64]) -> Percentiles:
        """Time-weighted percentiles (e.g. the batch size seen over time)."""
        if values.size == 0 or weights.sum() <= 0:
            return cls(None, None, None, None)
        order = np.argsort(values, kind="stable")
        v, w = values[order], weights[order]
        cum = np.cumsum(w) / w.sum()
        picks = [float(v[min(int(np.searchsorted(cum, q)), len(v) - 1)]) for q in (0.5, 0.9, 0.99)]
        return cls(picks[0], picks[1], picks[2], float(np.average(v, weights=w)))


@dataclass(frozen=True)
class Interval:
    """A 95% confidence interval over replications (None bounds with one replication)."""

    mean: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ClassServing:
    name: str
    requests: int
    completed: int
    ttft_s: Percentiles
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_s: Percentiles
    slo_met_share: float | None
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float


@dataclass(frozen=True)
class DeploymentServing:
    """One deployment's serving figures, scaled to its whole fleet and simulated time."""

    name: str
    model: str
    gpu: str
    gpus_per_replica: int
    replicas: float
    """Mean replicas provisioned over the simulated time."""
    peak_replicas: int
    mode: Mode
    mode_detail: str
    scale: float
    """Each simulated request stands for this many (sampled replicas and time)."""
    simulated_requests: int
    events: int
    simulated_s: float
    requests: float
    completed: float
    rejected: float
    preemptions: float
    recomputed_tokens: float
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_s: Percentiles
    slo_met_share: float | None
    batch_size: Percentiles
    kv_occupancy: Percentiles
    busy_share: float
    mfu: float
    mbu: float
    gpu_hours_provisioned: float
    """Paid while the simulation ran, including the drain after the last arrival."""
    gpu_hours_scheduled: float
    """The fleet's GPU-hours over the simulated time alone: what a steady month bills."""
    gpu_hours_busy: float
    prefill_share: float
    """Share of busy GPU time spent on prefill (prompt) work, for cost attribution."""
    input_tokens_per_s: float
    output_tokens_per_s: float
    capacity_requests_per_s: float
    """Steady-state capacity of one replica at this workload's mean lengths."""
    offered_requests_per_s: float
    verdict: str | None
    intervals: dict[str, Interval] = field(default_factory=dict)
    classes: tuple[ClassServing, ...] = ()

    @property
    def output_tokens_per_gpu_hour(self) -> float:
        hours = self.gpu_hours_provisioned
        return self.output_tokens / hours if hours > 0 else 0.0


@dataclass(frozen=True)
class ServingResult:
    seed: int
    horizon_s: float
    deployments: tuple[DeploymentServing, ...]

    def deployment(self, name: str) -> DeploymentServing:
        for item in self.deployments:
            if item.name == name:
                return item
        raise KeyError(name)
