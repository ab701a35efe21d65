"""A scenario's `expect:` bounds, evaluated on its run (and on Monte Carlo samples).

A plain bound (`{metric: serving.ttft_p99_s, max: 2}`) is checked on the scenario's nominal
run. A probabilistic one (`max_probability: 0.05`) is checked on samples: the share of samples
in which the metric breaks the bound must not exceed `max_probability` — so
`{metric: margins.plus.gross_margin_pct, min: 0, max_probability: 0.05}` reads
P(gross margin of plus < 0) <= 5%. A deterministic scenario is a single sample (its run).

A bound is broken when the value is below `min` or above `max` (the bounds themselves pass),
or when the run has no value for the metric. Where the path names several numbers (an alias
over deployments) the bound must hold for each; the worst one is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from infersim.checks.metrics import Found, Leaf, MetricError, resolve
from infersim.scenario.model import Expectation

Level = Literal["ok", "warn", "fail"]


def breaks(expectation: Expectation, value: Leaf) -> bool:
    """Whether one value breaks the expectation's bounds (no value counts as broken)."""
    if value is None:
        return True
    low, high = expectation.min, expectation.max
    return (low is not None and value < low) or (high is not None and value > high)


def _slack(expectation: Expectation, value: Leaf) -> float:
    """How far inside the bounds a value is (negative: outside; no value: -inf)."""
    if value is None:
        return -math.inf
    room = [value - expectation.min] if expectation.min is not None else []
    room += [expectation.max - value] if expectation.max is not None else []
    return min(room)


def worst(expectation: Expectation, found: Found) -> tuple[str, Leaf]:
    """The value nearest to breaking the bounds (or furthest outside them)."""
    return min(found, key=lambda item: _slack(expectation, item[1]))


def bound_text(expectation: Expectation) -> str:
    """`>= 30`, `<= 2`, or `in [0, 80]`."""
    low, high = expectation.min, expectation.max
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation, evaluated: the worst value of the nominal run, and (probabilistic
    ones) the share of samples breaking the bounds."""

    expectation: Expectation
    index: int
    path: str
    """The canonical path of the worst value (the metric as written when it names one)."""
    value: Leaf
    paths: int
    """How many numbers the metric names (one unless an alias spans deployments)."""
    probability: float | None
    samples: int
    passed: bool

    @property
    def level(self) -> Level:
        return "ok" if self.passed else self.expectation.level

    @property
    def title(self) -> str:
        """`margins.plus.gross_margin_pct >= 30`, `P(serving.ttft_p99_s > 2) <= 0.05`."""
        e = self.expectation
        if e.max_probability is None:
            return f"{e.metric} {bound_text(e)}"
        return f"P({e.metric} not {bound_text(e)}) <= {e.max_probability:g}"

    @property
    def detail(self) -> str:
        """What was found: `96.78 (min 30)`, `P = 0.12 over 200 samples (max 0.05)`."""
        e = self.expectation
        value = "no value" if self.value is None else f"{self.value:.6g}"
        where = f" at {self.path}" if self.paths > 1 else ""
        if e.max_probability is None:
            return f"{value}{where}, expected {bound_text(e)}"
        assert self.probability is not None
        return (
            f"P = {self.probability:.3g} over {self.samples} sample"
            f"{'s' if self.samples != 1 else ''} (at most {e.max_probability:g}); "
            f"nominal {value}{where}"
        )


def _values(run: Mapping[str, Any], expectation: Expectation, paths: Sequence[str]) -> Found:
    """The metric's values in one sample, at the canonical paths the nominal run resolved it
    to (aliases such as `margins.PRODUCT` need strings a sample of numbers lacks); a sample
    without them breaks the bound."""
    direct = [(path, _at(run, path)) for path in paths]
    if all(value is not None for _, value in direct):
        return direct
    try:
        return resolve(run, expectation.metric)
    except MetricError:
        return [(expectation.metric, None)]


def _at(run: Mapping[str, Any], path: str) -> Any:
    node: Any = run
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None


def evaluate(
    expectation: Expectation,
    nominal: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]] | None = None,
    index: int = 0,
) -> ExpectationResult:
    """Evaluate one expectation on the nominal run and, when probabilistic, on `samples`
    (run outputs of Monte Carlo draws; none given: the nominal run is the only sample).

    Raises `MetricError` when the metric names nothing in the nominal run.
    """
    found = resolve(nominal, expectation.metric)
    path, value = worst(expectation, found)
    if expectation.max_probability is None:
        passed = not any(breaks(expectation, v) for _, v in found)
        return ExpectationResult(expectation, index, path, value, len(found), None, 1, passed)
    runs = list(samples) if samples else [nominal]
    paths = [p for p, _ in found]
    broken = sum(
        any(breaks(expectation, v) for _, v in _values(run, expectation, paths)) for run in runs
    )
    probability = broken / len(runs)
    passed = probability <= expectation.max_probability
    return ExpectationResult(
        expectation, index, path, value, len(found), probability, len(runs), passed
    )


def evaluate_all(
    expectations: Sequence[Expectation],
    nominal: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[ExpectationResult, ...]:
    return tuple(
        evaluate(expectation, nominal, samples, index)
        for index, expectation in enumerate(expectations)
    )
