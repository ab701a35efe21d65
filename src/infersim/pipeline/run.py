"""`run_scenario`: each month, the demand, its serving, the ledger, then the economics.

One demand model (`infersim.pipeline.demand`): every month, the users are drawn (the same
users every month, with common random numbers; their usage grown), and all the month's
traffic, request classes and user populations alike, is served by the simulated fleets. The
ledger then books what the fleets served and what they cost (`infersim.pipeline.ledger`).

With curves (`infersim.scenario.params`), month m runs on the scenario as it stands that
month. Serving is simulated again only for months whose served traffic or serving inputs
(deployments, fleet, request classes, population traffic, routing, simulated time) differ
from a month already simulated; a price changing only re-prices. A month after the first
that needs a new simulation runs one replication (`fleet.replications` applies to the first
month, whose serving figures and confidence intervals are reported).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics import EconomicsResult, draw_populations, evaluate_month
from infersim.economics.margins import Detail
from infersim.economics.value_chain import FleetInputs, ValueChainResult, value_chain
from infersim.levers.breakeven import Breakeven, run_breakevens
from infersim.levers.routing import RoutingReport, routing_report
from infersim.pipeline.demand import PopulationTraffic, population_traffic, with_classes
from infersim.pipeline.ledger import Ledger, build_ledger
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.economics import Energy
from infersim.scenario.load import LoadedScenario
from infersim.scenario.model import Scenario
from infersim.scenario.params import ParamSet, month_values
from infersim.serving.result import DeploymentServing, ServingResult
from infersim.serving.simulate import simulate
from infersim.workload.trace import ExternalData

Progress = Callable[[str, float], None]
Materialize = Callable[[dict[tuple[str | int, ...], float]], Scenario]

#: Spawn key of the economics' random stream (the engine uses (replication, deployment)).
ECONOMICS_STREAM = 10_000
SERVING_KEYS = ("deployments", "fleet", "routing", "catalog")


@dataclass(frozen=True)
class RunResult:
    scenario: Scenario
    serving: ServingResult
    ledger: Ledger
    months: tuple[EconomicsResult, ...]
    traffic: Mapping[str, PopulationTraffic]
    """Classes the run added to serve user populations in the first month (see
    `pipeline.demand`), by class name."""
    routing: RoutingReport | None
    """The router's trade-off in the first month (None: no routing)."""
    breakevens: tuple[Breakeven, ...]
    """Self-hosting against each API deployment, first month (empty: not both kinds)."""
    value_chain: ValueChainResult | None = None
    """Who earns each dollar of the first month's revenue (None: no costs.value_chain)."""

    @property
    def derived_classes(self) -> tuple[str, ...]:
        return tuple(self.traffic)

    @property
    def first_month(self) -> EconomicsResult:
        return self.months[0]

    def capacity_warnings(self) -> list[str]:
        """One line per deployment whose verdict is not ok, and one per month in which the
        fleets left demand unserved (the first such month, and the worst)."""
        lines = [
            f"deployment '{d.name}': {d.verdict}"
            for d in self.serving.deployments
            if d.verdict is not None
        ]
        short = [m for m in self.months if m.pnl.unserved_requests > 0]
        if short:
            worst = max(short, key=lambda m: m.pnl.unserved_share)
            lines.append(
                f"the fleets could not serve {worst.pnl.unserved_share:.1%} of the requests "
                f"in month {worst.month + 1} ({worst.pnl.unserved_requests:,.0f} requests, "
                f"${worst.pnl.revenue_foregone_usd:,.0f} of per-token revenue foregone); "
                f"first short month: {short[0].month + 1}. Add replicas, or size the fleet "
                "(fleet.mode: size_to_slo or autoscale)"
            )
        return lines


def serving_signature(scenario: Scenario) -> str:
    """What the engine's result depends on (seed aside), as a stable string."""
    parts: dict[str, object] = {
        key: scenario.model_dump(mode="json", include={key}) for key in SERVING_KEYS
    }
    parts["classes"] = {k: v.model_dump(mode="json") for k, v in scenario.workload.classes.items()}
    parts["simulated_s"] = scenario.horizon.simulated_s
    if any(isinstance(d, SelfHosted) and d.pools for d in scenario.deployments.values()):
        # a mixed fleet routes by its pools' prices, which default to the scenario's
        parts["gpu_cost"] = scenario.costs.gpu.model_dump(mode="json")
    return json.dumps(parts, sort_keys=True)


