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

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics.gpu_cost import gpu_usd_per_hour
from infersim.perf import PerfModel, build_perf_model, slo_throughput
from infersim.scenario.deployment import Autoscale, Fleet, SchedulerPolicy, SelfHosted
from infersim.scenario.deployment import prefill_replicas as prefill_pool_replicas
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Bursty, Poisson, Trace
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.fleet import (
    autoscale_pools,
    autoscale_schedule,
    pool_lower_bounds,
    size_fleet,
    size_pools,
)
from infersim.serving.mixed import MixedPool, chooser, replica_perfs
from infersim.serving.prefix_reuse import (
    PrefixCacheReport,
    ReuseStats,
    block_reuse,
    prefix_report,
)
from infersim.serving.result import DeploymentServing, Mode, ServingResult
from infersim.serving.summary import RunSample, measured_from_s, merge_samples, summarize_run
from infersim.workload.stream import (
    RequestStream,
    build_requests,
    class_share,
    expected_class_requests,
    expected_interval_rates,
    expected_requests,
)
from infersim.workload.trace import ExternalData, class_mean_tokens, describe_replay

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
    mean_prompt_tokens: float
    mean_output_tokens: float
    """The mean lengths of the requests this deployment serves, each class by its volume."""
    prefill_perf: PerfModel
    """Disaggregated serving: the prefill replicas' model (`perf` itself unless the
    deployment gives its prefill pool a layout of its own); `perf` runs the decode pool."""
    scheduler: SchedulerPolicy
    class_ranks: tuple[int, ...] | None
    """Per scenario class, its scheduling rank on this deployment (higher first); None when
    every class it serves ranks the same (first come, first served)."""
    class_deadlines_s: tuple[float | None, ...]
    """Per scenario class, its deadline when it is a batch class, else None."""
    mixed: tuple[MixedPool, ...] = ()
    """A mixed fleet's pools, in the order given (empty otherwise); `perf` is the first's."""

    def fleet_gpus(self, replicas: int) -> int:
        """GPUs of a fleet of `replicas` replicas (a disaggregated one: its prefill pool at
        its layout, the rest at the decode pool's; a mixed one: each pool at its own)."""
        if self.mixed:
            assert replicas == sum(p.replicas for p in self.mixed), "a mixed fleet is fixed"
            return sum(p.replicas * p.perf.gpus_per_replica for p in self.mixed)
        if not self.prefill_replicas:
            return replicas * self.perf.gpus_per_replica
        prefill = min(self.prefill_replicas, replicas)
        decode = replicas - prefill
        return prefill * self.prefill_perf.gpus_per_replica + decode * self.perf.gpus_per_replica


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
        prompt = math.fsum(w * class_mean_tokens(c, "prompt_tokens", data) for c, w in classes)
        output = math.fsum(w * class_mean_tokens(c, "output_tokens", data) for c, w in classes)
        prompt, output = prompt / total, output / total
    # what a replica serves within the SLO's time per token: what sizing and autoscaling
    # provision against (the largest batch it holds would serve each token too slowly)
    slo = scenario.fleet.slo
    bound = slo.tpot_p99_s if slo.tpot_p99_s is not None else slo.tpot_p50_s
    point = slo_throughput(perf, max(1, round(prompt)), max(1, round(output)), bound)
    capacity_rps = point.output_tokens_per_s / max(output, 1.0)
    mixed = _mixed_pools(scenario, catalog, dep, round(prompt), round(output), bound)
    if mixed:  # per replica, the pools' mean: times the replicas, the fleet's capacity
        capacity_rps = math.fsum(p.replicas * p.capacity_rps for p in mixed) / sum(
            p.replicas for p in mixed
        )
    model = catalog.model_of(dep.model)
    gpu = catalog.gpu_of(dep.gpu)
    fleet = scenario.fleet
    prefill_replicas = 0
    transfer = 0.0
    prefill_perf = perf
    if fleet.disaggregated:
        prefill_replicas = prefill_pool_replicas(dep, fleet)
        if dep.prefill_pool is not None:
            prefill_perf = build_perf_model(dep.prefill_layout(), catalog)
        per_gpu = fleet.kv_transfer_gb_per_s
        if per_gpu is None:
            link = gpu.interconnect_gb_per_s or 64.0  # PCIe Gen4 x16 where none is listed
            per_gpu = link / 2 * perf.efficiency.interconnect
        # the decode replica's KV layout, sent over as many links as the smaller pool's
        # replica has GPUs
        links = min(perf.gpus_per_replica, prefill_perf.gpus_per_replica)
        transfer = perf.kv_bytes_per_token / (per_gpu * 1e9 * links)
    return DeploymentPlan(
        name=name,
        deployment=dep,
        perf=perf,
        fleet=scenario.fleet,
        horizon_s=scenario.horizon.simulated_s,
        stationary=_stationary(scenario, name),
        capacity_rps=capacity_rps,
        active_params=model.active_params_b * 1e9,
        prefill_replicas=prefill_replicas,
        kv_transfer_s_per_token=transfer,
        mean_prompt_tokens=prompt,
        mean_output_tokens=output,
        prefill_perf=prefill_perf,
        scheduler=dep.scheduler_policy,
        class_ranks=class_ranks(scenario, served),
        class_deadlines_s=tuple(c.deadline_s for c in scenario.workload.classes.values()),
        mixed=mixed,
    )


