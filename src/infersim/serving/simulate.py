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
from infersim.errors import InfersimError
from infersim.perf import PerfModel, build_perf_model, steady_state_throughput
from infersim.scenario.deployment import Fleet, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Bursty, Poisson
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.fleet import autoscale_schedule, size_fleet
from infersim.serving.result import DeploymentServing, Mode, ServingResult
from infersim.serving.summary import RunSample, merge_samples, summarize_run
from infersim.workload.lengths import mean_tokens
from infersim.workload.stream import RequestStream, build_requests
from infersim.workload.trace import ExternalData

Progress = Callable[[str, float], None]


class SimulationError(InfersimError):
    pass


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
    weight_bytes: float
    prefill_replicas: int
    """Disaggregated serving: replicas of the prefill pool (0 = every replica does both)."""
    kv_transfer_s_per_token: float


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
    classes = [c for c in scenario.workload.classes.values() if c.deployment in (None, name)]
    prompt = output = 1.0
    if classes:
        prompt = float(np.mean([mean_tokens(c.prompt_tokens, data.empirical) for c in classes]))
        output = float(np.mean([mean_tokens(c.output_tokens, data.empirical) for c in classes]))
    point = steady_state_throughput(perf, max(1, round(prompt)), max(1, round(output)))
    model = catalog.model(dep.model) if isinstance(dep.model, str) else dep.model
    gpu = catalog.gpu(dep.gpu) if isinstance(dep.gpu, str) else dep.gpu
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
        weight_bytes=perf.weight_bytes_per_gpu * perf.gpus_per_replica,
        prefill_replicas=prefill_replicas,
        kv_transfer_s_per_token=transfer,
    )


def sample_run(
    plan: DeploymentPlan,
    stream: RequestStream,
    schedule: ReplicaSchedule,
    rng: np.random.Generator,
) -> RunSample:
    """One event-loop run of a deployment, on all replicas or on a representative sample."""
    fleet = plan.fleet
    n = len(stream)
    peak = schedule.peak
    horizon = plan.horizon_s
    limit = fleet.max_simulated_requests
    k, window, keep_share = peak, horizon, 1.0
    if n > limit:
        if len(schedule.counts) == 1:
            least = 2 if plan.prefill_replicas else 1
            k = max(least, min(peak, math.floor(peak * limit / n)))
            keep_share = k / peak
            per_k = n * keep_share
            if per_k > limit and plan.stationary:
                window = horizon * limit / per_k
        else:  # autoscaling: thin traffic and every step of the schedule alike
            keep_share = limit / n
    mask = np.ones(n, dtype=bool)
    if keep_share < 1.0:
        mask &= rng.random(n) < keep_share
    if window < horizon:
        mask &= stream.time_s < window
    sub = stream.select(mask)
    if keep_share < 1.0 and len(schedule.counts) > 1:
        counts = [max(1, math.ceil(c * keep_share)) for c in schedule.counts]
        run_schedule = ReplicaSchedule(schedule.times_s, counts)
    else:
        run_schedule = ReplicaSchedule(
            schedule.times_s, [k] if len(schedule.counts) == 1 else list(schedule.counts)
        )
    prefill = 0
    if plan.prefill_replicas:
        prefill = max(1, min(run_schedule.peak - 1, round(plan.prefill_replicas * k / peak)))
    run = run_cluster(
        plan.perf,
        sub.time_s,
        sub.prompt_tokens,
        sub.output_tokens,
        sub.cached_tokens,
        run_schedule,
        fleet.load_balancer,
        plan.deployment.chunked_prefill,
        window,
        prefill,
        plan.kv_transfer_s_per_token,
    )
    scale = (1.0 / keep_share) * (horizon / window)
    mode: Mode = "des" if scale == 1.0 else "sampled"
    detail = "all replicas, all requests"
    if mode == "sampled":
        detail = (
            f"{run_schedule.peak} of {peak} replicas, {window:,.0f} of {horizon:,.0f} s; "
            f"x{scale:,.3g}"
        )
    return summarize_run(plan, sub, run, scale, mode, detail, schedule)


def simulate_deployment(
    plan: DeploymentPlan,
    streams: list[RequestStream],
    rngs: list[np.random.Generator],
    schedule: ReplicaSchedule,
) -> DeploymentServing:
    samples = [sample_run(plan, s, schedule, r) for s, r in zip(streams, rngs, strict=True)]
    return merge_samples(plan, samples, streams[0].class_names)


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
    fleet = scenario.fleet
    rng = np.random.default_rng(seed)
    replication_rngs = rng.spawn(fleet.replications)
    horizon = scenario.horizon.simulated_s
    streams = [build_requests(scenario, data, horizon, r) for r in replication_rngs]
    results: list[DeploymentServing] = []
    hosted = [
        (i, n, d)
        for i, (n, d) in enumerate(scenario.deployments.items())
        if isinstance(d, SelfHosted)
    ]
    for done, (index, name, dep) in enumerate(hosted):
        if progress is not None:
            progress(name, done / max(len(hosted), 1))
        plan = _plan(scenario, catalog, name, dep, data)
        mine = [with_prefix_caching(s.select(s.deployment_idx == index), dep) for s in streams]
        run_rngs = [r.spawn(1)[0] for r in replication_rngs]
        schedule = _schedule(scenario, plan, mine[0], run_rngs[0])
        results.append(simulate_deployment(plan, mine, run_rngs, schedule))
    if progress is not None:
        progress("done", 1.0)
    return ServingResult(seed, horizon, tuple(results))


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
    scenario: Scenario, plan: DeploymentPlan, stream: RequestStream, rng: np.random.Generator
) -> ReplicaSchedule:
    fleet = plan.fleet
    if fleet.mode == "fixed":
        return ReplicaSchedule([0.0], [plan.deployment.replicas])
    if fleet.mode == "size_to_slo":
        replicas = size_fleet(
            plan, stream, rng, lambda schedule: sample_run(plan, stream, schedule, rng)
        )
        return ReplicaSchedule([0.0], [replicas])
    return autoscale_schedule(plan, stream)
