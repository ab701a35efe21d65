"""Breakeven: the value of one input at which an output hits a target.

`metric(x) - target` is solved for x in [low, high] by Brent's method (bisection guarded
inverse quadratic interpolation: the bracket always holds a sign change, so it converges on
any continuous output, fast on smooth ones). Whole-number inputs (users, replicas) are
bisected over integers and the integer closest to the target is given.

The input is a `--vary` path (a pattern moves every match together); with `scale`, x is a
factor on the base values: `deployments.api.*_usd_per_mtok` scaled from 1 to 2 is "a price
rise of 0% to 100%". Each evaluation is one run in this process; runs share their serving
simulations when only economic inputs move.

When the output does not cross the target between the ends of the range there is no answer in
it: `AnalysisError` says so, with the output at both ends. An output that crosses the target
twice inside the range (up, then down) looks the same from its ends: narrow the range.
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from infersim.analysis import AnalysisError
from infersim.analysis.execute import Progress, run_points
from infersim.analysis.overrides import OverrideSpec, ResolvedOverride, is_integer_at, resolve
from infersim.analysis.runs import Point, Source, WorkerState

#: Default tolerance on x, relative to the range's width.
XTOL_RELATIVE = 1e-6
MAX_EVALUATIONS = 100


@dataclass(frozen=True)
class BreakevenResult:
    label: str
    scenario: str
    variant: str | None
    source: str
    parameter: str
    scale: bool
    metric: str
    target: float
    low: float
    high: float
    value: float
    output: float
    evaluations: tuple[tuple[float, float], ...]
    """(x, metric) of every run, in order."""


def _fmt(value: float) -> str:
    return f"{value + 0.0:,.6g}"  # no -0


class _Objective:
    """metric(x), one run per new x, with the metric's canonical path checked once."""

    def __init__(self, source: Source, bound: ResolvedOverride, metric: str, integer: bool) -> None:
        self.source, self.bound, self.metric, self.integer = source, bound, metric, integer
        # one scope for every evaluation: they share their serving simulations
        self.context = replace(source.context([metric]), scope=uuid.uuid4().hex)
        self.state = WorkerState()
        self.canonical: str | None = None
        self.seen: dict[float, float] = {}
        self.order: list[tuple[float, float]] = []

    def point(self, x: float) -> Point:
        value: Any = round(x) if self.integer else x
        return Point(self.bound.assignments(value), f"--vary {self.bound.spec.label}={_fmt(x)}")

    def __call__(self, x: float) -> float:
        x = float(round(x)) if self.integer else x
        if x in self.seen:
            return self.seen[x]
        (row,) = run_points(self.context, [self.point(x)], state=self.state)
        if len(row) != 1:
            names = ", ".join(row)
            raise AnalysisError(
                f"--target {self.metric} names {len(row)} numbers ({names}); name one of them"
            )
        ((path, value),) = row.items()
        self.canonical = path
        if value is None:
            raise AnalysisError(
                f"--target {self.metric} has no value at {self.bound.spec.label}={_fmt(x)} "
                "(a margin where nothing is sold)"
            )
        self.seen[x] = value
        self.order.append((x, value))
        return value


def brent(
    f: Callable[[float], float],
    a: float,
    b: float,
    fa: float,
    fb: float,
    xtol: float,
    max_evaluations: int = MAX_EVALUATIONS,
) -> float:
    """A root of f in [a, b], given f(a) and f(b) of opposite signs (Brent 1973, zeroin)."""
    eps = sys.float_info.epsilon
    c, fc = a, fa
    d = e = b - a
    for _ in range(max_evaluations):
        if fb * fc > 0:
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2 * eps * abs(b) + 0.5 * xtol
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p, q = 2 * m * s, 1 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2 * m * q * (q - r) - (b - a) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            if 2 * p < min(3 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = m
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else math.copysign(tol, m)
        fb = f(b)
    return b


def _bisect_integers(f: Callable[[float], float], a: int, b: int, fa: float) -> int:
    while b - a > 1:
        mid = (a + b) // 2
        fm = f(mid)
        if fm == 0:
            return mid
        if (fm > 0) == (fa > 0):
            a, fa = mid, fm
        else:
            b = mid
    return a if abs(f(a)) <= abs(f(b)) else b


def breakeven(
    source: Source,
    spec: OverrideSpec,
    low: float,
    high: float,
    metric: str,
    target: float,
    xtol: float | None = None,
    progress: Progress | None = None,
) -> BreakevenResult:
    """Solve metric(x) = target for the input `spec` names, x in [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high) or low >= high:
        raise AnalysisError(f"--range {low:g},{high:g}: give LOW,HIGH with LOW < HIGH")
    bound = resolve(spec, source.document, source.base.scenario, "--vary")
    integer = spec.op == "set" and all(is_integer_at(p) for p in bound.paths)
    if integer:
        low, high = math.ceil(low), math.floor(high)
        if low >= high:
            raise AnalysisError(f"--range: {spec.label} is a whole number; widen the range")
    objective = _Objective(source, bound, metric, integer)
    source.validate([objective.point(low), objective.point(high)])
    width = high - low
    tolerance = xtol if xtol is not None else XTOL_RELATIVE * width

    def f(x: float) -> float:
        value = objective(x) - target
        if progress is not None:
            n = len(objective.order)
            progress(f"{n} runs", min(0.99, n / 30))
        return value

    f_low, f_high = f(low), f(high)
    name = objective.canonical or metric
    if f_low * f_high > 0:
        side = "above" if f_low > 0 else "below"
        raise AnalysisError(
            f"no solution in [{_fmt(low)}, {_fmt(high)}]: {name} goes from "
            f"{_fmt(f_low + target)} to {_fmt(f_high + target)}, {side} {_fmt(target)} at both "
            "ends (widen --range)"
        )
    if f_low == 0:
        x = low
    elif f_high == 0:
        x = high
    elif integer:
        x = _bisect_integers(f, int(low), int(high), f_low)
    else:
        x = brent(f, low, high, f_low, f_high, tolerance)
    b = source.base
    return BreakevenResult(
        b.label,
        b.scenario.name,
        b.scenario.variant,
        b.source,
        spec.label,
        spec.op == "scale",
        name,
        target,
        low,
        high,
        x,
        objective(x),
        tuple(objective.order),
    )


def breakeven_json(result: BreakevenResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "variant": result.variant,
        "source": result.source,
        "parameter": result.parameter,
        "scale": result.scale,
        "metric": result.metric,
        "target": result.target,
        "range": [result.low, result.high],
        "value": result.value,
        "output_at_value": result.output,
        "runs": len(result.evaluations),
    }


def breakeven_rows(result: BreakevenResult) -> list[list[Any]]:
    what = f"{result.parameter} (factor)" if result.scale else result.parameter
    return [
        ["input", what],
        ["range", f"[{_fmt(result.low)}, {_fmt(result.high)}]"],
        ["target", f"{result.metric} = {_fmt(result.target)}"],
        ["breakeven value", _fmt(result.value)],
        [f"{result.metric} there", _fmt(result.output)],
        ["runs", len(result.evaluations)],
    ]
