"""Sweeps: run a scenario at every point of a grid of inputs, one row of metrics per point.

Each `--set` spec (`infersim.analysis.overrides`) is one axis; several form the grid, the
first spec varying slowest (`--set a=1,2 --set b=x,y` runs a=1,b=x; a=1,b=y; a=2,b=x; a=2,b=y).
Every point runs with the scenario's seed (common random numbers: the difference between two
points is the inputs', not the simulation's noise); sweep `seed` itself to see the noise.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infersim.analysis import AnalysisError
from infersim.analysis.execute import Execution, Progress, run_points
from infersim.analysis.overrides import OverrideSpec, ResolvedOverride, check_distinct, resolve
from infersim.analysis.runs import Metrics, Point, Source
from infersim.report.tables import DataTable

DEFAULT_METRICS = (
    "pnl.revenue_usd",
    "pnl.serving_cost_usd",
    "pnl.gross_margin_pct",
    "pnl.operating_margin_usd",
    "projection.cumulative_cash_usd",
)
MAX_POINTS = 100_000
#: Grids up to this size have every point validated before anything runs (a few ms each);
#: larger ones have each value validated on its own, and combinations as they run.
VALIDATE_ALL_UP_TO = 2_000


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _extremes(values: Sequence[Any]) -> list[Any]:
    """The values worth validating alone: the smallest and largest number, every other."""
    numbers = [v for v in values if _numeric(v)]
    others = [v for v in values if not _numeric(v)]
    return [*({min(numbers), max(numbers)} if numbers else set()), *others]


def bind(
    source: Source, specs: Sequence[OverrideSpec], option: str = "--set"
) -> list[ResolvedOverride]:
    """Resolve the specs' paths and check their values against the fields' bounds."""
    check_distinct(specs, option)
    resolved = [resolve(spec, source.document, source.base.scenario, option) for spec in specs]
    singles = [
        Point(r.assignments(v), f"{option} {r.spec.text}")
        for r in resolved
        for v in _extremes(r.spec.values)
    ]
    source.validate(singles)
    return resolved


def grid(
    resolved: Sequence[ResolvedOverride], option: str = "--set"
) -> list[tuple[tuple[Any, ...], Point]]:
    """Every combination of the specs' values, first spec slowest, with its point."""
    size = 1
    for r in resolved:
        size *= len(r.spec.values)
    if size > MAX_POINTS:
        raise AnalysisError(f"{option}: the grid has {size:,} points, more than {MAX_POINTS:,}")
    out: list[tuple[tuple[Any, ...], Point]] = []
    for combo in itertools.product(*(r.spec.values for r in resolved)):
        assignments = tuple(
            a for r, v in zip(resolved, combo, strict=True) for a in r.assignments(v)
        )
        out.append((combo, Point(assignments, option)))
    return out


@dataclass(frozen=True)
class SweepResult:
    label: str
    scenario: str
    variant: str | None
    source: str
    parameters: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[tuple[tuple[Any, ...], Metrics], ...]


def _columns(rows: Sequence[Metrics]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return tuple(seen)


def sweep(
    source: Source,
    specs: Sequence[OverrideSpec],
    metrics: Sequence[str] = DEFAULT_METRICS,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every point of the grid the specs form; rows in grid order."""
    if not specs:
        raise AnalysisError("give at least one --set PATH=VALUES")
    (execution or Execution()).check()
    resolved = bind(source, specs)
    points = grid(resolved)
    if len(points) <= VALIDATE_ALL_UP_TO:
        source.validate([point for _, point in points])
    results = run_points(
        source.context(metrics), [p for _, p in points], execution, progress, "points"
    )
    base = source.base
    return SweepResult(
        base.label,
        base.scenario.name,
        base.scenario.variant,
        base.source,
        tuple(r.spec.label for r in resolved),
        _columns(results),
        tuple((values, result) for (values, _), result in zip(points, results, strict=True)),
    )


def sweep_json(result: SweepResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "variant": result.variant,
        "source": result.source,
        "parameters": list(result.parameters),
        "metrics": list(result.metrics),
        "points": [
            {
                "parameters": dict(zip(result.parameters, values, strict=True)),
                "metrics": {m: row.get(m) for m in result.metrics},
            }
            for values, row in result.rows
        ],
    }


def sweep_tables(result: SweepResult) -> list[DataTable]:
    """One table, one row per point: the parameters, then the metrics (CSV-friendly)."""
    return [
        DataTable(
            f"{result.label}: sweep, {len(result.rows):,} points",
            [*result.parameters, *result.metrics],
            [[*values, *(row.get(m) for m in result.metrics)] for values, row in result.rows],
        )
    ]
