"""`run_scenario`: serving, then the ledger, then every month of the economics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from infersim.catalog.load import Catalog
from infersim.economics import EconomicsResult, evaluate_horizon
from infersim.pipeline.ledger import Ledger, build_ledger
from infersim.pipeline.populations import with_derived_classes
from infersim.scenario.model import Scenario
from infersim.serving.result import ServingResult
from infersim.serving.simulate import simulate
from infersim.workload.trace import ExternalData

Progress = Callable[[str, float], None]

#: Spawn key of the economics' random stream (the engine uses (replication, deployment)).
ECONOMICS_STREAM = 10_000


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


def run_scenario(
    scenario: Scenario,
    catalog: Catalog,
    data: ExternalData | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Simulate serving and price it, month by month over the scenario's horizon."""
    data = data or ExternalData()
    seed = scenario.seed if seed is None else seed
    served_scenario, derived = with_derived_classes(scenario)
    serving = simulate(served_scenario, seed, catalog, data, progress)
    ledger = build_ledger(served_scenario, catalog, serving, data, derived)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ECONOMICS_STREAM,)))
    months = evaluate_horizon(
        scenario, catalog, ledger.token_costs, ledger.volumes, ledger.fleets, rng
    )
    return RunResult(scenario, serving, ledger, tuple(months), derived)
