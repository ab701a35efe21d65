"""Sensitivity: a tornado table. Each input goes to its low and then its high value while the
others stay at their base values; the output's swing ranks the inputs, largest first.

The inputs are the scenario's distributions, each from its p5 to its p95, or the `--vary`
specs given: `PATH=LOW,HIGH`, `PATH*=0.8,1.2` (factors on the base value, every match of a
pattern together), or a bare `PATH` naming a distribution (its p5 and p95). Base values are
the distributions' medians and the curves' month-0 values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infersim.analysis import AnalysisError
from infersim.analysis.execute import Execution, Progress, run_points
from infersim.analysis.overrides import OverrideSpec, check_distinct, resolve
from infersim.analysis.runs import Point, Source
from infersim.report.tables import DataTable, significant
from infersim.scenario.params import Uncertain

LOW_Q, HIGH_Q = 0.05, 0.95


@dataclass(frozen=True)
class Lever:
    """One input of the tornado and the two points that move it."""

    name: str
    low: Any
    high: Any
    low_point: Point
    high_point: Point


@dataclass(frozen=True)
class Bar:
    name: str
    low: Any
    high: Any
    output_low: float | None
    output_high: float | None

    @property
    def swing(self) -> float | None:
        if self.output_low is None or self.output_high is None:
            return None
        return significant(abs(self.output_high - self.output_low)) + 0.0


@dataclass(frozen=True)
class Tornado:
    metric: str
    base: float | None
    bars: tuple[Bar, ...]
    """Largest swing first (bars without a value last)."""


@dataclass(frozen=True)
class SensitivityResult:
    label: str
    scenario: str
    variant: str | None
    source: str
    tornados: tuple[Tornado, ...]


def _tidy(value: Any) -> Any:
    """Numbers to 6 significant digits (and no -0), for stable output."""
    if isinstance(value, float):
        return significant(value) + 0.0
    return value


def _from_uncertain(spec: Uncertain) -> Lever:
    low: float | int = _tidy(spec.quantile(LOW_Q))
    high: float | int = _tidy(spec.quantile(HIGH_Q))
    if spec.integer:
        low, high = int(low), int(high)
    label = f"--vary {spec.dotted}"
    return Lever(
        spec.dotted,
        low,
        high,
        Point(((spec.path, low),), label),
        Point(((spec.path, high),), label),
    )


def levers(source: Source, specs: Sequence[OverrideSpec]) -> list[Lever]:
    """The tornado's inputs: the `--vary` specs, or every distribution of the scenario."""
    uncertain = {u.dotted: u for u in source.base.params.uncertain}
    if not specs:
        if not uncertain:
            raise AnalysisError(
                "nothing to vary: the scenario has no distributions; give --vary PATH=LOW,HIGH"
            )
        return [_from_uncertain(u) for u in uncertain.values()]
    check_distinct(specs, "--vary")
    out: list[Lever] = []
    for spec in specs:
        if not spec.values:
            if spec.dotted not in uncertain:
                raise AnalysisError(
                    f"--vary {spec.dotted}: not a distribution of the scenario; "
                    "give its values, PATH=LOW,HIGH (or factors, PATH*=0.8,1.2)"
                )
            out.append(_from_uncertain(uncertain[spec.dotted]))
            continue
        if len(spec.values) != 2:
            raise AnalysisError(
                f"--vary {spec.text}: give two values, low and high, got {len(spec.values)}"
            )
        bound = resolve(spec, source.document, source.base.scenario, "--vary")
        label = f"--vary {spec.text}"
        low, high = spec.values
        out.append(
            Lever(
                spec.label,
                low,
                high,
                Point(bound.assignments(low), label),
                Point(bound.assignments(high), label),
            )
        )
    return out


def _sorted(bars: list[Bar]) -> tuple[Bar, ...]:
    order = sorted(
        range(len(bars)),
        key=lambda i: (bars[i].swing is None, -(bars[i].swing or 0.0), i),
    )
    return tuple(bars[i] for i in order)


def sensitivity(
    source: Source,
    metrics: Sequence[str],
    specs: Sequence[OverrideSpec] = (),
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> SensitivityResult:
    """One tornado per metric (an alias naming several numbers gives one tornado each)."""
    if not metrics:
        raise AnalysisError("give the output to rank inputs by: --metric PATH")
    (execution or Execution()).check()
    chosen = levers(source, specs)
    points = [Point()] + [p for lever in chosen for p in (lever.low_point, lever.high_point)]
    source.validate(points)
    rows = run_points(source.context(metrics), points, execution, progress, "runs")
    base, moved = rows[0], rows[1:]
    tornados = []
    for metric in base:
        bars = [
            Bar(
                lever.name,
                lever.low,
                lever.high,
                moved[2 * i].get(metric),
                moved[2 * i + 1].get(metric),
            )
            for i, lever in enumerate(chosen)
        ]
        tornados.append(Tornado(metric, base[metric], _sorted(bars)))
    b = source.base
    return SensitivityResult(
        b.label, b.scenario.name, b.scenario.variant, b.source, tuple(tornados)
    )


def sensitivity_json(result: SensitivityResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "variant": result.variant,
        "source": result.source,
        "tornados": [
            {
                "metric": t.metric,
                "base": t.base,
                "inputs": [
                    {
                        "input": bar.name,
                        "low": bar.low,
                        "high": bar.high,
                        "output_at_low": bar.output_low,
                        "output_at_high": bar.output_high,
                        "swing": bar.swing,
                    }
                    for bar in t.bars
                ],
            }
            for t in result.tornados
        ],
    }


def sensitivity_tables(result: SensitivityResult) -> list[DataTable]:
    return [
        DataTable(
            f"{result.label}: tornado of {t.metric} (base {t.base if t.base is not None else '-'})",
            ["input", "low", "high", "at low", "at high", "swing"],
            [[b.name, b.low, b.high, b.output_low, b.output_high, b.swing] for b in t.bars],
        )
        for t in result.tornados
    ]
