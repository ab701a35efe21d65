"""The baseline file, tolerances, and the diff of new runs against it.

A baseline is JSON with a `schema_version`, the `infersim_version` that wrote it, optional
`tolerances`, and per scenario (`path` or `path#variant`) its key metrics: dotted paths to
numbers, keys sorted, so the file diffs cleanly in review. Runs are deterministic for a seed,
so an unchanged scenario diffs to exactly zero.

Tolerances decide what counts as changed: a metric changed when |new - old| exceeds
`abs + rel * |old|`. Each has a `level` (fail by default) for the verdict. They are keyed by
glob patterns over metric paths; the most specific pattern matching a metric wins (an exact
path, then the longest pattern); `*` is the default. Without any, every change counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from infersim.catalog.types import Strict
from infersim.checks.expectations import Level
from infersim.checks.inputs import InputChange, InputValue
from infersim.errors import ConfigError, Problem, UsageError, short_repr

SCHEMA_VERSION = 2
#: Versions this infersim reads: 1 is 2 without the scenarios' `inputs`.
READABLE_VERSIONS = frozenset({1, 2})

Status = Literal["unchanged", "changed", "added", "removed"]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Tolerance(Strict):
    """How much a metric may move before it counts as changed, and what a change means."""

    rel: NonNegative = Field(default=0.0, description="share of the old value, 0.01 = 1%")
    abs: NonNegative = Field(default=0.0, description="in the metric's own unit")
    level: Literal["warn", "fail"] = "fail"

    def allows(self, old: float, new: float) -> bool:
        return abs(new - old) <= self.abs + self.rel * abs(old)

    def describe(self) -> str:
        parts = [f"{self.rel * 100:g}%"] if self.rel else []
        parts += [f"{self.abs:g}"] if self.abs else []
        return " + ".join(parts) if parts else "exact"


class ScenarioRecord(Strict):
    """One scenario's (or variant's) key metrics in a baseline."""

    name: str
    variant: str | None = None
    metrics: dict[str, Annotated[float, Field(allow_inf_nan=False)]]
    inputs: dict[str, InputValue] = Field(default_factory=dict)
    """The resolved scenario by dotted path (`infersim.checks.inputs`); empty in a file of
    schema version 1."""


class Baseline(Strict):
    schema_version: int
    infersim_version: str
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioRecord] = Field(default_factory=dict)


def parse_baseline(data: Any, source: str, reader_version: str) -> Baseline:
    """Validate a parsed baseline; a file of another schema version is refused, saying why."""
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, None, "", "not an infersim baseline (a JSON object)")])
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(
            [Problem(source, None, "schema_version", "missing: not an infersim baseline")]
        )
    written_by = data.get("infersim_version", "an unknown version")
    if version < min(READABLE_VERSIONS):
        raise ConfigError(
            [
                Problem(
                    source,
                    None,
                    "schema_version",
                    f"{version} is older than the {min(READABLE_VERSIONS)} that infersim "
                    f"{reader_version} reads (written by infersim {written_by}); re-record it: "
                    f"infersim baseline PATHS... -o {source}",
                )
            ]
        )
    if version > SCHEMA_VERSION:
        raise ConfigError(
            [
                Problem(
                    source,
                    None,
                    "schema_version",
                    f"{version} is newer than infersim {reader_version} reads "
                    f"({SCHEMA_VERSION}; written by infersim {written_by}): upgrade infersim",
                )
            ]
        )
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            path = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"])
            if "input" in error and not isinstance(error["input"], dict | list):
                message += f", got {short_repr(error['input'])}"
            problems.append(Problem(source, None, path, message))
        raise ConfigError(problems) from None


def baseline_data(baseline: Baseline) -> dict[str, Any]:
    """The baseline as JSON-able data in a deterministic order."""
    return {
        "schema_version": baseline.schema_version,
        "infersim_version": baseline.infersim_version,
        "tolerances": {
            pattern: baseline.tolerances[pattern].model_dump()
            for pattern in sorted(baseline.tolerances)
        },
        "scenarios": {
            key: {
                "name": record.name,
                "variant": record.variant,
                "metrics": dict(sorted(record.metrics.items())),
                "inputs": dict(sorted(record.inputs.items())),
            }
            for key, record in sorted(baseline.scenarios.items())
        },
    }


def updated(
    old: Baseline | None,
    records: Mapping[str, ScenarioRecord],
    dropped: Sequence[str],
    version: str,
    tolerances: Mapping[str, Tolerance] | None = None,
) -> Baseline:
    """`old` with the scenarios that ran replaced, the `dropped` ones removed, the rest kept
    (scenarios not checked this time); tolerances kept unless given."""
    scenarios = dict(old.scenarios) if old is not None else {}
    for key in dropped:
        scenarios.pop(key, None)
    scenarios.update(records)
    kept = old.tolerances if old is not None else {}
    return Baseline(
        schema_version=SCHEMA_VERSION,
        infersim_version=version,
        tolerances=dict(tolerances) if tolerances is not None else dict(kept),
        scenarios=scenarios,
    )


# Tolerances -----------------------------------------------------------------------------------

TOLERANCE_EXAMPLE = "e.g. '1%', '0.5', 'margins.*.gross_margin_pct=0.5,2%,warn'"


def parse_tolerance(text: str) -> tuple[str, Tolerance]:
    """`[PATTERN=]SPEC`, SPEC a comma list of `N%` (relative), `N` (absolute), `warn|fail`."""
    pattern, _, spec = text.rpartition("=")
    pattern = pattern.strip() or "*"
    fields: dict[str, Any] = {}
    for token in (t.strip() for t in spec.split(",")):
        value: str | float
        if token in ("warn", "fail"):
            name, value = "level", token
        else:
            name = "rel" if token.endswith("%") else "abs"
            try:
                number = float(token.removesuffix("%"))
            except ValueError:
                raise UsageError(
                    f"--tolerance '{text}': '{token}' is not a number, a percentage, warn or "
                    f"fail ({TOLERANCE_EXAMPLE})"
                ) from None
            if not math.isfinite(number) or number < 0:
                raise UsageError(f"--tolerance '{text}': '{token}' must be a finite number >= 0")
            value = number / 100 if name == "rel" else number
        if name in fields:
            raise UsageError(f"--tolerance '{text}': {name} given twice ({TOLERANCE_EXAMPLE})")
        fields[name] = value
    return pattern, Tolerance(**fields)


def merge_tolerances(
    base: Mapping[str, Tolerance], overrides: Sequence[tuple[str, Tolerance]]
) -> dict[str, Tolerance]:
    """The baseline's tolerances with command-line ones replacing the same patterns."""
    merged = dict(base)
    merged.update(overrides)
    return merged


