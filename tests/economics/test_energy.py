"""Energy and carbon: zero load draws idle power x hours x PUE; carbon = kWh x intensity,
exactly; owned fleets use the figures their power bill uses; reported, not billed."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from econ_scenarios import SMALL

from infersim.catalog.load import load_builtin
from infersim.economics.energy import fleet_energy, gpu_power_w
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.model import Scenario

H100 = load_builtin().gpu("h100-sxm")


def test_zero_load_is_idle_power_times_hours_times_pue() -> None:
    power = gpu_power_w(H100, 0.3, 0.0)
    assert power == 700 * 0.3
    use = fleet_energy("main", 1460.0, power, 0.0, 1.3, 0.0, 367.0)
    assert use.kwh_per_month == 1460.0 * 210.0 / 1000.0 * 1.3


@pytest.mark.parametrize("busy", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("intensity", [0.0, 56.0, 713.0])
def test_carbon_is_kwh_times_intensity(busy: float, intensity: float) -> None:
    use = fleet_energy("main", 730.0, gpu_power_w(H100, 0.3, busy), 0.1, 1.2, 1e9, intensity)
    assert use.tco2e_per_month == use.kwh_per_month * intensity / 1e6
    assert use.gco2e_per_ktok == use.kwh_per_month * intensity / (1e9 / 1000.0)


def test_full_load_draws_tdp_and_host_overhead_adds() -> None:
    assert gpu_power_w(H100, 0.3, 1.0) == 700.0
    bare = fleet_energy("m", 100.0, 700.0, 0.0, 1.0, 0.0, None)
    hosted = fleet_energy("m", 100.0, 700.0, 0.25, 1.0, 0.0, None)
    assert hosted.kwh_per_month == pytest.approx(bare.kwh_per_month * 1.25)
    assert bare.tco2e_per_month is None and bare.gco2e_per_ktok is None


def run_with(costs: dict[str, Any]) -> RunResult:
    document = copy.deepcopy(SMALL)
    document["costs"] = costs
    return run_scenario(Scenario.model_validate(document), load_builtin())


def test_rented_fleet_reports_energy_and_carbon_without_billing_it() -> None:
    plain = run_with({})
    result = run_with({"energy": {"grid": "france", "pue": 1.2}})
    (use,) = result.ledger.energy
    fleet = result.ledger.fleets[0]
    expected = fleet.gpu_hours_per_month * (700 * (0.3 + 0.7 * fleet.busy_share)) / 1000 * 1.2
    assert use.kwh_per_month == pytest.approx(expected, rel=1e-12)
    assert use.gco2e_per_kwh == 56.0  # catalog grids.yaml, Ember 2023
    assert use.tco2e_per_month == use.kwh_per_month * 56.0 / 1e6
    assert result.first_month.pnl.gpu_cost_usd == plain.first_month.pnl.gpu_cost_usd
    assert result.first_month.pnl.serving_cost_usd == plain.first_month.pnl.serving_cost_usd


def test_owned_fleet_energy_is_the_power_it_is_billed_for() -> None:
    owned = {"kind": "owned", "pue": 1.5, "electricity_usd_per_kwh": 0.1}
    result = run_with({"gpu": owned, "energy": {"gco2e_per_kwh": 400, "pue": 1.1}})
    (use,) = result.ledger.energy
    hour = result.ledger.gpu_costs["main"]
    fleet = result.ledger.fleets[0]
    assert use.pue == 1.5  # the owned cost block's, not energy.pue
    billed_kwh = fleet.gpu_hours_per_month * hour.power_usd_per_hour / 0.1
    assert use.kwh_per_month == pytest.approx(billed_kwh, rel=1e-12)
