"""Bad inputs raise the project's error types, with messages that name the value and the fix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from econ_fixtures import engine_cost, lognormal_users, scenario, volume

from infersim.catalog.load import Catalog
from infersim.economics import (
    ClassVolume,
    EconomicsError,
    FleetCost,
    InvalidEconomicsInputError,
    MissingTokenCostError,
    TokenCost,
    evaluate_month,
)
from infersim.errors import InfersimError

TWO = {
    "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    "gpt": {"kind": "api", "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0},
}


def run(sc: Any, costs: Any = None, volumes: Any = (), fleets: Any = ()) -> Any:
    costs = {"main": engine_cost("main", 1, 0.1, 4)} if costs is None else costs
    return evaluate_month(
        sc, Catalog(), costs, list(volumes), list(fleets), np.random.default_rng(0)
    )


def test_every_economics_error_is_an_infersim_error() -> None:
    assert issubclass(EconomicsError, InfersimError)
    assert issubclass(InvalidEconomicsInputError, EconomicsError)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_token_cost_must_be_a_finite_amount(bad: float) -> None:
    with pytest.raises(
        InvalidEconomicsInputError, match="token cost of 'main': usd_per_mtok_output"
    ):
        TokenCost("main", 1.0, 0.1, bad, "engine")


def test_token_cost_source() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="source must be"):
        TokenCost("main", 1.0, 0.1, 1.0, "guess")  # type: ignore[arg-type]


def test_cached_tokens_are_part_of_input_tokens() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="cached tokens are a part of the input"):
        ClassVolume("chat", "main", 10, 100, 200, 10, False, 0.0)


def test_fleet_busy_share() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="fleet of 'main': busy_share"):
        FleetCost("main", 100, 1.2, 2.0)


def test_volume_on_unknown_deployment() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="unknown deployment 'mian'; known: main"):
        run(scenario(), volumes=[volume("chat", "mian", 10)])


def test_fleet_on_an_api_deployment() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="'gpt' is bought from an API"):
        run(scenario(deployments=TWO), fleets=[FleetCost("gpt", 10, 0.5, 2.0)])


def test_two_fleets_for_one_deployment() -> None:
    fleet = FleetCost("main", 10, 0.5, 2.0)
    with pytest.raises(InvalidEconomicsInputError, match="two fleets for 'main'"):
        run(scenario(), fleets=[fleet, fleet])


def test_traffic_without_a_token_cost() -> None:
    with pytest.raises(MissingTokenCostError, match=r"'chat' is served on 'main'.*no TokenCost"):
        run(scenario(), costs={}, volumes=[volume("chat", "main", 10)])


def test_token_cost_keyed_by_another_deployment() -> None:
    with pytest.raises(InvalidEconomicsInputError, match=r"token_costs\['main'\] is the token"):
        run(scenario(deployments=TWO), costs={"main": engine_cost("gpt", 1, 1, 1)})


def test_two_api_products_on_one_deployment() -> None:
    product = {"deployment": "main", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
    sc = scenario(api={"a": product, "b": product})
    with pytest.raises(EconomicsError, match=r"several API products \(a, b\)"):
        run(sc, volumes=[volume("chat", "main", 10)])


def test_unknown_plan() -> None:
    sc = scenario(users={"pro": lognormal_users("pro", 10)})
    with pytest.raises(EconomicsError, match="unknown plan 'pro'; known: free"):
        run(sc)


def test_population_on_several_deployments_without_routing() -> None:
    sc = scenario(deployments=TWO, users={"free": lognormal_users("free", 10)})
    with pytest.raises(EconomicsError, match=r"several deployments.*name one with 'deployment'"):
        run(sc)


def test_sample_cap_and_month() -> None:
    with pytest.raises(ValueError, match="sample_cap"):
        evaluate_month(scenario(), Catalog(), {}, [], [], np.random.default_rng(0), sample_cap=0)
    with pytest.raises(ValueError, match="month"):
        evaluate_month(scenario(), Catalog(), {}, [], [], np.random.default_rng(0), month=-1)
