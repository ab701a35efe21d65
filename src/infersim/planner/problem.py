"""What the planner plans: one self-hosted deployment's traffic, as `infersim run` serves it.

The traffic is the first month's, built as the run builds it (`infersim.pipeline.run`): the
request classes plus the classes the user populations send (drawn from the economics stream
of the scenario's seed). A candidate is simulated in that scenario with its levers set on the
deployment and `fleet.mode: size_to_slo`, so that the plan written back (the same deployment,
`fleet.mode: fixed` at the sized replica count) runs the very samples the sizing judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infersim.catalog.load import Catalog
from infersim.economics import draw_populations
from infersim.errors import UsageError
from infersim.pipeline.demand import PopulationTraffic, population_traffic, with_classes
from infersim.pipeline.run import ECONOMICS_STREAM
from infersim.planner.providers import provider_quote
from infersim.planner.space import Candidate, candidate_deployment
from infersim.scenario.deployment import OwnedGpu, RentedGpu, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Trace
from infersim.workload.lengths import mean_tokens, sample_tokens
from infersim.workload.stream import expected_class_requests, expected_requests
from infersim.workload.trace import ExternalData

#: Draws of the length distributions behind the screen's prompt-length floor.
LENGTH_DRAWS = 20_000
#: Chance the screen accepts that a run's p99 prompt is shorter than its prompt floor.
FLOOR_RISK = 1e-6


@dataclass(frozen=True)
class PlanProblem:
    """The served scenario, the deployment planned in it, and workload figures the screen
    uses. Picklable: verification workers receive it once."""

    scenario: Scenario
    """As the run serves its first month: population classes included."""
    traffic: Mapping[str, PopulationTraffic]
    catalog: Catalog
    data: ExternalData
    name: str
    seed: int
    base: SelfHosted
    base_cost: RentedGpu | OwnedGpu
    offered_rps: float
    mean_prompt_tokens: float
    mean_output_tokens: float
    """Means of the traffic's lengths, each class by its volume (as the simulation's
    capacity figure takes them)."""
    floor_prompt_tokens: float
    """A prompt length the p99 prompt of the measured requests of any run exceeds but with
    chance `FLOOR_RISK` (`prompt_floor_quantile`; 1 when a trace gives the lengths): the
    screen's TTFT floor prefills it alone, with the largest prefix-cache share of a class."""
    cached_share_max: float
    multi_token_outputs: bool
    """Whether some requests generate more than one token (else no TPOT is measured)."""
    providers: tuple[str, ...] | None = None
    """The providers whose catalog quotes price rented GPUs (lower case; None: any quote)."""

    def scenario_for(
        self, candidate: Candidate, replicas: int | None = None, prefill_replicas: int | None = None
    ) -> Scenario:
        """The served scenario with the candidate on the planned deployment: sized to the
        SLO (a disaggregated candidate: both pools), or with `replicas` replicas
        (`fleet.mode: fixed`), `prefill_replicas` of them in the prefill pool when it is
        disaggregated."""
        deployment = self._priced(candidate_deployment(self.base, self.base_cost, candidate))
        mode = "size_to_slo"
        if replicas is not None:
            deployment = deployment.model_copy(update={"replicas": replicas})
            mode = "fixed"
        deployments = {**self.scenario.deployments, self.name: deployment}
        fleet = self.scenario.fleet.model_copy(
            update={
                "mode": mode,
                "disaggregated": candidate.disaggregated,
                "prefill_replicas": prefill_replicas if candidate.disaggregated else None,
            }
        )
        return self.scenario.model_copy(update={"deployments": deployments, "fleet": fleet})

    def _priced(self, deployment: SelfHosted) -> SelfHosted:
        """A rented deployment priced from the provider list (`planner.providers`): the
        first quote of its kind from one of them, when one has it."""
        cost = deployment.cost
        if self.providers is None or not isinstance(cost, RentedGpu):
            return deployment
        if cost.usd_per_gpu_hour is not None:
            return deployment
        gpu = self.catalog.gpu_of(deployment.gpu)
        quote = provider_quote(gpu, cost.pricing, self.providers)
        if quote is None:
            return deployment
        priced = cost.model_copy(update={"usd_per_gpu_hour": quote.usd_per_hour})
        return deployment.model_copy(update={"cost": priced})

    def provider_miss(self, deployment: SelfHosted) -> str | None:
        """Why the provider list leaves the (priced) deployment without a price, or None."""
        cost = deployment.cost
        if self.providers is None or not isinstance(cost, RentedGpu):
            return None
        if cost.usd_per_gpu_hour is not None:
            return None
        gpu = self.catalog.gpu_of(deployment.gpu)
        return f"{gpu.id} has no '{cost.pricing}' quote from {', '.join(self.providers)}"


