"""Traffic from user populations, for deployments that no request class describes.

A population says how many users there are and how much each uses per month, not when they
send requests. To price their tokens the engine still has to serve some: each self-hosted
deployment that only populations use gets one derived Poisson class at the populations'
average rate in the first month (caps ignored: an upper bound), with each population's mean
prompt and output lengths. The economics then prices every population's tokens at the
per-token cost that fleet achieved.
"""

from __future__ import annotations

from infersim.economics.routing import deployment_mix
from infersim.economics.users import usage_params
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Fixed, Poisson, RequestClass, UserPopulation
from infersim.workload.stream import class_share

SECONDS_PER_MONTH = 730.0 * 3600.0
DERIVED_PREFIX = "users-"


def _population_share(scenario: Scenario, name: str, deployment: str) -> float:
    """Requests `deployment` serves per request of the population: the economics' own mix
    (named deployment, the only one, or the router's plan), so both price the same traffic."""
    pop = scenario.workload.users[name]
    mix = deployment_mix(pop.deployment, scenario, f"workload.users.{name}")
    return mix.get(deployment, 0.0)


def population_rate_per_s(pop: UserPopulation) -> float:
    """The population's requests per second in its first month."""
    mean = usage_params(pop.requests_per_user_per_month).mean
    return pop.users * pop.active_share * mean / SECONDS_PER_MONTH


def derived_classes(scenario: Scenario) -> dict[str, RequestClass]:
    """One Poisson class per self-hosted deployment that only user populations use."""
    out: dict[str, RequestClass] = {}
    for name, dep in scenario.deployments.items():
        if not isinstance(dep, SelfHosted):
            continue
        if any(class_share(scenario, c, name) > 0 for c in scenario.workload.classes):
            continue
        weighted = [
            (population_rate_per_s(pop) * _population_share(scenario, key, name), pop)
            for key, pop in scenario.workload.users.items()
        ]
        rate = sum(w for w, _ in weighted)
        if rate <= 0:
            continue
        prompt = sum(w * p.prompt_tokens_per_request for w, p in weighted) / rate
        output = sum(w * p.output_tokens_per_request for w, p in weighted) / rate
        cached = sum(w * p.cached_prefix_share for w, p in weighted) / rate
        class_name = DERIVED_PREFIX + name
        while class_name in scenario.workload.classes:
            class_name += "_"
        out[class_name] = RequestClass(
            arrival=Poisson(process="poisson", rate_per_s=min(rate, 1e7)),
            prompt_tokens=Fixed(dist="fixed", tokens=max(1, round(prompt))),
            output_tokens=Fixed(dist="fixed", tokens=max(1, round(output))),
            deployment=name,
            cached_prefix_share=cached,
        )
    return out


def with_derived_classes(scenario: Scenario) -> tuple[Scenario, tuple[str, ...]]:
    """The scenario with the derived classes added, and their names."""
    return with_classes(scenario, derived_classes(scenario))


def with_classes(
    scenario: Scenario, extra: dict[str, RequestClass]
) -> tuple[Scenario, tuple[str, ...]]:
    """The scenario with these classes added, and their names."""
    if not extra:
        return scenario, ()
    workload = scenario.workload.model_copy(
        update={"classes": {**scenario.workload.classes, **extra}}
    )
    return scenario.model_copy(update={"workload": workload}), tuple(extra)
