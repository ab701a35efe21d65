"""One point of an analysis: the scenario with some inputs set, run, reduced to its metrics.

What travels to a worker is small: a `RunContext` (the composed scenario document, where its
files are, the catalog directories) and `Point`s (paths and values). A worker rebuilds the
catalog and reads external data itself, once per analysis (`scope`), and keeps the serving
simulations it ran: points whose months serve the same traffic (e.g. differing only in prices
or GPU $/hour) re-price one simulation instead of simulating again (`infersim.pipeline.run`).
A chunk may also bring serving results the parent already has (`Chunk.serving`, a few KB
each: summaries, not per-request tables), so that no worker simulates them again.

Every point runs with the seed its scenario says, whatever the worker or the order: results do
not depend on how points are spread over workers.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from infersim.analysis.overrides import with_assignments
from infersim.catalog.load import Catalog, load_builtin, load_dirs
from infersim.checks.metrics import flatten, resolve
from infersim.errors import ConfigError, InfersimError, PathKey, Problem
from infersim.pipeline.run import run_loaded, run_scenario
from infersim.report.document import run_outputs
from infersim.scenario.compose import Document, apply_variant
from infersim.scenario.load import LoadedScenario, load_document_or_default, validate_document
from infersim.scenario.params import ParamSet
from infersim.scenario.workload import Empirical, Trace
from infersim.serving.result import ServingResult
from infersim.workload.trace import ExternalData, load_external_data

Metrics = dict[str, float | None]

#: Serving simulations kept per analysis and worker, least recently used dropped first. A
#: result holds summaries (a few KB); enough for every month of a 5-year horizon plus the
#: first month shared by the samples of a Monte Carlo analysis.
SERVING_CACHE_ENTRIES = 64
#: Analyses whose caches a long-lived worker (a Dask worker) keeps.
SCOPES_KEPT = 2


@dataclass(frozen=True)
class RunContext:
    """What every point of one analysis shares; picklable and small."""

    document: Document
    """The composed scenario (variant applied). Distributions and curves in place, unless
    `params` holds them (a `LoadedScenario`'s document)."""
    base_dir: Path | None
    catalog_dirs: tuple[Path, ...] = ()
    params: ParamSet | None = None
    metrics: tuple[str, ...] | None = None
    """Metric paths to return (`infersim.checks.metrics`); None: every number of the run."""
    scope: str = ""
    """Identifies the analysis, for the workers' caches (set by `execute`)."""


@dataclass(frozen=True)
class Point:
    """Inputs of one run: values at dotted paths of the document."""

    assignments: tuple[tuple[PathKey, Any], ...] = ()
    label: str = "--set"
    """Where an error in these values points: '--set', '--vary', 'sample 17'."""


@dataclass(frozen=True)
class PointFailure:
    problems: tuple[Problem, ...] = ()
    message: str = ""

    def error(self) -> InfersimError:
        return ConfigError(self.problems) if self.problems else InfersimError(self.message)


ServingEntries = tuple[tuple[str, ServingResult], ...]


@dataclass(frozen=True)
class Chunk:
    context: RunContext
    points: tuple[Point, ...]
    serving: ServingEntries = ()
    """Serving results by cache key (`pipeline.run`) that the parent already simulated."""


@dataclass(frozen=True)
class ChunkResult:
    metrics: tuple[Metrics, ...]
    failure: PointFailure | None = None


def pick(outputs: dict[str, Any], metrics: Sequence[str] | None) -> Metrics:
    """The named metrics (by canonical path; an alias may name several), or every number."""
    if metrics is None:
        return flatten(outputs)
    picked: Metrics = {}
    for metric in metrics:
        for path, value in resolve(outputs, metric):
            picked[path] = value
    return picked


def _without(params: ParamSet, paths: Sequence[PathKey]) -> ParamSet:
    """Drop the distributions and curves at these paths: a value set there holds."""
    gone = set(paths)
    return ParamSet(
        tuple(u for u in params.uncertain if u.path not in gone),
        tuple(c for c in params.curves if c.path not in gone),
    )


def point_document(context: RunContext, point: Point) -> Document:
    if not point.assignments:
        return context.document
    return with_assignments(context.document, point.assignments, point.label)


def data_files(loaded: LoadedScenario) -> tuple[str, ...]:
    """The trace and empirical files a scenario reads (what its external data depends on)."""
    files: set[str] = set()
    for cls in loaded.scenario.workload.classes.values():
        if isinstance(cls.arrival, Trace):
            files.add(cls.arrival.path)
        files.update(
            d.path for d in (cls.prompt_tokens, cls.output_tokens) if isinstance(d, Empirical)
        )
    return tuple(sorted(files))


class BoundedCache(OrderedDict[str, ServingResult]):
    """A dict that forgets its least recently used entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __getitem__(self, key: str) -> ServingResult:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: ServingResult) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class Scope:
    """A worker's caches for one analysis."""

    catalog: Catalog
    serving: BoundedCache = field(default_factory=lambda: BoundedCache(SERVING_CACHE_ENTRIES))
    data: dict[tuple[str, ...], ExternalData] = field(default_factory=dict)

    def external_data(self, loaded: LoadedScenario) -> ExternalData:
        key = data_files(loaded)
        if key not in self.data:
            self.data[key] = load_external_data(loaded.scenario, loaded.base_dir)
        return self.data[key]


class WorkerState:
    """The caches of one process (or one serial analysis): scopes, most recent last."""

    def __init__(self) -> None:
        self.scopes: OrderedDict[str, Scope] = OrderedDict()

    def scope(self, context: RunContext) -> Scope:
        scope = self.scopes.get(context.scope)
        if scope is None:
            base = load_builtin()
            catalog = load_dirs(base, context.catalog_dirs) if context.catalog_dirs else base
            scope = Scope(catalog)
            self.scopes[context.scope] = scope
            while len(self.scopes) > SCOPES_KEPT:
                self.scopes.popitem(last=False)
        return scope

    def load(self, context: RunContext, point: Point) -> LoadedScenario:
        """The point's scenario, validated (ConfigError when a value breaks a bound)."""
        scope = self.scope(context)
        params = context.params
        if params is not None:
            params = _without(params, [path for path, _ in point.assignments])
        document = point_document(context, point)
        return validate_document(document, context.base_dir, scope.catalog, params=params)

    def run_point(self, context: RunContext, point: Point) -> Metrics:
        scope = self.scope(context)
        loaded = self.load(context, point)
        # an analysis keeps numbers only: the distributions' histograms go unused
        result = run_loaded(loaded, scope.external_data(loaded), None, scope.serving, "figures")
        return pick(run_outputs(result), context.metrics)

    def first_month_serving(self, context: RunContext, point: Point) -> ServingEntries:
        """Simulate the serving of the point's first month (the economics of that month
        only), and return every serving result this analysis's cache then holds: what the
        parent sends its workers. Empty when the point does not run (its chunk will say why)."""
        scope = self.scope(context)
        try:
            loaded = self.load(context, point)
            horizon = loaded.scenario.horizon.model_copy(update={"months": 1})
            scenario = loaded.scenario.model_copy(update={"horizon": horizon})
            data = scope.external_data(loaded)
            run_scenario(
                scenario, loaded.catalog, data, serving_cache=scope.serving, detail="totals"
            )
        except InfersimError:
            return ()
        return tuple(scope.serving.items())

    def run_chunk(self, chunk: Chunk) -> ChunkResult:
        """Run the points in order; stop at the first that fails, and say why."""
        if chunk.serving:
            cache = self.scope(chunk.context).serving
            for key, serving in chunk.serving:
                if key not in cache:
                    cache[key] = serving
        done: list[Metrics] = []
        for point in chunk.points:
            try:
                done.append(self.run_point(chunk.context, point))
            except ConfigError as exc:
                return ChunkResult(tuple(done), PointFailure(tuple(exc.problems)))
            except InfersimError as exc:  # MetricError, EconomicsError, ...
                return ChunkResult(tuple(done), PointFailure(message=str(exc)))
        return ChunkResult(tuple(done))


_PROCESS_STATE = WorkerState()


def prepare(context: RunContext) -> None:
    """A worker process's first task: build the analysis's catalog before chunks arrive."""
    _PROCESS_STATE.scope(context)


def run_chunk(chunk: Chunk) -> ChunkResult:
    """Entry point of a worker process or Dask task: this process's caches are kept across
    the chunks of an analysis."""
    return _PROCESS_STATE.run_chunk(chunk)


@dataclass(frozen=True)
class Source:
    """A scenario as written (variant applied), for analyses that set any of its inputs."""

    document: Document
    base: LoadedScenario
    catalog: Catalog
    """The catalog the scenario resolves against, before its own inline entries."""
    catalog_dirs: tuple[Path, ...] = ()

    def context(self, metrics: Sequence[str] | None = None) -> RunContext:
        return RunContext(
            self.document,
            self.base.base_dir,
            self.catalog_dirs,
            None,
            None if metrics is None else tuple(metrics),
        )

    def validate(self, points: Sequence[Point]) -> None:
        """Every point's scenario validates; else one ConfigError with each problem once."""
        problems: list[Problem] = []
        for point in points:
            document = point_document(self.context(), point)
            try:
                validate_document(document, self.base.base_dir, self.catalog)
            except ConfigError as exc:
                problems.extend(p for p in exc.problems if p not in problems)
        if problems:
            raise ConfigError(problems)


def load_source(
    path: Path | None,
    variant: str | None = None,
    catalog: Catalog | None = None,
    catalog_dirs: Sequence[Path] = (),
) -> Source:
    """Load a scenario file (None: the built-in default) keeping its document as written."""
    document, base_dir = load_document_or_default(path)
    if variant is not None:
        document = apply_variant(document, variant)
    if catalog is None:
        catalog = load_dirs(load_builtin(), catalog_dirs) if catalog_dirs else load_builtin()
    base = validate_document(document, base_dir, catalog)
    return Source(document, base, catalog, tuple(catalog_dirs))


def context_for(
    loaded: LoadedScenario,
    catalog_dirs: Sequence[Path] = (),
    metrics: Sequence[str] | None = None,
) -> RunContext:
    """A context from a loaded scenario (its base values, its distributions and curves)."""
    return RunContext(
        copy.deepcopy(loaded.document),
        loaded.base_dir,
        tuple(catalog_dirs),
        loaded.params,
        None if metrics is None else tuple(metrics),
    )


def with_metrics(context: RunContext, metrics: Sequence[str] | None) -> RunContext:
    return replace(context, metrics=None if metrics is None else tuple(metrics))
