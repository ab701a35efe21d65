"""Where a user population's requests are served: requests served per request, by deployment.

- a population that names a deployment: all there;
- a scenario with one deployment: all there;
- otherwise the router's plan (`infersim.routing`): the split, the difficulty bands, or the
  cascade (whose shares add up to more than 1: escalated requests are served twice).
"""

from __future__ import annotations

from infersim.economics.errors import EconomicsError
from infersim.routing import plan_routes
from infersim.scenario.model import Scenario

Mix = dict[str, float]


def deployment_mix(named: str | None, scenario: Scenario, owner: str) -> Mix:
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
    return dict(plan_routes(scenario).served_per_request)


def _known(name: str, scenario: Scenario, owner: str) -> None:
    if name not in scenario.deployments:
        raise EconomicsError(
            f"{owner}: unknown deployment '{name}'; known: {', '.join(scenario.deployments)}"
        )
