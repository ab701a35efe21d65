"""Monte Carlo: draw every uncertain input, run each sample, summarise every output.

Inputs are the scenario's distributions (`infersim.scenario.params.Uncertain`), drawn
independently:
- 'lhs' (default), Latin hypercube: each input's range of probability is cut into as many
  equal strata as samples and each stratum is drawn once, in a random order per input; the
  quantiles of the outputs settle with far fewer samples than plain draws;
- 'random': plain independent draws.

Seeds: the draws come from numpy streams keyed by the scenario's seed (or `seed`): one
stream per sample index for 'random', one for the whole design for 'lhs'. They are made here,
before any sample runs, so sample i has the same inputs whatever the executor or `jobs`. Every
sample runs the simulation with the scenario's seed (common random numbers): the spread is the
inputs' uncertainty, not the simulation's noise, and samples that differ only in economic
inputs re-price one serving simulation.

Summary of every numeric output over the samples: p5, p50, p95 (linear interpolation between
order statistics), the mean, and the probability that it is below zero; a sample where an
output is null (a margin where nothing was sold) is left out of that output's figures.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from infersim.analysis import AnalysisError
from infersim.analysis.execute import Execution, ExecutorKind, Progress, run_points
from infersim.analysis.runs import Point, WorkerState, context_for, data_files
from infersim.checks.metrics import KEY_METRICS
from infersim.report.tables import DataTable, significant
from infersim.scenario.load import LoadedScenario
from infersim.scenario.params import Uncertain
from infersim.serving.result import ServingResult
from infersim.workload.trace import ExternalData

Method = Literal["lhs", "random"]
MC_STREAM = 20_000
MAX_SAMPLES = 10_000_000
#: The margins whose probability of a loss the summary leads with.
MARGIN_METRICS = ("pnl.gross_margin_usd", "pnl.operating_margin_usd")
QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class OutputSummary:
    p5: float
    p50: float
    p95: float
    mean: float
    below_zero: float
    """Share of the samples (with a value) where the output is below zero."""
    samples: int


@dataclass(frozen=True)
class MonteCarloResult:
    label: str
    samples: int
    method: Method
    seed: int
    inputs: tuple[Uncertain, ...]
    draws: NDArray[np.float64]
    """samples x inputs: the value each sample gave each input."""
    outputs: dict[str, NDArray[np.float64]]
    """Every numeric output (canonical metric path) -> its value per sample (nan: null)."""

    def summary(self, metric: str) -> OutputSummary | None:
        """The output's figures over the samples; None when it never had a value."""
        values = self.outputs[metric]
        values = values[~np.isnan(values)]
        if values.size == 0:
            return None
        p5, p50, p95 = (float(q) for q in np.quantile(values, QUANTILES))
        return OutputSummary(
            p5, p50, p95, float(values.mean()), float((values < 0).mean()), int(values.size)
        )


def draw_inputs(
    inputs: Sequence[Uncertain], samples: int, seed: int, method: Method = "lhs"
) -> NDArray[np.float64]:
    """samples x inputs values, reproducible from the seed (see the module docstring)."""
    k = len(inputs)
    u = np.empty((samples, k))
    if method == "lhs":
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(MC_STREAM, 1)))
        for j in range(k):
            u[:, j] = (rng.permutation(samples) + rng.random(samples)) / samples
    else:
        for i in range(samples):
            stream = np.random.SeedSequence(seed, spawn_key=(MC_STREAM, 0, i))
            u[i, :] = np.random.default_rng(stream).random(k)
    draws = np.empty((samples, k))
    for j, spec in enumerate(inputs):
        draws[:, j] = [spec.quantile(float(q)) for q in u[:, j]]
    return draws


def _value(spec: Uncertain, value: float) -> float | int:
    return int(value) if spec.integer else float(value)


