"""`simulate(scenario, seed)`: the serving simulation of every self-hosted deployment.

Reads and writes no files: trace and empirical data come in as `ExternalData`. All randomness
comes from one `numpy.random.Generator` seeded by the scenario seed; each replication, class
and sampling step draws from its own spawned child, so the same seed gives the same result.

Scale: a run simulates every request when there are at most `fleet.max_simulated_requests`
of them ("des"). Above that it simulates a representative sample: k of the R exchangeable
replicas with 1/R of the traffic each, and for steady arrivals a window of the horizon, then
scales tokens and GPU-hours up ("sampled"). The result says which mode ran.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from infersim.catalog.load import Catalog
from infersim.perf import PerfModel, build_perf_model, slo_throughput
from infersim.scenario.deployment import Autoscale, Fleet, SchedulerPolicy, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Bursty, Poisson
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.fleet import autoscale_schedule, size_fleet
from infersim.serving.result import DeploymentServing, Mode, ServingResult
from infersim.serving.summary import RunSample, measured_from_s, merge_samples, summarize_run
from infersim.workload.lengths import mean_tokens
from infersim.workload.stream import (
    RequestStream,
    build_requests,
    expected_class_requests,
    expected_interval_rates,
    expected_requests,
)
from infersim.workload.trace import ExternalData

Progress = Callable[[str, float], None]

#: Fewest replicas a sampled run keeps: one replica fed 1/R of the traffic loses the load
#: balancer's pooling and overstates the latency tail.
MIN_SAMPLED_REPLICAS = 4


@dataclass(frozen=True)
class DeploymentPlan:
    """What one deployment's simulation needs besides the requests."""

    name: str
    deployment: SelfHosted
    perf: PerfModel
    fleet: Fleet
    horizon_s: float
    stationary: bool
    capacity_rps: float
    active_params: float
    prefill_replicas: int
    """Disaggregated serving: replicas of the prefill pool (0 = every replica does both)."""
    kv_transfer_s_per_token: float
    scheduler: SchedulerPolicy
    class_ranks: tuple[int, ...] | None
    """Per scenario class, its scheduling rank on this deployment (higher first); None when
    every class it serves ranks the same (first come, first served)."""
    class_deadlines_s: tuple[float | None, ...]
    """Per scenario class, its deadline when it is a batch class, else None."""


def class_ranks(scenario: Scenario, served: list[str]) -> tuple[int, ...] | None:
    """Scheduling ranks per class: batch classes (with a deadline) below every interactive
    one, then by `priority`; dense over the classes `served`. None when they all rank alike."""
    classes = scenario.workload.classes

    def key(name: str) -> tuple[bool, int]:
        cls = classes[name]
        return (cls.deadline_s is None, cls.priority)

    levels = sorted({key(name) for name in served})
    if len(levels) <= 1:
        return None
    dense = {level: index for index, level in enumerate(levels)}
    return tuple(dense.get(key(name), 0) for name in classes)


def _stationary(scenario: Scenario, name: str) -> bool:
    """Whether every class served by `name` has time-invariant arrivals."""
    for cls in scenario.workload.classes.values():
        if cls.deployment in (None, name) and not isinstance(cls.arrival, Poisson | Bursty):
            return False
    return True


