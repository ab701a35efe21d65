"""What `infersim run` would reject, found before anything runs.

The schema and the references (`load`, `references`) look at the scenario alone. These
checks look at what the run would make of it, with the run's own code rather than a copy:

- each self-hosted deployment's performance model is built (`build_perf_model`: the parallel
  split divides the heads and experts, of the draft model too; the weights fit) and its
  GPU-hour priced (`gpu_usd_per_hour`: a rental quote or purchase price exists);
- API prices resolve to an input and an output price (`api_prices`);
- trace and empirical files are read and parsed (`workload.trace`);
- the longest request sent to each self-hosted deployment (for a lognormal without max_tokens,
  its p99) fits its model's context and, whole (prompt and output), its KV cache: the engine
  would reject it otherwise;
- every `expect:` metric names an output the run will have (`checks.metric_paths`).

This module sits above the engine on purpose: `load_scenario` imports it lazily (the engine
imports the scenario package).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from infersim.catalog.load import Catalog
from infersim.catalog.types import GpuSpec, ModelArch
from infersim.checks.metric_paths import unknown_metrics
from infersim.economics.api_prices import api_token_cost, billed_as_batch, product_prices
from infersim.economics.capacity import capacity_bill
from infersim.economics.energy import gpu_power_w
from infersim.economics.gpu_cost import gpu_usd_per_hour
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.economics.routing import deployment_mix
from infersim.errors import ConfigError, InfersimError, PathKey, Problem
from infersim.perf import build_perf_model
from infersim.perf.errors import DoesNotFit, InvalidDeploymentError
from infersim.perf.model import PerfModel
from infersim.routing import class_share
from infersim.scenario.deployment import ApiModel, RentedGpu, SelfHosted
from infersim.scenario.load import LoadedScenario
from infersim.scenario.model import Scenario
from infersim.scenario.references import ProblemLog
from infersim.scenario.workload import (
    SESSION_BLOCK_TOKENS,
    Empirical,
    Fixed,
    Lognormal,
    TokenDist,
    Trace,
    Uniform,
)
from infersim.workload.external import ExternalData
from infersim.workload.lengths import Z99, lognormal_params

if TYPE_CHECKING:  # the file readers (and numpy) are imported when a scenario names a file
    import numpy as np
    from numpy.typing import NDArray

    from infersim.workload.trace import TraceData

#: Busy share at which a GPU-hour is priced to check that it can be (any value in [0, 1]).
PROBE_BUSY_SHARE = 0.5


@dataclass
class DataFiles:
    """Trace and empirical files read while checking a file and its variants (read once)."""

    traces: dict[tuple[Path, str], TraceData | ConfigError] = field(default_factory=dict)
    empirical: dict[tuple[Path, str | None], NDArray[np.int64] | ConfigError] = field(
        default_factory=dict
    )

    def trace(self, path: Path, arrival: Trace) -> TraceData | ConfigError:
        from infersim.workload.trace import check_label, read_trace

        how = arrival.model_dump_json(include={"format", "columns", "hash_block_tokens"})
        if (path, how) not in self.traces:
            try:
                self.traces[path, how] = read_trace(path, arrival.format, arrival)
            except ConfigError as exc:
                self.traces[path, how] = exc
        got = self.traces[path, how]
        if not isinstance(got, ConfigError):
            try:
                check_label(path, arrival, got)
            except ConfigError as exc:
                return exc
        return got

    def lengths(self, path: Path, column: str | None) -> NDArray[np.int64] | ConfigError:
        from infersim.workload.trace import read_empirical

        if (path, column) not in self.empirical:
            try:
                self.empirical[path, column] = read_empirical(path, column)
            except ConfigError as exc:
                self.empirical[path, column] = exc
        return self.empirical[path, column]


@dataclass(frozen=True)
class Request:
    """The longest request some traffic sends: where it is written and how long it gets."""

    source: str
    """Who sends it: "class 'chat'", "population 'free'"."""
    prompt_path: PathKey
    prompt_tokens: int
    output_tokens: int
    total_tokens: int
    """Prompt and output of one request (a trace's longest row, else the two maxima)."""
    prompt_note: str = ""
    """How the prompt length was found, when not plainly: 'the p99 of a lognormal ...'."""
    output_note: str = ""


def preflight_problems(loaded: LoadedScenario, files: DataFiles | None = None) -> list[Problem]:
    """Every problem the run of this (schema- and reference-valid) scenario would meet."""
    scenario, catalog = loaded.scenario, loaded.catalog
    report = ProblemLog(loaded.document.locate)
    data = _read_data(scenario, loaded.base_dir, files or DataFiles(), report)
    for name, dep in scenario.deployments.items():
        here: PathKey = ("deployments", name)
        if isinstance(dep, SelfHosted):
            _self_hosted(report, scenario, catalog, name, dep, data)
        elif isinstance(dep, ApiModel):
            try:
                api_token_cost(dep, name, catalog)
            except InfersimError as exc:
                report.add((*here, "list_price"), _without_owner(exc, here))
            if dep.batch_discount is not None and not _batch_classes_on(scenario, name):
                report.add(
                    (*here, "batch_discount"),
                    f"given {dep.batch_discount:g}, but no batch class (one with deadline_s or "
                    "batch_api: true) is served here, so it prices nothing: remove it, or send "
                    "a batch class here",
                )
    for name, product in scenario.pricing.api.items():
        here = ("pricing", "api", name)
        try:
            product_prices(product, name, catalog)
        except InfersimError as exc:
            report.add((*here, "list_price"), _without_owner(exc, here))
    _api_only_deadlines(report, scenario, catalog)
    for index, message in unknown_metrics(scenario):
        report.add(("expect", index, "metric"), message)
    _prefix_reuse(report, scenario, data)
    return report.problems


def _api_only_deadlines(report: ProblemLog, scenario: Scenario, catalog: Catalog) -> None:
    """A `deadline_s` on a class that reaches only API deployments is not scheduled by us: it
    acts only through a batch tier (the deployment's, or an API product's selling there).
    Refuse one where there is none: it would change nothing."""
    for name, cls in scenario.workload.classes.items():
        if cls.deadline_s is None or cls.batch_api:
            continue
        reached = [d for d in scenario.deployments if class_share(scenario, name, d) > 0]
        if not reached or any(not isinstance(scenario.deployments[d], ApiModel) for d in reached):
            continue
        if any(_has_batch_tier(scenario, catalog, d) for d in reached):
            continue
        report.add(
            ("workload", "classes", name, "deadline_s"),
            f"deadline_s {cls.deadline_s:g} given, but the class reaches only API deployments "
            f"({', '.join(reached)}), which schedule their own requests, and neither they nor "
            "an API product selling there has a batch tier, so it would change nothing: give "
            "the deployment a batch_discount, or remove it",
        )


def _has_batch_tier(scenario: Scenario, catalog: Catalog, deployment: str) -> bool:
    """Whether tokens of batch classes on this API deployment cost or earn a batch price."""
    dep = scenario.deployments[deployment]
    assert isinstance(dep, ApiModel)
    try:
        tiers = [api_token_cost(dep, deployment, catalog).batch_source]
        tiers += [
            product_prices(p, key, catalog).batch.source
            for key, p in scenario.pricing.api.items()
            if p.deployment == deployment
        ]
    except InfersimError:
        return True  # a price that does not resolve is reported on its own
    return any(t not in (None, "none") for t in tiers)


def _batch_classes_on(scenario: Scenario, deployment: str) -> list[str]:
    """The batch-billed request classes (deadline_s or batch_api) sent to `deployment`."""
    return [
        name
        for name, cls in scenario.workload.classes.items()
        if billed_as_batch(cls) and class_share(scenario, name, deployment) > 0
    ]


def _prefix_reuse(report: ProblemLog, scenario: Scenario, data: ExternalData) -> None:
    """Prefix cache settings that would take no effect: a cache sized or tiered, or
    prefix-aware routing, where no request carries block hashes; hashes of two block sizes
    on one deployment."""
    hashed: dict[str, set[int]] = {}  # deployment -> block sizes of the hashed traces it serves
    for name, cls in scenario.workload.classes.items():
        arrival = cls.arrival
        trace = data.traces.get(arrival.path) if isinstance(arrival, Trace) else None
        if cls.sessions is not None:  # a session's turns carry block hashes of their own
            size = SESSION_BLOCK_TOKENS
        elif not isinstance(arrival, Trace) or trace is None or not trace.has_hashes:
            continue
        else:
            size = arrival.hash_block_tokens
        for target in scenario.deployments:
            if class_share(scenario, name, target) > 0:
                hashed.setdefault(target, set()).add(size)
    cached = {
        n: d
        for n, d in scenario.deployments.items()
        if isinstance(d, SelfHosted) and d.prefix_caching is not None
    }
    for name, dep in cached.items():
        caching = dep.prefix_caching
        assert caching is not None
        here: PathKey = ("deployments", name, "prefix_caching")
        sizes = hashed.get(name, set())
        if len(sizes) > 1:
            report.add(here, f"serves traces hashed in blocks of {sorted(sizes)} tokens: one "
                       "prefix cache holds blocks of one size")  # fmt: skip
        if sizes:
            continue
        if caching.hbm_capacity_tokens is not None or caching.tiers:
            key = "tiers" if caching.tiers else "hbm_capacity_tokens"
            report.add((*here, key), f"{key} sizes the cache of prefix blocks, but no request "
                       f"served by deployments.{name} carries block hashes (a trace with "
                       "hash_ids, or sessions): remove it, or replay such a trace")  # fmt: skip
        elif caching.cached_share == 0:
            report.add(here, "prefix caching with cached_share 0 and no request with block "
                       "hashes would skip nothing: give cached_share, or remove "
                       "prefix_caching")  # fmt: skip
    if scenario.fleet.load_balancer == "prefix_aware" and not set(hashed) & set(cached):
        report.add(("fleet", "load_balancer"), "prefix_aware routes requests by their cached "
                   "prefix blocks, but no deployment with prefix_caching serves a trace with "
                   "block hashes (hash_ids): use another load balancer")  # fmt: skip


def _without_owner(exc: Exception, owner: PathKey) -> str:
    """The message without the 'deployments.x: ' the economics puts first (the path says it)."""
    message, prefix = str(exc), ".".join(str(p) for p in owner) + ": "
    return message[len(prefix) :] if message.startswith(prefix) else message


# Data files ------------------------------------------------------------------------------------


def _read_data(
    scenario: Scenario, base_dir: Path | None, files: DataFiles, report: ProblemLog
) -> ExternalData:
    """The trace and empirical files the scenario names, read as `load_external_data` reads
    them; a file that cannot be read or parsed is a problem, named after its own line."""
    traces: dict[str, TraceData] = {}
    empirical: dict[str, NDArray[np.int64]] = {}
    if base_dir is None:
        return ExternalData()  # no file to be relative to: the references said so
    for name, cls in scenario.workload.classes.items():
        here: PathKey = ("workload", "classes", name)
        arrival = cls.arrival
        if isinstance(arrival, Trace):
            got = files.trace((base_dir / arrival.path).resolve(), arrival)
            if isinstance(got, ConfigError):
                _file_problems(report, got, (*here, "arrival", "path"))
            else:
                traces.setdefault(arrival.path, got)
        for kind in ("prompt_tokens", "output_tokens"):
            dist = getattr(cls, kind)
            if not isinstance(dist, Empirical):
                continue
            values = files.lengths((base_dir / dist.path).resolve(), dist.column)
            if isinstance(values, ConfigError):
                _file_problems(report, values, (*here, kind, "path"))
            else:
                empirical.setdefault(dist.path, values)
    return ExternalData(traces, empirical)


def _file_problems(report: ProblemLog, exc: ConfigError, used_at: PathKey) -> None:
    """The data file's own problems (its file, line and column), saying who reads it."""
    dotted = ".".join(str(p) for p in used_at)
    report.problems.extend(
        Problem(p.file, p.line, p.path, f"{p.message} (read for {dotted})") for p in exc.problems
    )


# Self-hosted deployments -----------------------------------------------------------------------


def _self_hosted(
    report: ProblemLog,
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    data: ExternalData,
) -> None:
    if dep.pools is not None:  # a mixed fleet: each pool on its own GPU, at its own price
        for index, pool in enumerate(dep.pools):
            at: PathKey = ("deployments", name, "pools", index)
            _one_layout(report, scenario, catalog, name, dep.pool_layout(pool), data, at)
        return
    _one_layout(report, scenario, catalog, name, dep, data, ("deployments", name))


def _one_layout(
    report: ProblemLog,
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    data: ExternalData,
    here: PathKey,
) -> None:
    gpu = catalog.gpu_of(dep.gpu)
    _gpu_cost(report, scenario, here, dep, gpu)
    try:
        perf = build_perf_model(dep, catalog)
    except InvalidDeploymentError as exc:
        report.add((*here, *_split_field(dep, str(exc))), str(exc))
        return
    except DoesNotFit as exc:
        report.add(here, f"does not fit: {exc}")
        return
    if dep.prefill_pool is not None and scenario.fleet.disaggregated:
        pool: PathKey = (*here, "prefill_pool")
        prefill = dep.prefill_layout()
        try:
            build_perf_model(prefill, catalog)
        except InvalidDeploymentError as exc:
            report.add((*pool, *_split_field(prefill, str(exc))), f"prefill pool: {exc}")
            return
        except DoesNotFit as exc:
            report.add(pool, f"prefill pool does not fit: {exc}")
            return
    models = [catalog.model_of(dep.model)]
    spec = dep.speculative
    if spec is not None and spec.draft_model is not None:
        models.append(catalog.model(spec.draft_model))
    for request in _requests_to(scenario, name, data):
        _fits_context(report, name, request, models)
        _fits_kv_cache(report, catalog, name, dep, perf, request)


def _gpu_cost(
    report: ProblemLog, scenario: Scenario, here: PathKey, dep: SelfHosted, gpu: GpuSpec
) -> None:
    cost = dep.cost or scenario.costs.gpu
    try:
        hour = gpu_usd_per_hour(cost, gpu, PROBE_BUSY_SHARE)
        if isinstance(cost, RentedGpu) and (cost.reserved or cost.spot):  # their quotes exist
            capacity_bill(cost, gpu, hour.usd_per_hour, HOURS_PER_MONTH, 0.0, 1)
    except InfersimError as exc:
        report.add((*here, "cost") if dep.cost is not None else ("costs", "gpu"), str(exc))
    if scenario.costs.energy is not None:
        try:
            gpu_power_w(gpu, 0.0, PROBE_BUSY_SHARE)
        except InfersimError as exc:
            report.add(("costs", "energy"), str(exc))
    if scenario.costs.value_chain is not None and isinstance(cost, RentedGpu):
        if gpu.purchase_usd is None:
            report.add(
                ("costs", "value_chain"),
                f"{gpu.id} has no purchase_usd in the catalog, so the cloud's cost of owning "
                "it is unknown; add it to the GPU entry, or remove costs.value_chain",
            )
        elif scenario.costs.energy is None:
            try:
                gpu_power_w(gpu, 0.0, PROBE_BUSY_SHARE)
            except InfersimError as exc:
                report.add(("costs", "value_chain"), str(exc))


def _split_field(dep: SelfHosted, message: str) -> PathKey:
    """The parallelism field an impossible split is about (none: the deployment itself)."""
    if message.startswith("expert_parallel"):
        return ("expert_parallel",)
    if message.startswith("redundant_experts"):
        return ("redundant_experts",)
    if "tensor_parallel" in message:
        return ("tensor_parallel",) if dep.tensor_parallel > 1 else ("expert_parallel",)
    return ()


def _aside(note: str) -> str:
    return f" ({note})" if note else ""


def _fits_context(report: ProblemLog, name: str, request: Request, models: list[ModelArch]) -> None:
    shortest = min(models, key=lambda m: m.max_context_tokens)
    limit = shortest.max_context_tokens
    if request.prompt_tokens <= limit:
        return
    role = "model" if shortest is models[0] else "draft model"
    report.add(
        request.prompt_path,
        f"prompts of up to {request.prompt_tokens:,} tokens{_aside(request.prompt_note)} exceed "
        f"the {limit:,}-token context of {shortest.id}, the {role} of deployments.{name}: keep "
        f"prompts within {limit:,} tokens (e.g. max_tokens), or serve a longer-context model",
    )


def _fits_kv_cache(
    report: ProblemLog,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    perf: PerfModel,
    request: Request,
) -> None:
    """The engine admits a request only while its context and two spare blocks fit the
    replica's KV cache (`serving.replica`); a request longer than that is rejected."""
    need = request.total_tokens + 2 * dep.kv_block_tokens
    if need <= perf.kv_capacity_tokens:
        return
    why = "use more GPUs per replica, a narrower kv_cache precision, or shorter requests"
    try:
        build_perf_model(dep, catalog, min_kv_tokens=need)
    except DoesNotFit as exc:  # the fit check's own diagnosis, with what would fit
        why = str(exc)
    report.add(
        request.prompt_path,
        f"{request.source} sends requests of up to {request.total_tokens:,} tokens (prompt "
        f"{request.prompt_tokens:,}{_aside(request.prompt_note)} and output "
        f"{request.output_tokens:,}{_aside(request.output_note)}), but "
        f"a replica of deployments.{name} holds {perf.kv_capacity_tokens:,} tokens of KV cache, "
        f"so the engine would reject them: {why}",
    )


# The longest requests --------------------------------------------------------------------------


def _longest(dist: TokenDist, data: ExternalData) -> tuple[int, str] | None:
    """The most tokens a distribution draws (a lognormal without max_tokens: its p99), and a
    note saying so; None when its file could not be read."""
    if isinstance(dist, Fixed):
        return dist.tokens, ""
    if isinstance(dist, Uniform):
        return dist.high_tokens, ""
    if isinstance(dist, Lognormal):
        if dist.max_tokens is not None:
            return dist.max_tokens, ""
        mu, sigma = lognormal_params(dist)
        return math.ceil(math.exp(mu + Z99 * sigma)), "the p99 of a lognormal without max_tokens"
    values = data.empirical.get(dist.path)
    return None if values is None else (int(values.max()), "")


def _requests_to(scenario: Scenario, deployment: str, data: ExternalData) -> Iterator[Request]:
    """The longest request of each class and population the deployment serves."""
    for name, cls in scenario.workload.classes.items():
        if class_share(scenario, name, deployment) <= 0:
            continue
        here: PathKey = ("workload", "classes", name)
        if isinstance(cls.arrival, Trace):
            trace = data.traces.get(cls.arrival.path)
            if trace is None:
                continue
            yield Request(
                f"class '{name}'",
                (*here, "arrival", "path"),
                int(trace.prompt_tokens.max()),
                int(trace.output_tokens.max()),
                int((trace.prompt_tokens + trace.output_tokens).max()),
                "in its trace",
                "in its trace",
            )
            continue
        if cls.prompt_tokens is None or cls.output_tokens is None:
            continue  # validated: only a trace class has none
        prompt = _longest(cls.prompt_tokens, data)
        output = _longest(cls.output_tokens, data)
        if prompt is None or output is None:
            continue
        yield Request(
            f"class '{name}'",
            (*here, "prompt_tokens"),
            prompt[0],
            output[0],
            prompt[0] + output[0],
            prompt[1],
            output[1],
        )
    for name, pop in scenario.workload.users.items():
        owner = f"workload.users.{name}"
        if deployment_mix(pop.deployment, scenario, owner).get(deployment, 0.0) <= 0:
            continue
        prompt_tokens = max(1, round(pop.prompt_tokens_per_request))
        output_tokens = max(1, round(pop.output_tokens_per_request))
        yield Request(
            f"population '{name}'",
            ("workload", "users", name, "prompt_tokens_per_request"),
            prompt_tokens,
            output_tokens,
            prompt_tokens + output_tokens,
        )
