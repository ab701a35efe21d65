"""The verdict of `infersim check`: per scenario, its expectations and its diff.

A finding is anything that is not `ok`: a broken expectation or a metric changed beyond its
tolerance, added or removed. The check fails (exit 1) when any finding is at fail level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from infersim.checks.baseline import MetricDiff, ScenarioDiff
from infersim.checks.expectations import ExpectationResult, Level

Finding = ExpectationResult | MetricDiff | ScenarioDiff


#: Which path names a figure shown in several places: the P&L first, then the margins'
#: total, the projection, then the rest.
_CANONICAL = ("pnl.", "margins.total.", "projection.")


def _canonical_rank(path: str) -> tuple[int, int, str]:
    rank = next((i for i, p in enumerate(_CANONICAL) if path.startswith(p)), len(_CANONICAL))
    return rank, len(path), path


def one_per_figure(changes: Sequence[MetricDiff]) -> list[MetricDiff]:
    """Changes of one figure under several paths (`pnl.revenue_usd` is
    `margins.total.revenue_usd`; a plan sold alone is the total) as one: the same old and new
    value, the same status and level. The canonical path stays, naming the others in
    `same_as`; the order of first appearance is kept."""
    groups: dict[tuple[object, ...], list[MetricDiff]] = {}
    for change in changes:
        if change.status == "changed":
            key: tuple[object, ...] = (change.old, change.new, change.status, change.level)
        else:
            key = (change.metric,)
        groups.setdefault(key, []).append(change)
    out: list[MetricDiff] = []
    for group in groups.values():
        ordered = sorted(group, key=lambda m: _canonical_rank(m.metric))
        head, rest = ordered[0], ordered[1:]
        out.append(replace(head, same_as=tuple(m.metric for m in rest)) if rest else head)
    return out


def worst_level(levels: Sequence[Level]) -> Level:
    return "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"


@dataclass(frozen=True)
class ScenarioCheck:
    key: str
    """`path` or `path#variant`, as in the baseline."""
    name: str
    """The scenario's name, `name@variant` for a variant."""
    expectations: tuple[ExpectationResult, ...] = ()
    diff: ScenarioDiff | None = None
    """None when no baseline was given."""

    @property
    def level(self) -> Level:
        levels = [e.level for e in self.expectations]
        return worst_level([*levels, self.diff.level] if self.diff is not None else levels)

    def findings(self) -> list[Finding]:
        """What is not ok: broken expectations, then metric changes; a scenario new to the
        baseline or gone from it is one finding, not one per metric."""
        found: list[Finding] = [e for e in self.expectations if e.level != "ok"]
        if self.diff is not None and self.diff.status != "compared":
            found.append(self.diff)
        elif self.diff is not None:
            found.extend(one_per_figure([m for m in self.diff.changes if m.level != "ok"]))
        return found

    def count(self, level: Level) -> int:
        return sum(item.level == level for item in self.findings())


@dataclass(frozen=True)
class CheckOutcome:
    scenarios: tuple[ScenarioCheck, ...]
    baseline: str | None = None
    """Where the baseline was read from, if any."""

    @property
    def level(self) -> Level:
        return worst_level([s.level for s in self.scenarios])

    def count(self, level: Level) -> int:
        return sum(s.count(level) for s in self.scenarios)

    @property
    def expectations(self) -> int:
        return sum(len(s.expectations) for s in self.scenarios)

    @property
    def metrics_compared(self) -> int:
        return sum(len(s.diff.metrics) for s in self.scenarios if s.diff is not None)

    def changes(self) -> list[tuple[ScenarioCheck, MetricDiff]]:
        return [(s, m) for s in self.scenarios if s.diff is not None for m in s.diff.changes]

    def exit_code(self, exit_zero: bool = False) -> int:
        return 1 if self.level == "fail" and not exit_zero else 0
