"""Uncertain and time-varying inputs: any numeric field may hold a distribution or a curve.

Distributions (Monte Carlo, sensitivity):
- `{dist: normal, mean: .., sd: ..}`, `{dist: uniform, low: .., high: ..}`,
  `{dist: triangular, low: .., mode: .., high: ..}`,
- `{dist: lognormal, p50: .., p90: ..}`,
- `{low: .., high: ..}`: a 90% range (p5 to p95) — lognormal when low > 0, else normal.
Curves (projections over the horizon's months, month 0 = the first):
- `{curve: constant, value: ..}`, `{curve: linear, start: .., per_month: ..}`,
- `{curve: exponential, start: .., factor_per_year: ..}` (0.02 = "divided by 50 a year"),
- `{curve: steps, start: .., steps: {6: .., 18: ..}}` (from month 6 on; or 'YYYY-MM' keys with
  `horizon.start`), `{curve: table, points: {0: .., 12: .., 24: ..}}` (piecewise linear).

The loader takes these out of the document, leaving the base value (the median, or the
month-0 value) so the scenario validates as usual; `materialize` puts sampled or monthly
values back and validation runs again, so every value is checked against its field's bounds.
Integer fields get whole numbers. A curve may drive an integer field only where the field is
a count (users, requests or tokens a month: `fields.CurveRounds`); on any other integer
(replicas, tensor_parallel, token lengths...) rounding a curve month by month would run
something other than what the curve says, so it is refused.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from infersim.catalog.types import Strict
from infersim.errors import ConfigError, PathKey, Problem, problems_from_validation
from infersim.scenario.compose import Document
from infersim.scenario.fields import CurveRounds
from infersim.scenario.model import Scenario
from infersim.schema_paths import annotations_at, is_numeric_at, unwrap

if TYPE_CHECKING:  # numpy is imported where values are drawn: loading a scenario needs none
    import numpy as np
    from numpy.typing import NDArray

Z95 = 1.6448536269514722
Z90 = 1.2815515655446004
Number = Annotated[float, Field(allow_inf_nan=False)]


class NormalSpec(Strict):
    dist: Literal["normal"]
    mean: Number
    sd: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class UniformSpec(Strict):
    dist: Literal["uniform"]
    low: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> UniformSpec:
        if self.low >= self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        return self


class TriangularSpec(Strict):
    dist: Literal["triangular"]
    low: Number
    mode: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> TriangularSpec:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError("need low <= mode <= high, low < high")
        return self


class LognormalSpec(Strict):
    dist: Literal["lognormal"]
    p50: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    p90: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self) -> LognormalSpec:
        if self.p90 <= self.p50:
            raise ValueError("p90 must exceed p50")
        return self


class RangeSpec(Strict):
    """A 90% range: 5% of draws below `low`, 5% above `high`."""

    low: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        if self.low >= self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        return self


def _dist_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("dist", "range"))
    return str(getattr(value, "dist", "range"))


DistSpec = Annotated[
    Annotated[NormalSpec, Tag("normal")]
    | Annotated[UniformSpec, Tag("uniform")]
    | Annotated[TriangularSpec, Tag("triangular")]
    | Annotated[LognormalSpec, Tag("lognormal")]
    | Annotated[RangeSpec, Tag("range")],
    Discriminator(_dist_kind),
]


class ConstantCurve(Strict):
    curve: Literal["constant"]
    value: Number


class LinearCurve(Strict):
    curve: Literal["linear"]
    start: Number
    per_month: Number


class ExponentialCurve(Strict):
    curve: Literal["exponential"]
    start: Number
    factor_per_year: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]


class StepsCurve(Strict):
    curve: Literal["steps"]
    start: Number
    steps: dict[str, Number] = Field(min_length=1, description="month index or 'YYYY-MM'")


class TableCurve(Strict):
    curve: Literal["table"]
    points: dict[str, Number] = Field(min_length=1, description="month index or 'YYYY-MM'")


CurveSpec = Annotated[
    ConstantCurve | LinearCurve | ExponentialCurve | StepsCurve | TableCurve,
    Field(discriminator="curve"),
]
_DIST: TypeAdapter[Any] = TypeAdapter(DistSpec)
_CURVE: TypeAdapter[Any] = TypeAdapter(CurveSpec)


def _month_index(key: str, start: dt.date | None) -> int:
    text = str(key).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if start is None:
        raise ValueError(f"month '{text}' is a date: give horizon.start to place it")
    when = dt.date.fromisoformat(text + "-01" if len(text) == 7 else text)
    return (when.year - start.year) * 12 + (when.month - start.month)


@dataclass(frozen=True)
class Uncertain:
    """A numeric input drawn from a distribution."""

    path: PathKey
    spec: Any
    integer: bool

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)

    def quantile(self, q: float) -> float:
        """The value at probability q (0 < q < 1)."""
        import numpy as np

        return float(self._ppf(np.asarray([q]))[0])

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        return self._ppf(rng.random(n))

    def _ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        spec = self.spec
        from statistics import NormalDist

        import numpy as np

        z = np.asarray([NormalDist().inv_cdf(float(min(max(x, 1e-12), 1 - 1e-12))) for x in u])
        if isinstance(spec, NormalSpec):
            out = spec.mean + spec.sd * z
        elif isinstance(spec, UniformSpec):
            out = spec.low + (spec.high - spec.low) * u
        elif isinstance(spec, TriangularSpec):
            a, c, b = spec.low, spec.mode, spec.high
            cut = (c - a) / (b - a)
            out = np.where(
                u < cut,
                a + np.sqrt(u * (b - a) * (c - a)),
                b - np.sqrt((1 - u) * (b - a) * (b - c)),
            )
        elif isinstance(spec, LognormalSpec):
            sigma = math.log(spec.p90 / spec.p50) / Z90
            out = spec.p50 * np.exp(sigma * z)
        else:
            if spec.low > 0:
                mu = (math.log(spec.low) + math.log(spec.high)) / 2
                sigma = (math.log(spec.high) - math.log(spec.low)) / (2 * Z95)
                out = np.exp(mu + sigma * z)
            else:
                mean, sd = (spec.low + spec.high) / 2, (spec.high - spec.low) / (2 * Z95)
                out = mean + sd * z
        result = np.asarray(out, dtype=np.float64)
        return np.rint(result) if self.integer else result


@dataclass(frozen=True)
class Curve:
    """A numeric input that changes month by month."""

    path: PathKey
    spec: Any
    integer: bool
    start: dt.date | None

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)

    def value_at(self, month: int) -> float:
        spec = self.spec
        if isinstance(spec, ConstantCurve):
            value = spec.value
        elif isinstance(spec, LinearCurve):
            value = spec.start + spec.per_month * month
        elif isinstance(spec, ExponentialCurve):
            value = spec.start * spec.factor_per_year ** (month / 12)
        elif isinstance(spec, StepsCurve):
            value = spec.start
            for key, step in sorted(spec.steps.items(), key=lambda kv: self._m(kv[0])):
                if month >= self._m(key):
                    value = step
        else:
            import numpy as np

            points = sorted((self._m(k), v) for k, v in spec.points.items())
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            value = float(np.interp(month, xs, ys))
        return float(round(value)) if self.integer else float(value)

    def _m(self, key: str) -> int:
        return _month_index(key, self.start)


@dataclass(frozen=True)
class ParamSet:
    uncertain: tuple[Uncertain, ...] = ()
    curves: tuple[Curve, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.uncertain and not self.curves


def _is_integer_at(path: PathKey) -> bool:
    kinds = {c for a in annotations_at(Scenario, path) for c in unwrap(a)}
    return int in kinds and float not in kinds


def _metadata(annotation: Any) -> list[Any]:
    """The `Annotated` metadata anywhere in an annotation (unions unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return [*extra, *_metadata(inner)]
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _metadata(arg)]
    return []