def self_hosted_name(scenario: Scenario, wanted: str | None) -> str:
    """The deployment to plan: `wanted`, or the scenario's only self-hosted one."""
    hosted = [n for n, d in scenario.deployments.items() if isinstance(d, SelfHosted)]
    if wanted is not None:
        if wanted not in scenario.deployments:
            raise UsageError(
                f"--deployment {wanted!r}: no such deployment (the scenario has: "
                f"{', '.join(scenario.deployments)})"
            )
        if wanted not in hosted:
            raise UsageError(f"--deployment {wanted!r}: an API deployment has no fleet to plan")
        return wanted
    if len(hosted) != 1:
        found = ", ".join(hosted) if hosted else "none"
        raise UsageError(
            f"the planner plans one self-hosted deployment; the scenario has {found}: "
            "name one with --deployment"
        )
    return hosted[0]


def prepare_problem(
    scenario: Scenario,
    catalog: Catalog,
    data: ExternalData,
    name: str,
    providers: tuple[str, ...] | None = None,
) -> PlanProblem:
    """The planning problem of deployment `name` (see the module doc); rented GPUs priced
    from `providers`' quotes only, when given (`planner.providers`)."""
    rng = np.random.default_rng(
        np.random.SeedSequence(scenario.seed, spawn_key=(ECONOMICS_STREAM,))
    )
    traffic = population_traffic(scenario, draw_populations(scenario, rng, 0))
    served = with_classes(scenario, {n: item.request_class for n, item in traffic.items()})
    horizon = served.horizon.simulated_s
    for other, dep in served.deployments.items():
        busy = other != name and isinstance(dep, SelfHosted)
        if busy and expected_requests(served, data, horizon, other) > 0:
            raise UsageError(
                f"deployment {other!r} also serves traffic: the planner sizes one fleet "
                f"({name!r}); plan a scenario whose self-hosted traffic goes to one deployment"
            )
    expected = expected_requests(served, data, horizon, name)
    if expected <= 0:
        raise UsageError(f"deployment {name!r} receives no traffic: nothing to plan")
    base = served.deployments[name]
    assert isinstance(base, SelfHosted)
    if base.pools is not None:
        raise UsageError(
            f"deployments.{name}.pools: the planner sizes a fleet of one GPU type; a mixed "
            "fleet (pools) is not planned yet: remove pools (and pool_routing)"
        )
    if base.prefill_pool is not None:
        raise UsageError(
            f"deployments.{name}.prefill_pool: the planner lays out both pools of a "
            "disaggregated candidate as the candidate (--tp, --ep); remove prefill_pool"
        )
    weights = expected_class_requests(served, data, horizon, name)
    fleet = served.fleet
    mean = min(expected, fleet.max_simulated_requests) * (1 - fleet.warmup_share)
    mean *= fleet.replications
    measured = max(1, math.floor(mean - 6 * math.sqrt(mean)))  # Poisson counts: 6 sigma low
    quantile = prompt_floor_quantile(measured)
    prompt, multi, cached = _length_draws(served, data, weights, base, quantile)
    return PlanProblem(
        scenario=served,
        traffic=traffic,
        catalog=catalog,
        data=data,
        name=name,
        seed=served.seed,
        base=base,
        base_cost=base.cost or served.costs.gpu,
        offered_rps=expected / horizon,
        mean_prompt_tokens=_mean(served, data, weights, "prompt_tokens"),
        mean_output_tokens=_mean(served, data, weights, "output_tokens"),
        floor_prompt_tokens=prompt,
        cached_share_max=cached,
        multi_token_outputs=multi,
        providers=providers,
    )


