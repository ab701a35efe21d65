"""Where a user population's requests are served: requests served per request, by deployment.

- a population that names a deployment: all there;
- a scenario with one deployment: all there;
- routing `fixed_split`: the split;
- routing `difficulty` or `cascade`: the same mix as the engine's routed traffic (the
  `ClassVolume`s of classes without a deployment). A difficulty router sends each request to
  one deployment, so shares are requests there over all routed requests; a cascade sends every
  request to the first deployment and escalates some, so shares are requests there over
  requests on the first (they add up to more than 1: escalated requests are served twice).
"""

from __future__ import annotations

from collections.abc import Sequence

from infersim.economics.errors import EconomicsError
from infersim.economics.inputs import ClassVolume
from infersim.scenario.deployment import RouterKind
from infersim.scenario.model import Scenario

Mix = dict[str, float]


def deployment_mix(
    named: str | None, scenario: Scenario, volumes: Sequence[ClassVolume], owner: str
) -> Mix:
    """Requests served on each deployment per request of `owner` (see the module doc)."""
    if named is not None:
        _known(named, scenario, owner)
        return {named: 1.0}
    if len(scenario.deployments) == 1:
        return {next(iter(scenario.deployments)): 1.0}
    routing = scenario.routing
    if routing is None:
        raise EconomicsError(
            f"{owner}: several deployments ({', '.join(scenario.deployments)}) and no routing; "
            "name one with 'deployment'"
        )
    if routing.strategy is RouterKind.FIXED_SPLIT:
        return {name: share for name, share in routing.split.items() if share > 0}
    routed = {n for n, cls in scenario.workload.classes.items() if cls.deployment is None}
    requests: Mix = {}
    for volume in volumes:
        if volume.name in routed:
            requests[volume.deployment] = (
                requests.get(volume.deployment, 0.0) + volume.requests_per_month
            )
    if routing.strategy is RouterKind.CASCADE:
        distinct = requests.get(routing.order[0], 0.0)
    else:
        distinct = sum(requests.values())
    if distinct <= 0:
        raise EconomicsError(
            f"{owner}: routed by '{routing.strategy.value}', whose split over deployments "
            "comes from the engine's routed traffic, and the volumes hold none; name a "
            "deployment for the population, or give the routed classes' volumes"
        )
    return {name: count / distinct for name, count in requests.items() if count > 0}


def _known(name: str, scenario: Scenario, owner: str) -> None:
    if name not in scenario.deployments:
        raise EconomicsError(
            f"{owner}: unknown deployment '{name}'; known: {', '.join(scenario.deployments)}"
        )