def _curve_rounds_at(path: PathKey) -> bool:
    """Whether the integer field at `path` is a count a curve may drive (`CurveRounds`)."""
    if not path:
        return False
    for parent in annotations_at(Scenario, path[:-1]):
        for candidate in unwrap(parent):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                info = candidate.model_fields.get(str(path[-1]))
                if info is not None and any(
                    isinstance(m, CurveRounds)
                    for m in [*info.metadata, *_metadata(info.annotation)]
                ):
                    return True
    return False


def _whole(value: float, integer: bool) -> float | int:
    """An integer field's value as an int (strict integer fields refuse 3.0)."""
    return round(value) if integer else value


def _looks_like_spec(node: Any) -> bool:
    return isinstance(node, dict) and (
        "dist" in node or "curve" in node or {"low", "high"} <= set(node)
    )


def extract(doc: Document) -> tuple[Document, ParamSet]:
    """Take distributions and curves out of the document; leave their base values."""
    data = copy.deepcopy(doc.data)
    uncertain: list[Uncertain] = []
    curves: list[Curve] = []
    problems: list[Problem] = []
    start = _horizon_start(data)

    def visit(node: Any, path: PathKey) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            here = (*path, key)
            if here == ("variants",):
                continue
            if _looks_like_spec(value) and is_numeric_at(Scenario, here):
                integer = _is_integer_at(here)
                if integer and "curve" in value and not _curve_rounds_at(here):
                    file, line = doc.locate(here)
                    message = (
                        f"an integer field cannot follow a curve (got curve {value['curve']!r}): "
                        "its monthly values would be rounded; give one whole number, or a "
                        "variant per value (curves drive counts such as users)"
                    )
                    problems.append(Problem(file, line, ".".join(map(str, here)), message))
                    continue
                try:
                    if "curve" in value:
                        curve = Curve(here, _CURVE.validate_python(value), integer, start)
                        curves.append(curve)
                        node[key] = _whole(curve.value_at(0), integer)
                    else:
                        spec = Uncertain(here, _DIST.validate_python(value), integer)
                        uncertain.append(spec)
                        node[key] = _whole(spec.quantile(0.5), integer)
                except ValidationError as exc:
                    problems.extend(problems_from_validation(exc, value, _shift(doc, here)))
                except ValueError as exc:
                    file, line = doc.locate(here)
                    problems.append(Problem(file, line, ".".join(map(str, here)), str(exc)))
            elif isinstance(value, dict | list):
                visit(value, here)

    visit(data, ())
    if problems:
        raise ConfigError(problems)
    return Document(data, doc.origins, doc.files), ParamSet(tuple(uncertain), tuple(curves))


def _shift(doc: Document, prefix: PathKey) -> Any:
    def locate(path: PathKey) -> tuple[str, int | None]:
        return doc.locate((*prefix, *path))

    return locate


def _horizon_start(data: dict[str, Any]) -> dt.date | None:
    horizon = data.get("horizon")
    value = horizon.get("start") if isinstance(horizon, dict) else None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value + "-01" if len(value) == 7 else value)
        except ValueError:
            return None
    return None


def materialize(doc: Document, values: Mapping[PathKey, float]) -> Document:
    """The document with these values put at their paths (whole numbers as ints where the
    field is an integer: a sampled 3.0 replicas is 3)."""
    data = copy.deepcopy(doc.data)
    for path, value in values.items():
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        whole = isinstance(value, float) and value.is_integer() and _is_integer_at(path)
        node[path[-1]] = int(value) if whole else value
    return Document(data, doc.origins, doc.files)


def month_values(params: ParamSet, month: int) -> dict[PathKey, float]:
    return {curve.path: curve.value_at(month) for curve in params.curves}
