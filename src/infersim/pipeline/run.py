"""`run_scenario`: serving, then the ledger, then every month of the economics.

With curves (`infersim.scenario.params`), month m runs on the scenario as it stands that
month. Serving is simulated again only for months whose serving inputs (deployments, fleet,
request classes, routing, simulated time) differ; a price or a user count changing only
re-prices. User populations keep the traffic they had in month 0 in the engine and are priced
at each month's per-token cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics import EconomicsResult, evaluate_month
from infersim.pipeline.ledger import Ledger, build_ledger
from infersim.pipeline.populations import derived_classes, with_classes
from infersim.scenario.load import LoadedScenario
from infersim.scenario.model import Scenario
from infersim.scenario.params import ParamSet, month_values
from infersim.scenario.workload import RequestClass
from infersim.serving.result import ServingResult
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
    derived_classes: tuple[str, ...]
    """Classes the run added to serve user populations (see `pipeline.populations`)."""

    @property
    def first_month(self) -> EconomicsResult:
        return self.months[0]


def serving_signature(scenario: Scenario) -> str:
    """What the engine's result depends on (seed aside), as a stable string."""
    parts: dict[str, object] = {
        key: scenario.model_dump(mode="json", include={key}) for key in SERVING_KEYS
    }
    parts["classes"] = {k: v.model_dump(mode="json") for k, v in scenario.workload.classes.items()}
    parts["simulated_s"] = scenario.horizon.simulated_s
    return json.dumps(parts, sort_keys=True)


def run_scenario(
    scenario: Scenario,
    catalog: Catalog,
    data: ExternalData | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    params: ParamSet | None = None,
    materialize: Materialize | None = None,
    serving_cache: dict[str, tuple[ServingResult, tuple[str, ...]]] | None = None,
) -> RunResult:
    """Simulate serving and price it, month by month over the scenario's horizon.

    `params` and `materialize` (from a `LoadedScenario`) give each month its curves' values;
    `serving_cache` reuses serving results across calls (Monte Carlo samples, sweeps).
    """
    data = data or ExternalData()
    seed = scenario.seed if seed is None else seed
    cache = serving_cache if serving_cache is not None else {}
    curves = params.curves if params is not None else ()
    months: list[EconomicsResult] = []
    econ_seed = np.random.SeedSequence(seed, spawn_key=(ECONOMICS_STREAM,))
    first: tuple[ServingResult, Ledger, tuple[str, ...]] | None = None
    extra = derived_classes(scenario)  # month 0's population traffic, for every month
    for month in range(scenario.horizon.months):
        current = scenario
        if curves and month > 0 and materialize is not None and params is not None:
            current = materialize(month_values(params, month))
        served, ledger, derived = _serve(current, extra, catalog, data, seed, progress, cache)
        if first is None:
            first = (served, ledger, derived)
        months.append(
            evaluate_month(
                current, catalog, ledger.token_costs, ledger.volumes, ledger.fleets,
                np.random.default_rng(econ_seed), month,
            )
        )  # fmt: skip
    assert first is not None
    return RunResult(scenario, first[0], first[1], tuple(months), first[2])


def _serve(
    scenario: Scenario,
    extra: dict[str, RequestClass],
    catalog: Catalog,
    data: ExternalData,
    seed: int,
    progress: Progress | None,
    cache: dict[str, tuple[ServingResult, tuple[str, ...]]],
) -> tuple[ServingResult, Ledger, tuple[str, ...]]:
    served_scenario, derived = with_classes(scenario, extra)
    key = f"{seed}:{serving_signature(served_scenario)}"
    if key not in cache:
        cache[key] = (simulate(served_scenario, seed, catalog, data, progress), derived)
    serving, derived = cache[key]
    return serving, build_ledger(served_scenario, catalog, serving, data, derived), derived


def run_loaded(
    loaded: LoadedScenario,
    data: ExternalData | None = None,
    progress: Progress | None = None,
    serving_cache: dict[str, tuple[ServingResult, tuple[str, ...]]] | None = None,
) -> RunResult:
    """`run_scenario` for a loaded file: its curves give each month its values."""

    def materialize(values: dict[tuple[str | int, ...], float]) -> Scenario:
        return loaded.with_values(values).scenario

    return run_scenario(
        loaded.scenario, loaded.catalog, data, progress=progress, params=loaded.params,
        materialize=materialize, serving_cache=serving_cache,
    )  # fmt: skip
