"""Shared helpers for the lever scenarios (configs/levers/): load and run each scenario or
variant once per test session, and read the first month's figures."""

from __future__ import annotations

import functools
from pathlib import Path

from infersim.economics import MarginRow
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.load import LoadedScenario, load_scenario
from infersim.serving.result import DeploymentServing

LEVERS = Path(__file__).resolve().parents[2] / "configs" / "levers"


@functools.cache
def loaded(name: str, variant: str | None = None) -> LoadedScenario:
    return load_scenario(LEVERS / f"{name}.yaml", variant)


@functools.cache
def run(name: str, variant: str | None = None) -> RunResult:
    scenario = loaded(name, variant)
    return run_scenario(scenario.scenario, scenario.catalog)


def total(result: RunResult) -> MarginRow:
    """The first month's total row: every dollar and token of the run."""
    return result.first_month.table.total


def total_cost_usd(result: RunResult) -> float:
    return total(result).cost_usd


def usd_per_mtok(result: RunResult) -> float:
    """All-in cost of a million tokens (prompt + output) over the whole run."""
    value = total(result).cost_usd_per_mtok
    assert value is not None
    return value


def served(result: RunResult, deployment: str) -> DeploymentServing:
    return result.serving.deployment(deployment)


def gpus(result: RunResult, deployment: str) -> float:
    """GPUs provisioned on average over the simulated time."""
    d = served(result, deployment)
    return d.replicas * d.gpus_per_replica