def montecarlo(
    loaded: LoadedScenario,
    data: ExternalData | None = None,
    samples: int = 1000,
    jobs: int = 1,
    executor: ExecutorKind = "local",
    progress: Progress | None = None,
    *,
    scheduler: str | None = None,
    execution: Execution | None = None,
    method: Method = "lhs",
    seed: int | None = None,
    catalog_dirs: Sequence[Path] = (),
    serving: Mapping[str, ServingResult] | None = None,
) -> MonteCarloResult:
    """Run `samples` draws of the scenario's uncertain inputs; every numeric output per sample.

    `jobs` > 1 runs samples on local processes, `executor='dask'` on the cluster at
    `scheduler` (or give `execution`, e.g. `infersim.cli.sweep.execution(...)`, instead of the
    three); results are identical to a serial run. `catalog_dirs`: the `--catalog` directories
    the scenario was loaded with (workers rebuild the catalog from them). `data`: the
    scenario's external data when already read (serial runs reuse it). `seed`: the draws'
    seed, default the scenario's. `serving`: serving results already simulated, by the
    pipeline's cache key (the `serving_cache` of a run of this scenario, as `run --samples`
    has): a sample month serving the same traffic prices it rather than simulating it again.
    """
    if not 1 <= samples <= MAX_SAMPLES:
        raise AnalysisError(f"--samples must be from 1 to {MAX_SAMPLES:,}, got {samples}")
    if method not in ("lhs", "random"):
        raise AnalysisError(f"unknown sampling method '{method}'; known: lhs, random")
    inputs = loaded.params.uncertain
    if not inputs:
        raise AnalysisError(
            f"{loaded.source}: no input is a distribution, so every sample would be the same; "
            "give one as {dist: lognormal, p50: .., p90: ..} or {low: .., high: ..}"
        )
    execution = execution or Execution(jobs, executor, scheduler)
    execution.check()
    seed = loaded.scenario.seed if seed is None else seed
    draws = draw_inputs(inputs, samples, seed, method)
    points = [
        Point(
            tuple((spec.path, _value(spec, v)) for spec, v in zip(inputs, row, strict=True)),
            f"sample {i + 1}",
        )
        for i, row in enumerate(draws.tolist())
    ]
    context = replace(context_for(loaded, catalog_dirs), scope=uuid.uuid4().hex)
    state = WorkerState()
    scope = state.scope(context)
    if data is not None:
        scope.data[data_files(loaded)] = data
    for key, result in (serving or {}).items():
        scope.serving[key] = result
    rows = run_points(context, points, execution, progress, "samples", state)
    return MonteCarloResult(
        loaded.label, samples, method, seed, tuple(inputs), draws, _by_metric(rows)
    )


def _by_metric(rows: Sequence[dict[str, float | None]]) -> dict[str, NDArray[np.float64]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {
        name: np.array([math.nan if row.get(name) is None else row[name] for row in rows])
        for name in names
    }


def _spec_json(spec: Uncertain) -> dict[str, Any]:
    dumped: dict[str, Any] = spec.spec.model_dump(mode="json")
    return {"dist": "range", **dumped} if "dist" not in dumped else dumped


def _num(value: float) -> float:
    return significant(float(value)) + 0.0  # no -0


def montecarlo_json(result: MonteCarloResult) -> dict[str, Any]:
    """The inputs drawn and every output's p5/p50/p95, mean and probability below zero."""
    outputs: dict[str, Any] = {}
    for metric in result.outputs:
        s = result.summary(metric)
        outputs[metric] = (
            None
            if s is None
            else {
                "p5": _num(s.p5),
                "p50": _num(s.p50),
                "p95": _num(s.p95),
                "mean": _num(s.mean),
                "probability_below_zero": _num(s.below_zero),
                "samples": s.samples,
            }
        )
    inputs: dict[str, Any] = {}
    for j, spec in enumerate(result.inputs):
        p5, p50, p95 = np.quantile(result.draws[:, j], QUANTILES)
        inputs[spec.dotted] = {
            "distribution": _spec_json(spec),
            "p5": _num(p5),
            "p50": _num(p50),
            "p95": _num(p95),
        }
    return {
        "samples": result.samples,
        "method": result.method,
        "seed": result.seed,
        "probability_margin_below_zero": {
            m: outputs[m]["probability_below_zero"]
            for m in MARGIN_METRICS
            if outputs.get(m) is not None
        },
        "inputs": inputs,
        "outputs": outputs,
    }


def _key(metric: str) -> bool:
    parts = metric.split(".")
    for pattern in KEY_METRICS:
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(
            w in ("*", p) for w, p in zip(wanted, parts, strict=True)
        ):
            return True
    return False


def _fmt(value: float) -> str:
    value += 0.0  # no -0
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def montecarlo_tables(result: MonteCarloResult, label: str | None = None) -> list[DataTable]:
    """The inputs as drawn, then the key outputs (margins, P&L, projection, unit costs)."""
    label = label or result.label
    inputs = [
        [
            spec.dotted,
            str(_spec_json(spec)["dist"]),
            *(_fmt(float(q)) for q in np.quantile(result.draws[:, j], QUANTILES)),
        ]
        for j, spec in enumerate(result.inputs)
    ]
    rows: list[list[Any]] = []
    for metric in result.outputs:
        s = result.summary(metric)
        if s is None or not _key(metric) or metric.startswith("serving."):
            continue
        rows.append(
            [metric, _fmt(s.p5), _fmt(s.p50), _fmt(s.p95), _fmt(s.mean), f"{s.below_zero:.1%}"]
        )
    losses = [
        f"P({m} < 0) = {s.below_zero:.1%}"
        for m in MARGIN_METRICS
        if m in result.outputs and (s := result.summary(m)) is not None
    ]
    how = f"{result.samples:,} samples, {result.method}, seed {result.seed}"
    return [
        DataTable(
            f"{label}: uncertain inputs ({how})",
            ["input", "distribution", "p5", "p50", "p95"],
            inputs,
        ),
        DataTable(
            f"{label}: outputs over {result.samples:,} samples",
            ["metric", "p5", "p50", "p95", "mean", "P(< 0)"],
            rows,
            caption="; ".join(losses) or None,
        ),
    ]