def _mixed_pools(
    scenario: Scenario,
    catalog: Catalog,
    dep: SelfHosted,
    prompt_tokens: int,
    output_tokens: int,
    tpot_bound_s: float | None,
) -> tuple[MixedPool, ...]:
    """A mixed fleet's pools, each at its own GPU's model and price (an owned GPU's at full
    load), saturating at the largest batch it serves within the SLO's time per output token;
    none without pools."""
    if dep.pools is None:
        return ()
    pools = []
    for pool in dep.pools:
        layout = dep.pool_layout(pool)
        perf = build_perf_model(layout, catalog)
        cost = layout.cost or scenario.costs.gpu
        price = gpu_usd_per_hour(cost, catalog.gpu_of(pool.gpu), 1.0).usd_per_hour
        point = slo_throughput(perf, max(1, prompt_tokens), max(1, output_tokens), tpot_bound_s)
        rps = point.output_tokens_per_s / max(output_tokens, 1)
        pools.append(MixedPool(pool.name, pool.replicas, perf, price, point.batch_sequences, rps))
    return tuple(pools)


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
    always simulated whole: thinning its replica counts would round them; a mixed fleet on
    all its replicas (its pools differ), over a window of time when its arrivals are steady."""
    limit = plan.fleet.max_simulated_requests
    peak, horizon = schedule.peak, plan.horizon_s
    k, keep, window = peak, 1.0, horizon
    whole = len(schedule.counts) > 1 or schedule.prefill_counts is not None or bool(plan.mixed)
    if expected > limit and not whole:
        least = min(peak, MIN_SAMPLED_REPLICAS)  # keep some of the load balancer's pooling
        k = max(least, min(peak, math.floor(peak * limit / expected)))
        keep = k / peak
        if expected * keep > limit and plan.stationary:
            window = horizon * limit / (expected * keep)
    elif expected > limit and plan.mixed and plan.stationary:  # every pool, a window of time
        window = horizon * limit / expected
    scale = (1.0 / keep) * (horizon / window)
    if scale == 1.0:
        detail = "all replicas, all requests"
        if expected > limit:  # an autoscaled or mixed fleet cannot be thinned
            why = "a mixed fleet" if plan.mixed else "autoscaling"
            detail += f" ({why}: over max_simulated_requests, {limit:,})"
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
    reuse_log: list[ReuseStats] | None = None,
    use_cache: bool = True,
) -> RunSample:
    """One event-loop run of a deployment, on all replicas or on a representative sample
    (`progress` hears the share of its requests that have arrived). Requests with prefix
    block hashes reuse their replica's prefix cache (`use_cache` False: no cache at all, for
    the comparison); `reuse_log` hears what the caches did."""
    stream = build_requests(
        scenario, data, sampling.window_s, rng, deployment=plan.name, keep_share=sampling.keep_share
    )
    stream = with_prefix_caching(stream, plan.deployment)
    if len(schedule.counts) > 1 or schedule.prefill_counts is not None:
        run_schedule = schedule
    else:
        run_schedule = ReplicaSchedule([0.0], [sampling.replicas])
    prefill = 0
    if plan.prefill_replicas:
        share = sampling.replicas / schedule.peak
        prefill = max(1, min(run_schedule.peak - 1, round(plan.prefill_replicas * share)))
    reuse = block_reuse(plan.perf, plan.deployment, scenario, data, stream, run_schedule.slots,
                        use_cache)  # fmt: skip
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
        plan.prefill_perf if plan.prefill_perf is not plan.perf else None,
        reuse,
        rank=None if plan.class_ranks is None else np.asarray(plan.class_ranks)[stream.class_idx],
        itl_from_s=measured_from_s(plan, stream.time_s),
        replica_perfs=replica_perfs(plan.mixed) if plan.mixed else None,
        chooser=chooser(plan) if plan.mixed else None,
    )
    if reuse is not None:
        stream = replace(stream, cached_tokens=reuse.cached)
        if reuse_log is not None:
            reuse_log.append(reuse.stats)
    return summarize_run(
        plan, stream, run, sampling.scale, sampling.mode, sampling.detail, schedule,
        sampling.window_s,
    )  # fmt: skip


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator per (replication, deployment, ...): reproducible, and
    unaffected by how many other deployments or replications there are."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def deployment_signature(scenario: Scenario, seed: int, index: int, name: str) -> str:
    """What one deployment's serving depends on, as a stable string: its own settings and
    place, the fleet, routing and catalog, the classes it serves (whole, with its share) or
    that routing might send it, and of the other classes what every deployment's per-class
    figures list (name, priority, deadline). Equal signatures give equal results."""
    classes: dict[str, object] = {}
    for class_name, cls in scenario.workload.classes.items():
        share = class_share(scenario, class_name, name)
        if share > 0 or cls.deployment is None:
            classes[class_name] = [cls.model_dump(mode="json"), share]
        else:
            classes[class_name] = [cls.priority, cls.deadline_s]
    parts = {
        "seed": seed,
        "index": index,
        "name": name,
        "deployments": list(scenario.deployments),
        "deployment": scenario.deployments[name].model_dump(mode="json"),
        "shared": scenario.model_dump(mode="json", include={"fleet", "routing", "catalog"}),
        "simulated_s": scenario.horizon.simulated_s,
        "classes": classes,
    }
    deployment = scenario.deployments[name]
    if isinstance(deployment, SelfHosted) and deployment.pools:
        # its pools' prices (routing cheapest-first) default to the scenario's GPU cost
        parts["gpu_cost"] = scenario.costs.gpu.model_dump(mode="json")
    return json.dumps(parts, sort_keys=True)


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    catalog: Catalog | None = None,
    data: ExternalData | None = None,
    progress: Progress | None = None,
    deployment_cache: dict[str, DeploymentServing] | None = None,
) -> ServingResult:
    """Simulate serving the scenario's request classes on its self-hosted deployments.

    `deployment_cache` keeps each deployment's result by `deployment_signature`: a run's
    months simulate again only the deployments whose traffic changed."""
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
        key = None
        if deployment_cache is not None:
            key = deployment_signature(scenario, seed, index, name)
            if key in deployment_cache:
                results.append(deployment_cache[key])
                continue
        plan = _plan(scenario, catalog, name, dep, data)
        if plan.prefill_replicas and scenario.fleet.mode == "size_to_slo":
            plan, schedule = _size_pools(scenario, data, plan, expected, seed, index)
        else:
            schedule = _schedule(scenario, data, plan, expected, seed, index)
        sampling = choose_sampling(plan, schedule, expected)
        reps = scenario.fleet.replications
        reuse_log: list[ReuseStats] = []
        samples = [
            sample_run(
                plan, scenario, data, schedule, sampling, _rng(seed, rep, index),
                _run_progress(progress, name, done, len(hosted), rep, reps), reuse_log,
            )
            for rep in range(reps)
        ]  # fmt: skip
        served = merge_samples(plan, samples, tuple(scenario.workload.classes))
        if reuse_log:
            served = replace(
                served, prefix_cache=_prefix_report(plan, scenario, data, schedule, sampling,
                                                    seed, index, reuse_log)
            )  # fmt: skip
        results.append(served)
        if deployment_cache is not None and key is not None:
            deployment_cache[key] = served
    if progress is not None:
        progress("done", 1.0)
    replays = tuple(
        (name, describe_replay(cls.arrival, data.traces[cls.arrival.path], horizon))
        for name, cls in scenario.workload.classes.items()
        if isinstance(cls.arrival, Trace) and cls.arrival.path in data.traces
    )
    return ServingResult(seed, horizon, tuple(results), replays)


def _prefix_report(
    plan: DeploymentPlan,
    scenario: Scenario,
    data: ExternalData,
    schedule: ReplicaSchedule,
    sampling: Sampling,
    seed: int,
    index: int,
    reuse_log: list[ReuseStats],
) -> PrefixCacheReport:
    """What the prefix caches did, with TTFT from the first replication's very requests run
    again with no prefix cache at all."""
    without = sample_run(
        plan, scenario, data, schedule, sampling, _rng(seed, 0, index), use_cache=False
    )
    measured = without.ttft_s[without.measured]
    return prefix_report(plan.perf, plan.deployment, data, scenario, reuse_log, measured)


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
        stream.trace_row,
        stream.session,
    )


def _size_pools(
    scenario: Scenario,
    data: ExternalData,
    plan: DeploymentPlan,
    expected: float,
    seed: int,
    index: int,
) -> tuple[DeploymentPlan, ReplicaSchedule]:
    """A disaggregated fleet sized to the SLO: both pools' replicas, and the plan with its
    prefill pool set."""

    def probe(prefill: int, decode: int) -> list[RunSample]:
        # the very samples the result will report: the SLO holds for what is shown
        sized = replace(plan, prefill_replicas=prefill)
        schedule = ReplicaSchedule([0.0], [prefill + decode])
        sampling = choose_sampling(sized, schedule, expected)
        return [
            sample_run(sized, scenario, data, schedule, sampling, _rng(seed, rep, index))
            for rep in range(plan.fleet.replications)
        ]

    lower = pool_lower_bounds(plan, expected, plan.mean_prompt_tokens, plan.mean_output_tokens)
    prefill, decode = size_pools(plan, lower, probe)
    return replace(plan, prefill_replicas=prefill), ReplicaSchedule([0.0], [prefill + decode])


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
    if plan.prefill_replicas:
        return autoscale_pools(plan, rates)
    return autoscale_schedule(plan, rates)


def deployment_plan(
    scenario: Scenario, catalog: Catalog, name: str, data: ExternalData
) -> DeploymentPlan:
    """What the simulation of self-hosted deployment `name` starts from: its performance
    model and the per-replica capacity that fleet sizing starts at (the capacity planner
    screens candidates with it)."""
    dep = scenario.deployments[name]
    if not isinstance(dep, SelfHosted):
        raise TypeError(f"deployment {name!r} is not self-hosted")
    return _plan(scenario, catalog, name, dep, data)