def run_scenario(
    scenario: Scenario,
    catalog: Catalog,
    data: ExternalData | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    params: ParamSet | None = None,
    materialize: Materialize | None = None,
    serving_cache: dict[str, ServingResult] | None = None,
    detail: Detail = "full",
) -> RunResult:
    """Serve each month's demand and price it, month by month over the scenario's horizon.

    `params` and `materialize` (from a `LoadedScenario`) give each month its curves' values;
    `serving_cache` reuses serving results across calls (Monte Carlo samples, sweeps).
    `detail`: how much of the first month's per-user margin distributions to compute (the
    outputs show that month's; later months compute their totals only, see
    `infersim.economics.margins.Detail`).
    """
    data = data or ExternalData()
    seed = scenario.seed if seed is None else seed
    cache = serving_cache if serving_cache is not None else {}
    curves = params.curves if params is not None else ()
    months: list[EconomicsResult] = []
    econ_seed = np.random.SeedSequence(seed, spawn_key=(ECONOMICS_STREAM,))
    first: tuple[ServingResult, Ledger, Mapping[str, PopulationTraffic]] | None = None
    deployments: dict[str, DeploymentServing] = {}  # by deployment_signature
    for month in range(scenario.horizon.months):
        current = scenario
        if curves and month > 0 and materialize is not None and params is not None:
            current = materialize(month_values(params, month))
        rng = np.random.default_rng(econ_seed)  # the same users every month
        samples = draw_populations(current, rng, month)
        traffic = population_traffic(current, samples)
        served_scenario = with_classes(
            current, {name: item.request_class for name, item in traffic.items()}
        )
        stage = _month_progress(progress, month, scenario.horizon.months)
        serving = _serve(served_scenario, catalog, data, seed, stage, cache, month > 0, deployments)
        ledger = build_ledger(served_scenario, catalog, serving, data, traffic)
        if first is None:
            first = (serving, ledger, traffic)
        months.append(
            evaluate_month(
                current, catalog, ledger.token_costs, ledger.volumes, ledger.fleets, rng, month,
                samples=samples, served=ledger.served(),
                detail=detail if month == 0 else "totals",
            )
        )  # fmt: skip
        if stage is not None:
            stage("priced", 1.0)
    assert first is not None
    served, booked, added = first
    return RunResult(
        scenario=scenario,
        serving=served,
        ledger=booked,
        months=tuple(months),
        traffic=added,
        routing=routing_report(scenario, booked, served, catalog),
        breakevens=tuple(run_breakevens(scenario, booked, served, catalog)),
        value_chain=_value_chain(scenario, catalog, booked, months[0]),
    )


def _value_chain(
    scenario: Scenario, catalog: Catalog, ledger: Ledger, month: EconomicsResult
) -> ValueChainResult | None:
    """The first month's revenue split among who earns it, if the scenario asks."""
    chain = scenario.costs.value_chain
    if chain is None:
        return None
    energy = {use.deployment: use for use in ledger.energy}
    fleets: dict[str, FleetInputs] = {}
    for fleet in ledger.fleets:
        dep = scenario.deployments[fleet.deployment]
        assert isinstance(dep, SelfHosted)
        pools = ledger.pools.get(fleet.deployment)
        if pools is not None:  # a mixed fleet: each pool at its own GPU's price and power
            used = energy.get(fleet.deployment)
            pool_energy = {u.pool: u for u in used.pools} if used is not None else {}
            for pool in pools:
                fleets[pool.fleet.deployment] = FleetInputs(
                    pool.fleet, pool.gpu, pool.hour_cost, pool_energy.get(pool.pool)
                )
            continue
        fleets[fleet.deployment] = FleetInputs(
            fleet,
            catalog.gpu_of(dep.gpu),
            ledger.gpu_costs[fleet.deployment],
            energy.get(fleet.deployment),
        )
    return value_chain(chain, scenario.costs.energy or Energy(), fleets, month.pnl)


def _month_progress(progress: Progress | None, month: int, months: int) -> Progress | None:
    """Month m's stages reported as the run's share done: (m + stage's fraction) / months."""
    if progress is None:
        return None
    outer = progress

    def report(stage: str, fraction: float) -> None:
        label = f"month {month + 1}/{months}: {stage}" if months > 1 else stage
        outer(label, (month + fraction) / months)

    return report


def _serve(
    scenario: Scenario,
    catalog: Catalog,
    data: ExternalData,
    seed: int,
    progress: Progress | None,
    cache: dict[str, ServingResult],
    projection: bool,
    deployments: dict[str, DeploymentServing],
) -> ServingResult:
    """The engine's result for this traffic: cached, and for a projection month not yet
    simulated, one replication (see the module doc); within it, a deployment whose own
    traffic did not change is not simulated again (`deployments`, this run's)."""
    key = f"{seed}:{serving_signature(scenario)}"
    if key in cache:
        return cache[key]
    if projection and scenario.fleet.replications > 1:
        fleet = scenario.fleet.model_copy(update={"replications": 1})
        scenario = scenario.model_copy(update={"fleet": fleet})
        key = f"{seed}:{serving_signature(scenario)}"
        if key in cache:
            return cache[key]
    cache[key] = simulate(scenario, seed, catalog, data, progress, deployments)
    return cache[key]


def run_loaded(
    loaded: LoadedScenario,
    data: ExternalData | None = None,
    progress: Progress | None = None,
    serving_cache: dict[str, ServingResult] | None = None,
    detail: Detail = "full",
) -> RunResult:
    """`run_scenario` for a loaded file: its curves give each month its values."""

    def materialize(values: dict[tuple[str | int, ...], float]) -> Scenario:
        return loaded.with_values(values).scenario

    return run_scenario(
        loaded.scenario, loaded.catalog, data, progress=progress, params=loaded.params,
        materialize=materialize, serving_cache=serving_cache, detail=detail,
    )  # fmt: skip
