"""What the serving simulation returns: plain frozen data, no behaviour beyond summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from infersim.perf.memory import SequenceCapSource
from infersim.serving.prefix_cache import PrefixCacheReport

Mode = Literal["des", "sampled", "fluid"]
VerdictKind = Literal["ok", "overloaded", "rejected", "slo_missed"]
"""ok; overloaded (the queue grows, or the run was stopped for it); rejected (requests that
never fit a replica's KV cache); slo_missed (a latency bound or the SLO attainment target
missed). See `serving.verdict`."""


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

    @classmethod
    def weighted_counts(
        cls, values: NDArray[np.float64], weights: NDArray[np.float64]
    ) -> Percentiles:
        """As `weighted`, for whole numbers (sequences or tokens in a batch: at most the
        replica's caps, below 2**24): by counting, not sorting."""
        if values.size == 0:
            return cls(None, None, None, None)
        return cls.of_counts(np.bincount(values.astype(np.int64), weights=weights))

    @classmethod
    def of_counts(cls, counts: NDArray[Any]) -> Percentiles:
        """Percentiles of the whole numbers 0, 1, 2... weighing `counts` each, as `weighted`
        takes them; None when they weigh nothing."""
        whole = float(counts.sum())
        if whole <= 0:
            return cls(None, None, None, None)
        cum = np.cumsum(counts) / whole
        last = int(np.flatnonzero(counts > 0)[-1])
        picks = [float(min(int(np.searchsorted(cum, q)), last)) for q in (0.5, 0.9, 0.99)]
        mean = float((np.arange(counts.size, dtype=np.float64) * counts).sum() / whole)
        return cls(picks[0], picks[1], picks[2], mean)


@dataclass(frozen=True)
class Interval:
    """A 95% confidence interval over replications (None bounds with one replication)."""

    mean: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ClassServing:
    """One request class on one deployment. Volumes are scaled to the whole fleet over the
    simulated time, averaged over replications.

    Offered figures (`requests`, `input_tokens`, `cached_input_tokens`, `output_tokens`)
    count every request the class sent, each with its full prompt and output length, served
    or not. Served figures count the requests the fleet completed (rejected ones never are):
    equal to the offered ones, exactly, when every request completed at a pace the fleet
    kept up with. When the run was overloaded they are the fleet's service rate over the
    simulated time: stopped early at a cut-off, the completions by then x (window /
    cut-off); drained after a growing queue, the completions x (window / the time the drain
    ended); never more than was offered (see `serving.summary.served_factor`).
    """

    name: str
    offered_requests: float
    completed: int
    ttft_s: Percentiles
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_s: Percentiles
    slo_met_share: float | None
    """Share of measured requests within the SLO: the latency SLO for an interactive class,
    finishing within the deadline for a batch class."""
    input_tokens: float
    """Offered: the prompts of every request."""
    cached_input_tokens: float
    """Offered: the prompt tokens found in the prefix cache."""
    output_tokens: float
    """Offered: every request's output length (generated or not)."""
    served_requests: float
    served_input_tokens: float
    served_cached_input_tokens: float
    served_output_tokens: float
    deadline_s: float | None = None
    """A batch class's deadline (None for an interactive class)."""
    deadline_missed_output_tokens: float = 0.0
    """A batch class: output tokens of its requests not completed within the deadline."""

    @property
    def requests(self) -> int:
        """Offered requests, rounded."""
        return round(self.offered_requests)


PoolRole = Literal["prefill", "decode"]


@dataclass(frozen=True)
class PoolHours:
    """A pool of a deployment's replicas, all of one layout, and the GPU-hours it paid and
    used (the pools of a fleet add up to the deployment)."""

    replicas: int
    tensor_parallel: int
    gpus_per_replica: int
    gpu_hours_scheduled: float
    gpu_hours_busy: float
    """At most `gpu_hours_scheduled`: each replica is busy at most the time it is paid."""

    @property
    def gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    @property
    def busy_share(self) -> float:
        """Utilization: busy over paid GPU-hours."""
        hours = self.gpu_hours_scheduled
        return self.gpu_hours_busy / hours if hours > 0 else 0.0


@dataclass(frozen=True)
class PoolServing(PoolHours):
    """Disaggregated serving: one pool of a deployment's fleet. The pools' GPU-hours add up
    to the deployment's; the prefill pool's tokens are the prompts it served (cache hits
    included), the decode pool's the output tokens."""

    role: PoolRole
    expert_parallel: int
    tokens_per_s: float
    """Prefill: input tokens per second served; decode: output tokens per second."""

    @property
    def tokens_per_s_per_replica(self) -> float:
        return self.tokens_per_s / self.replicas if self.replicas else 0.0

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.tokens_per_s / self.gpus if self.gpus else 0.0


@dataclass(frozen=True)
class MixedPoolServing(PoolHours):
    """Mixed fleets: one pool of a deployment's replicas, on its own GPU. The pools'
    GPU-hours and output tokens add up to the deployment's."""

    name: str
    gpu: str
    output_tokens_per_s: float
    usd_per_gpu_hour: float
    """The marginal price cheapest-first routing orders the pools by (reserved hours at 0:
    `economics.capacity.marginal_usd_per_gpu_hour`; an owned GPU's at full load; the ledger
    bills the pool at its simulated utilization)."""
    spill_over_sequences: int
    """Cheapest first: outstanding requests on a replica past which arrivals spill over."""
    spot: SpotServing | None = None
    """Its GPUs rented with spot capacity: what the reclaims of its own replicas did (their
    recompute counted here, wherever the moved requests ran; None otherwise). The pools' add
    up to the deployment's `spot`."""


@dataclass(frozen=True)
class SpotServing:
    """Spot reclaims in the engine (`serving.interruptions`), over the simulated time, scaled
    to the whole fleet and averaged over replications."""

    rate_per_replica_hour: float
    """Reclaims per scheduled replica-hour: interruptions_per_gpu_hour x GPUs per replica x
    the spot share of the fleet's GPU-hours (a mixed fleet's: the mean over its replicas, each
    at its pool's rate)."""
    replacement_lag_s: float
    """A mixed fleet's: its spot pools' lags weighted by their expected reclaims."""
    reclaims: float
    requests_recomputed: float
    """Requests in flight (prefilling or decoding) on a reclaimed replica, admitted again on
    another and recomputed there."""
    requests_moved: float
    """Every request that left a reclaimed replica (queued ones included)."""
    recomputed_tokens: float
    """KV tokens computed on reclaimed replicas that were computed again."""
    recompute_gpu_hours: float
    """Busy GPU-hours spent computing them again: their share of the prefill work, at the
    fleet's measured prefill GPU-time per token (within `gpu_hours_busy`)."""
    down_gpu_hours: float
    """GPU-hours of replicas between a reclaim and their replacement serving (paid: the
    replacement is billed from its launch)."""


@dataclass(frozen=True)
class KvTransfer:
    """Disaggregated serving: KV caches moved from the prefill to the decode pool, over the
    simulated time (scaled to the whole fleet)."""

    transfers: float
    """Requests handed over."""
    bytes: float
    seconds_per_transfer: float
    """Mean time one request's KV cache takes to move (its context at the hand-over over the
    transfer bandwidth)."""


@dataclass(frozen=True)
class DeploymentServing:
    """One deployment's serving figures, scaled to its whole fleet and simulated time."""

    name: str
    model: str
    gpu: str
    """The GPU id; a mixed fleet's pools' ids joined by '+'."""
    gpus_per_replica: int
    """A mixed fleet's: its first pool's (`mixed_pools` gives each pool's)."""
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
    """Offered requests (fsum of the classes' `offered_requests`)."""
    completed: float
    """Requests completed in the simulation (scaled; a run stopped early counts to then)."""
    rejected: float
    preemptions: float
    recomputed_tokens: float
    input_tokens: float
    """Offered figures, as in `ClassServing`, and exactly the fsum of the classes' ones."""
    cached_input_tokens: float
    output_tokens: float
    served_requests: float
    """Served figures, as in `ClassServing`, and exactly the fsum of the classes' ones."""
    served_input_tokens: float
    served_cached_input_tokens: float
    served_output_tokens: float
    scheduler: str
    """The replicas' scheduler policy (`scenario.deployment.SchedulerPolicy`)."""
    priority_ranks: int
    """Scheduling ranks among the classes served (1: first come, first served)."""
    ttft_s: Percentiles
    """Latencies (TTFT, TPOT, E2E, queue) and the SLO attainment are over the interactive
    classes' measured requests (every class's when none is a batch class)."""
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_s: Percentiles
    slo_met_share: float | None
    """Share of measured requests within the SLO (`serving.verdict.slo_met`): the attainment."""
    itl_s: Percentiles
    """Inter-token latency as vLLM's benchmark_serving defines it: the gap between
    consecutive tokens of a request, weighted over every token after a request's first, of
    every class, emitted after the warm-up."""
    decode_batch_sequences: Percentiles
    """Sequences decoding per iteration, time-weighted over the iterations that decode
    (prefill-only iterations are not counted)."""
    decode_batch_sequences_per_iteration: Percentiles
    """The same, each decoding iteration weighing one."""
    prefill_batch_tokens: Percentiles
    """Prompt tokens computed per iteration, over the iterations that prefill."""
    kv_occupancy: Percentiles
    busy_share: float
    """gpu_hours_busy / gpu_hours_scheduled, in [0, 1]."""
    mfu: float
    mbu: float
    gpu_hours_provisioned: float
    """Paid while the simulation ran, including the drain after the last arrival."""
    gpu_hours_scheduled: float
    """The fleet's GPU-hours over the simulated time alone: what a steady month bills."""
    gpu_hours_busy: float
    """GPU-hours computing over the simulated time: each replica counts at most the time it
    is paid for, so never more than `gpu_hours_scheduled` (nor `gpu_hours_provisioned`)."""
    prefill_share: float
    """Share of busy GPU time spent on prefill (prompt) work, for cost attribution."""
    input_tokens_per_s: float
    output_tokens_per_s: float
    capacity_requests_per_s: float
    """Steady-state capacity of one replica at this workload's mean lengths, at the largest
    batch within the SLO's time per output token (if it has one)."""
    offered_requests_per_s: float
    verdict: str | None
    """None when ok; else the problems in words, the kind's first."""
    verdict_kind: VerdictKind
    load_factor: float
    """Offered requests/s over what the fleet serves: its measured service rate when
    overloaded (offered / served), else the steady-state capacity of its replicas."""
    max_batch_sequences: int
    """The replica's cap on running sequences."""
    max_batch_sequences_source: SequenceCapSource
    """'scenario', or the limit that binds the derived cap: 'kv_blocks' or 'token_budget'."""
    deadline_met_share: float | None = None
    """Share of the batch classes' measured requests completed within their deadline (None
    without a batch class)."""
    batch_extra_gpu_hours: float = 0.0
    """GPU-hours more it would take, at this fleet's busy GPU-hours per served output token,
    to serve the batch output that missed its deadline (0 when it all fit)."""
    batch_slowdown_max: float | None = None
    """The rule batch work ran under beside interactive work: the share by which it may
    lengthen an iteration (`scheduler.batch_slowdown_max`), or None: no cap."""
    batch_preemptions: float = 0.0
    """Of `preemptions`, those of batch classes' sequences."""
    batch_recomputed_tokens: float = 0.0
    """Of `recomputed_tokens`, those of batch classes' sequences."""
    intervals: dict[str, Interval] = field(default_factory=dict)
    classes: tuple[ClassServing, ...] = ()
    pools: tuple[PoolServing, ...] = ()
    """Disaggregated serving: the prefill and the decode pool (empty otherwise)."""
    kv_transfer: KvTransfer | None = None
    prefix_cache: PrefixCacheReport | None = None
    """Prefix reuse from block hashes (None without hashed requests or prefix caching)."""
    mixed_pools: tuple[MixedPoolServing, ...] = ()
    """Mixed fleets: the pools of GPU types or regions (empty otherwise)."""
    spot: SpotServing | None = None
    """Rented GPUs with spot capacity: what the reclaims did (None otherwise)."""

    @property
    def unserved_requests(self) -> float:
        """Offered minus served (0 when everything was served)."""
        return self.requests - self.served_requests

    @property
    def unserved_input_tokens(self) -> float:
        return self.input_tokens - self.served_input_tokens

    @property
    def unserved_output_tokens(self) -> float:
        return self.output_tokens - self.served_output_tokens

    @property
    def batch_output_tokens(self) -> float:
        """Offered output tokens of the batch classes (exactly their rows' sum)."""
        return math.fsum(c.output_tokens for c in self.classes if c.deadline_s is not None)

    @property
    def batch_served_output_tokens(self) -> float:
        """The batch work the fleet absorbed: its batch classes' served output tokens."""
        return math.fsum(c.served_output_tokens for c in self.classes if c.deadline_s is not None)

    @property
    def output_tokens_per_gpu_hour(self) -> float:
        """Served output tokens per GPU-hour of the scheduled fleet (what a month bills)."""
        hours = self.gpu_hours_scheduled
        return self.served_output_tokens / hours if hours > 0 else 0.0


@dataclass(frozen=True)
class ServingResult:
    seed: int
    horizon_s: float
    deployments: tuple[DeploymentServing, ...]
    replays: tuple[tuple[str, str], ...] = ()
    """(class, what its trace replay did: rows read, sorted or dropped, window, speed, loops,
    sample, requests), for each class that replays a trace."""

    def deployment(self, name: str) -> DeploymentServing:
        for item in self.deployments:
            if item.name == name:
                return item
        raise KeyError(name)
