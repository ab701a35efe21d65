"""The router: which deployment serves a request, and what quality that buys.

Requests carry a difficulty d, normal with the routing's mean and spread, clipped to [0, 1].
A model of quality q (its `quality`, less its quantization penalty) answers a request well
with probability P(q, d) = 1 / (1 + exp(-(q - d) / width)).

- fixed_split: the shares given.
- difficulty: each request goes to the first model in `order` (cheapest first) whose P(q, d)
  reaches `quality_target`, else to the last (the frontier); P(q, d) >= target is
  d <= q - width x logit(target), so each model takes a band of difficulties.
- cascade: every request goes to the first model; a share `escalation_probability` of what
  each model answers is escalated to the next, served and paid again there.

Everything is computed on a fine grid of difficulties: deterministic, no sampling.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infersim.perf.precision import quality_penalty
from infersim.scenario.deployment import ApiModel, RouterKind, Routing, SelfHosted
from infersim.scenario.model import Scenario

if TYPE_CHECKING:  # numpy is imported where a plan is computed: `validate` may not need it
    import numpy as np
    from numpy.typing import NDArray


@functools.cache
def _grid() -> NDArray[np.float64]:
    """The difficulties, on [0, 1] (read-only: shared by every plan)."""
    import numpy as np

    grid = np.linspace(0.0, 1.0, 2001)
    grid.flags.writeable = False
    return grid


@dataclass(frozen=True)
class RoutePlan:
    """Requests each deployment serves per routed request, and the quality delivered."""

    served_per_request: dict[str, float]
    """Sums to 1, or more for a cascade (escalated requests are served twice)."""
    quality: float
    """Expected success probability of the answer a routed request finally gets."""
    frontier: str
    frontier_quality: float
    """The same, had every request gone to the frontier (the last deployment in `order`)."""


def effective_quality(scenario: Scenario, name: str) -> float | None:
    """A deployment's quality after its quantization penalty (None when not given)."""
    dep = scenario.deployments[name]
    if isinstance(dep, ApiModel):
        return dep.quality
    assert isinstance(dep, SelfHosted)
    if dep.quality is None:
        return None
    return dep.quality * (1.0 - quality_penalty(dep.precision))


def _difficulty_weights(routing: Routing) -> NDArray[np.float64]:
    """Probability mass of each grid point (a normal clipped to [0, 1]: the tails pile up at
    the ends)."""
    import numpy as np

    mean, spread = routing.difficulty_mean, routing.difficulty_spread
    grid = _grid()
    edges = np.concatenate(([-np.inf], (grid[1:] + grid[:-1]) / 2, [np.inf]))
    cdf = np.array([0.5 * math.erfc(-(x - mean) / (spread * math.sqrt(2))) for x in edges])
    return np.diff(cdf)


def success(quality: float, difficulty: NDArray[np.float64], width: float) -> NDArray[np.float64]:
    import numpy as np

    result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(quality - difficulty) / width))
    return result


def plan_routes(scenario: Scenario, quality_target: float | None = None) -> RoutePlan:
    """The routing's shares and quality (`quality_target` overrides the scenario's)."""
    routing = scenario.routing
    if routing is None:
        raise ValueError("the scenario has no routing")
    import numpy as np

    grid = _grid()
    weights = _difficulty_weights(routing)
    width = routing.quality_curve_width
    names = list(routing.order) if routing.order else list(routing.split)
    qualities = {name: effective_quality(scenario, name) for name in names}
    frontier = names[-1]

    def expected(name: str, mask: NDArray[np.bool_] | None = None) -> float:
        q = qualities[name]
        if q is None:
            return math.nan
        w = weights if mask is None else weights * mask
        return float((success(q, grid, width) * w).sum())

    frontier_quality = expected(frontier)
    if routing.strategy is RouterKind.FIXED_SPLIT:
        total = sum(routing.split.values())
        served = {name: share / total for name, share in routing.split.items()}
        quality = sum(share * expected(name) for name, share in served.items())
        return RoutePlan(served, quality, frontier, frontier_quality)
    if routing.strategy is RouterKind.CASCADE:
        p = routing.escalation_probability or 0.0
        served = {name: p**index for index, name in enumerate(names)}
        # the answer kept is the last model's a request reaches
        kept = {name: served[name] * (1 - p if name != frontier else 1.0) for name in names}
        quality = sum(kept[name] * expected(name) for name in names)
        return RoutePlan(served, quality, frontier, frontier_quality)
    target = routing.quality_target if quality_target is None else quality_target
    assert target is not None
    unassigned = np.ones_like(grid, dtype=bool)
    served = {}
    quality = 0.0
    for name in names:
        q = qualities[name]
        assert q is not None  # validation requires a quality for every routed deployment
        able = success(q, grid, width) >= target
        mine = unassigned if name == frontier else unassigned & able
        served[name] = float(weights[mine].sum())
        quality += expected(name, mine)
        unassigned = unassigned & ~mine
    return RoutePlan(served, quality, frontier, frontier_quality)


def class_share(scenario: Scenario, class_name: str, deployment: str) -> float:
    """The share of a class's requests that `deployment` serves."""
    cls = scenario.workload.classes[class_name]
    if cls.deployment is not None:
        return 1.0 if cls.deployment == deployment else 0.0
    routing = scenario.routing
    if routing is None:
        return 1.0 if deployment == next(iter(scenario.deployments)) else 0.0
    return plan_routes(scenario).served_per_request.get(deployment, 0.0)


def frontier_curve(scenario: Scenario, targets: list[float]) -> list[tuple[float, RoutePlan]]:
    """The difficulty router's plan at each quality target: the cost-quality trade-off."""
    return [(target, plan_routes(scenario, target)) for target in targets]