def _plan(
    scenario: Scenario, catalog: Catalog, name: str, dep: SelfHosted, data: ExternalData
) -> DeploymentPlan:
    perf = build_perf_model(dep, catalog)
    # the mean lengths of the requests this deployment serves, each class by its volume
    weights = expected_class_requests(scenario, data, scenario.horizon.simulated_s, name)
    served = [c for c, w in weights.items() if w > 0]
    classes = [(scenario.workload.classes[c], w) for c, w in weights.items() if w > 0]
    prompt = output = 1.0
    if classes:
        total = math.fsum(w for _, w in classes)
        prompt = math.fsum(w * mean_tokens(c.prompt_tokens, data.empirical) for c, w in classes)
        output = math.fsum(w * mean_tokens(c.output_tokens, data.empirical) for c, w in classes)
        prompt, output = prompt / total, output / total
    # what a replica serves within the SLO's time per token: what sizing and autoscaling
    # provision against (the largest batch it holds would serve each token too slowly)
    slo = scenario.fleet.slo
    bound = slo.tpot_p99_s if slo.tpot_p99_s is not None else slo.tpot_p50_s
    point = slo_throughput(perf, max(1, round(prompt)), max(1, round(output)), bound)
    model = catalog.model_of(dep.model)
    gpu = catalog.gpu_of(dep.gpu)
    fleet = scenario.fleet
    prefill_replicas = 0
    transfer = 0.0
    if fleet.disaggregated:
        prefill_replicas = fleet.prefill_replicas or max(1, dep.replicas // 2)
        per_gpu = fleet.kv_transfer_gb_per_s
        if per_gpu is None:
            link = gpu.interconnect_gb_per_s or 64.0  # PCIe Gen4 x16 where none is listed
            per_gpu = link / 2 * perf.efficiency.interconnect
        transfer = perf.kv_bytes_per_token / (per_gpu * 1e9 * perf.gpus_per_replica)
    return DeploymentPlan(
        name=name,
        deployment=dep,
        perf=perf,
        fleet=scenario.fleet,
        horizon_s=scenario.horizon.simulated_s,
        stationary=_stationary(scenario, name),
        capacity_rps=point.output_tokens_per_s / max(output, 1.0),
        active_params=model.active_params_b * 1e9,
        prefill_replicas=prefill_replicas,
        kv_transfer_s_per_token=transfer,
        scheduler=dep.scheduler_policy,
        class_ranks=class_ranks(scenario, served),
        class_deadlines_s=tuple(c.deadline_s for c in scenario.workload.classes.values()),
    )


@dataclass(frozen=True)
class Sampling:
    """Which part of a deployment's traffic a run simulates, and how it scales up."""

    replicas: int
    keep_share: float
    window_s: float
    scale: float
    detail: str

    @property
    def mode(self) -> Mode:
        return "des" if self.scale == 1.0 else "sampled"


def choose_sampling(plan: DeploymentPlan, schedule: ReplicaSchedule, expected: float) -> Sampling:
    """Everything when the expected requests fit the limit; else k of R replicas with k/R of
    the traffic, and for steady arrivals a window of the horizon. An autoscaled fleet is
    always simulated whole: thinning its replica counts would round them."""
    limit = plan.fleet.max_simulated_requests
    peak, horizon = schedule.peak, plan.horizon_s
    k, keep, window = peak, 1.0, horizon
    if expected > limit and len(schedule.counts) == 1:
        least = min(peak, MIN_SAMPLED_REPLICAS)  # keep some of the load balancer's pooling
        k = max(least, min(peak, math.floor(peak * limit / expected)))
        keep = k / peak
        if expected * keep > limit and plan.stationary:
            window = horizon * limit / (expected * keep)
    scale = (1.0 / keep) * (horizon / window)
    if scale == 1.0:
        detail = "all replicas, all requests"
        if expected > limit:  # an autoscaled fleet cannot be thinned without distorting it
            detail += f" (autoscaling: over max_simulated_requests, {limit:,})"
        return Sampling(peak, 1.0, horizon, 1.0, detail)
    detail = f"{k} of {peak} replicas, {window:,.0f} of {horizon:,.0f} s; x{scale:,.3g}"
    return Sampling(k, keep, window, scale, detail)


def sample_run(
    plan: DeploymentPlan,
    scenario: Scenario,
    data: ExternalData,
    schedule: ReplicaSchedule,
    sampling: Sampling,
    rng: np.random.Generator,
    progress: Callable[[float], None] | None = None,
) -> RunSample:
    """One event-loop run of a deployment, on all replicas or on a representative sample
    (`progress` hears the share of its requests that have arrived)."""
    stream = build_requests(
        scenario, data, sampling.window_s, rng, deployment=plan.name, keep_share=sampling.keep_share
    )
    stream = with_prefix_caching(stream, plan.deployment)
    if len(schedule.counts) > 1:
        run_schedule = schedule
    else:
        run_schedule = ReplicaSchedule([0.0], [sampling.replicas])
    prefill = 0
    if plan.prefill_replicas:
        share = sampling.replicas / schedule.peak
        prefill = max(1, min(run_schedule.peak - 1, round(plan.prefill_replicas * share)))
    run = run_cluster(
        plan.perf,
        stream.time_s,
        stream.prompt_tokens,
        stream.output_tokens,
        stream.cached_tokens,
        run_schedule,
        plan.fleet.load_balancer,
        plan.scheduler is SchedulerPolicy.CHUNKED_DECODE_FIRST,
        sampling.window_s,
        prefill,
        plan.kv_transfer_s_per_token,
        progress,
        rank=None if plan.class_ranks is None else np.asarray(plan.class_ranks)[stream.class_idx],
        itl_from_s=measured_from_s(plan, stream.time_s),
    )
    return summarize_run(
        plan, stream, run, sampling.scale, sampling.mode, sampling.detail, schedule,
        sampling.window_s,
    )  # fmt: skip


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator per (replication, deployment, ...): reproducible, and
    unaffected by how many other deployments or replications there are."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    catalog: Catalog | None = None,
    data: ExternalData | None = None,
    progress: Progress | None = None,
) -> ServingResult:
    """Simulate serving the scenario's request classes on its self-hosted deployments."""
    if catalog is None:
        from infersim.catalog.load import load_builtin

        catalog = load_builtin()
    data = data or ExternalData()
    seed = scenario.seed if seed is None else seed
    horizon = scenario.horizon.simulated_s
    results: list[DeploymentServing] = []
    hosted = [
        (index, name, dep)
        for index, (name, dep) in enumerate(scenario.deployments.items())
        if isinstance(dep, SelfHosted)
    ]
    for done, (index, name, dep) in enumerate(hosted):
        if progress is not None:
            progress(name, done / max(len(hosted), 1))
        expected = expected_requests(scenario, data, horizon, name)
        if expected <= 0:
            continue  # nothing routed here: no serving figures (economics may still use it)
        plan = _plan(scenario, catalog, name, dep, data)
        schedule = _schedule(scenario, data, plan, expected, seed, index)
        sampling = choose_sampling(plan, schedule, expected)
        reps = scenario.fleet.replications
        samples = [
            sample_run(
                plan, scenario, data, schedule, sampling, _rng(seed, rep, index),
                _run_progress(progress, name, done, len(hosted), rep, reps),
            )
            for rep in range(reps)
        ]  # fmt: skip
        results.append(merge_samples(plan, samples, tuple(scenario.workload.classes)))
    if progress is not None:
        progress("done", 1.0)
    return ServingResult(seed, horizon, tuple(results))