def tolerance_for(metric: str, tolerances: Mapping[str, Tolerance]) -> Tolerance:
    """The most specific tolerance for a metric: its exact path, else the longest pattern."""
    if metric in tolerances:
        return tolerances[metric]
    matches = [p for p in tolerances if fnmatchcase(metric, p)]
    if not matches:
        return Tolerance()
    return tolerances[max(matches, key=lambda p: (len(p.replace("*", "")), len(p)))]


# Diff -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDiff:
    metric: str
    old: float | None
    new: float | None
    status: Status
    level: Level
    tolerance: Tolerance
    same_as: tuple[str, ...] = ()
    """Other paths of the same figure (`margins.total.revenue_usd` for `pnl.revenue_usd`)."""

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def pct(self) -> float | None:
        """The change in percent of the old value's magnitude (none from zero)."""
        delta = self.delta
        if delta is None or self.old is None or self.old == 0:
            return None
        return 100 * delta / abs(self.old)

    @property
    def sign(self) -> str:
        """`+` added, `-` removed, `~` changed, ` ` unchanged."""
        return {"added": "+", "removed": "-", "changed": "~", "unchanged": " "}[self.status]


ScenarioStatus = Literal["compared", "added", "removed"]


@dataclass(frozen=True)
class ScenarioDiff:
    key: str
    status: ScenarioStatus
    metrics: tuple[MetricDiff, ...]
    inputs: tuple[InputChange, ...] = ()
    """The resolved inputs that differ from the baseline's."""
    inputs_recorded: bool = True
    """False when the baseline has no inputs for the scenario (schema version 1)."""

    @property
    def changes(self) -> tuple[MetricDiff, ...]:
        return tuple(m for m in self.metrics if m.status != "unchanged")

    @property
    def level(self) -> Level:
        levels = {m.level for m in self.metrics}
        return "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"


def diff_metrics(
    key: str,
    old: Mapping[str, float] | None,
    new: Mapping[str, float] | None,
    tolerances: Mapping[str, Tolerance],
) -> ScenarioDiff:
    """Compare one scenario's metrics with its baseline record.

    Levels: a change beyond tolerance and a metric that disappeared take the tolerance's level
    (fail by default); a new metric, a new scenario and a removed scenario are warnings.
    """
    status: ScenarioStatus = (
        "compared"
        if old is not None and new is not None
        else ("added" if old is None else "removed")
    )
    old, new = old or {}, new or {}
    out: list[MetricDiff] = []
    for metric in sorted({*old, *new}):
        tol = tolerance_for(metric, tolerances)
        before, after = old.get(metric), new.get(metric)
        if before is None:
            out.append(MetricDiff(metric, None, after, "added", "warn", tol))
        elif after is None:
            level: Level = tol.level if status == "compared" else "warn"
            out.append(MetricDiff(metric, before, None, "removed", level, tol))
        elif tol.allows(before, after):
            out.append(MetricDiff(metric, before, after, "unchanged", "ok", tol))
        else:
            out.append(MetricDiff(metric, before, after, "changed", tol.level, tol))
    return ScenarioDiff(key, status, tuple(out))
