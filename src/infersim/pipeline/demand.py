"""One demand model: a month's traffic, all of it, as arrival streams per deployment.

Request classes arrive as their arrival processes say (`workload.arrivals.mean_rate_per_s`
is the one definition of their mean rate). A user population says how many users there are
and how much each uses in a month, not when: its month (the users drawn for the economics,
the plan's cap and what happens past it, routed as the economics routes it:
`population_segment`) becomes one Poisson class per self-hosted deployment that serves it, at
that month's average rate, with the population's prompt and output lengths and cached prefix
share. The engine serves all of it on the same fleet as the request classes, and the
economics books exactly what it served. Deployments bought from an API need no simulation:
they serve what they are sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from infersim.economics.attribution import Usage
from infersim.economics.segments import population_segment
from infersim.economics.users import PopulationSample
from infersim.errors import InfersimError
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Fixed, Poisson, RequestClass

SECONDS_PER_MONTH = 730.0 * 3600.0
#: The highest arrival rate a scenario may state (the schema's bound on `rate_per_s`).
MAX_RATE_PER_S = 1e7
PREFIX = "users:"


class DemandError(InfersimError):
    """A population whose traffic cannot be simulated (e.g. beyond the highest rate)."""


@dataclass(frozen=True)
class PopulationTraffic:
    """One population's requests on one self-hosted deployment, as a class the engine serves."""

    population: str
    deployment: str
    offered: Usage
    """Requests and tokens per month the population sends there."""
    request_class: RequestClass


def class_name(population: str, deployment: str, several: bool, taken: set[str]) -> str:
    name = f"{PREFIX}{population}" + (f"@{deployment}" if several else "")
    while name in taken:
        name += "_"
    return name


def population_traffic(
    scenario: Scenario, samples: Mapping[str, PopulationSample]
) -> dict[str, PopulationTraffic]:
    """The month's population traffic on self-hosted deployments, by derived class name."""
    out: dict[str, PopulationTraffic] = {}
    taken = set(scenario.workload.classes)
    for name, pop in scenario.workload.users.items():
        offered: dict[str, list[Usage]] = {}
        for usage in population_segment(name, pop, scenario, samples[name]).usages:
            if isinstance(scenario.deployments[usage.deployment], SelfHosted):
                offered.setdefault(usage.deployment, []).append(usage)
        for deployment, usages in offered.items():
            total = Usage(
                name,
                deployment,
                math.fsum(u.requests for u in usages),
                math.fsum(u.input_tokens for u in usages),
                math.fsum(u.cached_input_tokens for u in usages),
                math.fsum(u.output_tokens for u in usages),
            )
            rate = total.requests / SECONDS_PER_MONTH
            if rate <= 0:
                continue
            if rate > MAX_RATE_PER_S:
                raise DemandError(
                    f"workload.users.{name}: {rate:.3g} requests/s on deployment '{deployment}' "
                    f"is beyond the {MAX_RATE_PER_S:.0e} requests/s the engine takes; lower "
                    "users or requests_per_user_per_month"
                )
            key = class_name(name, deployment, len(offered) > 1, taken)
            taken.add(key)
            out[key] = PopulationTraffic(
                name,
                deployment,
                total,
                RequestClass(
                    arrival=Poisson(process="poisson", rate_per_s=rate),
                    prompt_tokens=_fixed(pop.prompt_tokens_per_request),
                    output_tokens=_fixed(pop.output_tokens_per_request),
                    deployment=deployment,
                    cached_prefix_share=pop.cached_prefix_share,
                ),
            )
    return out


def _fixed(per_request: float) -> Fixed:
    """Every request of the population at its stated length (whole tokens)."""
    return Fixed(dist="fixed", tokens=max(1, int(np.rint(per_request))))


def with_classes(scenario: Scenario, extra: Mapping[str, RequestClass]) -> Scenario:
    """The scenario with these classes added (the engine then serves them too)."""
    if not extra:
        return scenario
    workload = scenario.workload.model_copy(
        update={"classes": {**scenario.workload.classes, **extra}}
    )
    return scenario.model_copy(update={"workload": workload})