def _mean(
    scenario: Scenario, data: ExternalData, weights: Mapping[str, float], field: str
) -> float:
    total = math.fsum(w for w in weights.values() if w > 0)
    parts = [
        w * mean_tokens(getattr(scenario.workload.classes[c], field), data.empirical)
        for c, w in weights.items()
        if w > 0
    ]
    return math.fsum(parts) / total


def prompt_floor_quantile(measured: int) -> float:
    """The highest quantile q of the prompt lengths that the p99 of `measured` draws (numpy's
    linear interpolation) is below with chance at most `FLOOR_RISK`: that needs no more than
    k of the draws above the q-quantile, k = n - 1 - floor(0.99 (n - 1)), a binomial tail."""
    n = measured
    k = n - 1 - math.floor(0.99 * (n - 1))
    low, high = 0.0, 0.99
    if _binomial_cdf(k, n, 1.0 - low) > FLOOR_RISK:
        return 0.0
    for _ in range(50):
        middle = (low + high) / 2
        if _binomial_cdf(k, n, 1.0 - middle) <= FLOOR_RISK:
            low = middle
        else:
            high = middle
    return low


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(min(k, n) + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        total += math.exp(log_term + i * log_p + (n - i) * log_q)
    return min(total, 1.0)


def _length_draws(
    scenario: Scenario,
    data: ExternalData,
    weights: Mapping[str, float],
    base: SelfHosted,
    quantile: float,
) -> tuple[float, bool, float]:
    """The traffic's prompt length at `quantile` (less the draws' own error), whether any
    output is longer than one token, and the largest share of a prompt the prefix cache may
    serve (deterministic draws). A request's cached share is its class's, or the
    deployment's where the class gives none; a trace gives each request's lengths and cached
    prefix: no floor is taken from them."""
    # without prefix caching the engine caches nothing (`serving.simulate.with_prefix_caching`)
    cached = 0.0 if base.prefix_caching is None else base.prefix_caching.cached_share
    rng = np.random.default_rng(0)
    total = math.fsum(w for w in weights.values() if w > 0)
    prompts: list[NDArray[np.float64]] = []
    multi = False
    for name, weight in weights.items():
        if weight <= 0:
            continue
        cls = scenario.workload.classes[name]
        n = max(1, round(LENGTH_DRAWS * weight / total))
        if isinstance(cls.arrival, Trace):
            prompts.append(np.ones(n))
            multi = True
            cached = 1.0 if base.prefix_caching is not None else cached
            continue
        # a class that is not a trace has both length distributions (the schema's rule)
        assert cls.prompt_tokens is not None and cls.output_tokens is not None
        prompts.append(sample_tokens(cls.prompt_tokens, n, rng, data.empirical).astype(float))
        outputs = sample_tokens(cls.output_tokens, n, rng, data.empirical)
        multi = multi or bool(np.any(outputs > 1))
        if base.prefix_caching is not None:
            cached = max(cached, cls.cached_prefix_share)
    drawn = np.concatenate(prompts)
    error = 3 * math.sqrt(quantile * (1 - quantile) / drawn.size)
    at = max(0.0, quantile - error)
    return float(np.quantile(drawn, at, method="inverted_cdf")) if at > 0 else 1.0, multi, cached