def _run_progress(
    progress: Progress | None, name: str, done: int, deployments: int, rep: int, reps: int
) -> Callable[[float], None] | None:
    """One run's share of requests arrived, as the whole simulation's share done."""
    if progress is None:
        return None
    outer = progress

    def report(fraction: float) -> None:
        outer(name, (done + (rep + fraction) / reps) / max(deployments, 1))

    return report


def with_prefix_caching(stream: RequestStream, dep: SelfHosted) -> RequestStream:
    """The cached prompt tokens this deployment actually skips: none without prefix caching;
    the class's share where it gives one, else the deployment's `cached_share`."""
    if dep.prefix_caching is None:
        cached = np.zeros_like(stream.cached_tokens)
    else:
        default = np.floor(stream.prompt_tokens * dep.prefix_caching.cached_share)
        cached = np.where(stream.cached_tokens > 0, stream.cached_tokens, default).astype(np.int64)
    return RequestStream(
        stream.time_s,
        stream.prompt_tokens,
        stream.output_tokens,
        cached,
        stream.class_idx,
        stream.deployment_idx,
        stream.class_names,
        stream.deployment_names,
    )


def _schedule(
    scenario: Scenario,
    data: ExternalData,
    plan: DeploymentPlan,
    expected: float,
    seed: int,
    index: int,
) -> ReplicaSchedule:
    fleet = plan.fleet
    if fleet.mode == "fixed":
        return ReplicaSchedule([0.0], [plan.deployment.replicas])
    if fleet.mode == "size_to_slo":

        def probe(schedule: ReplicaSchedule) -> list[RunSample]:
            # the very samples the result will report: the SLO holds for what is shown
            sampling = choose_sampling(plan, schedule, expected)
            return [
                sample_run(plan, scenario, data, schedule, sampling, _rng(seed, rep, index))
                for rep in range(fleet.replications)
            ]

        return ReplicaSchedule([0.0], [size_fleet(plan, expected, probe)])
    auto = fleet.autoscale or Autoscale()
    rates = expected_interval_rates(scenario, data, plan.horizon_s, auto.interval_s, plan.name)
    return autoscale_schedule(plan, rates)
