"""A mixed fleet bought, powered and shared out pool by pool: each pool's kWh at its own GPU's
power and busy share, its carbon at its own grid; reserved and spot capacity split on each
pool's own hours; the value chain with each pool's GPU. The fleet's figures are the pools'
sums, the bill's parts add up to the P&L's GPU line, and the value chain to the user's dollar."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_ledger import assert_conserved
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.cli.app import app
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.economics.value_chain import MARGIN, VENDOR_MARGIN
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.model import Scenario

CATALOG = load_builtin()
CENT = 0.005


def document(
    rate_per_s: float,
    *,
    h100: dict[str, Any] | None = None,
    a100: dict[str, Any] | None = None,
    costs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Two dear H100 replicas (grid 'us') and two cheap A100 ones (grid 'france'), sold by
    the token, with energy reported."""
    return {
        "name": "mixed-costs",
        "seed": 3,
        "deployments": {
            "main": {
                "model": "llama-3.1-8b",
                "pools": [
                    {"name": "h100", "gpu": "h100-sxm", "replicas": 2, "grid": "us",
                     "cost": {"usd_per_gpu_hour": 3.0}, **(h100 or {})},
                    {"name": "a100", "gpu": "a100-sxm-80gb", "replicas": 2, "grid": "france",
                     "cost": {"usd_per_gpu_hour": 1.5}, **(a100 or {})},
                ],
            }
        },
        "fleet": {"replications": 1, "slo": {"tpot_p99_s": 0.02}},
        "workload": {
            "classes": {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
                    "prompt_tokens": {"dist": "fixed", "tokens": 500},
                    "output_tokens": {"dist": "fixed", "tokens": 200},
                }
            }
        },
        "pricing": {
            "api": {
                "main-api": {"deployment": "main", "input_usd_per_mtok": 0.5,
                             "output_usd_per_mtok": 1.5}
            }
        },
        "costs": {"energy": {"pue": 1.2, "idle_power_share": 0.3}, **(costs or {})},
        "horizon": {"simulated_s": 120.0, "months": 1},
    }  # fmt: skip


def run(rate_per_s: float, **changes: Any) -> RunResult:
    return run_scenario(Scenario.model_validate(document(rate_per_s, **changes)), CATALOG)


@pytest.fixture(scope="module")
def idle() -> RunResult:
    return run(1e-9)  # no arrival within the simulated time: every GPU idle all month


@pytest.fixture(scope="module")
def loaded() -> RunResult:
    return run(40.0)  # the cheap pool saturated, spilling over to the dear one


def test_zero_load_is_idle_power_x_hours_x_pue_per_pool(idle: RunResult) -> None:
    (use,) = idle.ledger.energy
    pools = {p.pool: p for p in use.pools}
    for name, gpu, replicas in (("h100", "h100-sxm", 2), ("a100", "a100-sxm-80gb", 2)):
        tdp = CATALOG.gpu(gpu).tdp_w
        assert tdp is not None
        hours = replicas * HOURS_PER_MONTH
        assert pools[name].gpu_hours_per_month == pytest.approx(hours, rel=1e-12)
        assert pools[name].gpu_power_w == pytest.approx(tdp * 0.3, rel=1e-12)  # its own GPU
        assert pools[name].kwh_per_month == pytest.approx(
            tdp * 0.3 * hours / 1000.0 * 1.2, rel=1e-12
        )


@pytest.mark.parametrize("load", ["idle", "loaded"])
def test_carbon_is_kwh_x_the_pools_own_grid_exactly(load: str, request: Any) -> None:
    result: RunResult = request.getfixturevalue(load)
    (use,) = result.ledger.energy
    pools = {p.pool: p for p in use.pools}
    for name, grid in (("h100", "us"), ("a100", "france")):
        intensity = CATALOG.grid(grid).gco2e_per_kwh
        assert pools[name].gco2e_per_kwh == intensity
        assert pools[name].tco2e_per_month == pools[name].kwh_per_month * intensity / 1e6
    assert CATALOG.grid("us").gco2e_per_kwh != CATALOG.grid("france").gco2e_per_kwh


@pytest.mark.parametrize("load", ["idle", "loaded"])
def test_the_fleets_energy_is_the_sum_of_its_pools(load: str, request: Any) -> None:
    result: RunResult = request.getfixturevalue(load)
    (use,) = result.ledger.energy
    (fleet,) = result.ledger.fleets
    assert use.kwh_per_month == math.fsum(p.kwh_per_month for p in use.pools)
    assert use.tco2e_per_month == math.fsum(
        p.tco2e_per_month for p in use.pools if p.tco2e_per_month is not None
    )
    assert use.gpu_hours_per_month == pytest.approx(fleet.gpu_hours_per_month, rel=1e-12)
    assert math.fsum(p.tokens_per_month for p in use.pools) == pytest.approx(
        use.tokens_per_month, rel=1e-9
    )
    # the fleet's intensity is the pools' mean, between the two grids
    assert use.gco2e_per_kwh is not None
    assert CATALOG.grid("france").gco2e_per_kwh < use.gco2e_per_kwh
    assert use.gco2e_per_kwh < CATALOG.grid("us").gco2e_per_kwh


def test_a_busier_pool_draws_more_than_at_idle(idle: RunResult, loaded: RunResult) -> None:
    at_rest = {p.pool: p for p in idle.ledger.energy[0].pools}
    busy = {p.pool: p for p in loaded.ledger.energy[0].pools}
    pools = {p.name: p for p in loaded.serving.deployment("main").mixed_pools}
    for name in ("h100", "a100"):
        assert pools[name].busy_share > 0.0
        assert busy[name].kwh_per_month > at_rest[name].kwh_per_month
        assert busy[name].tokens_per_month > 0.0


def test_a_pool_without_a_grid_takes_costs_energys() -> None:
    result = run(1e-9, h100={"grid": None}, costs={"energy": {"gco2e_per_kwh": 100.0}})
    pools = {p.pool: p for p in result.ledger.energy[0].pools}
    assert pools["h100"].gco2e_per_kwh == 100.0
    assert pools["a100"].gco2e_per_kwh == CATALOG.grid("france").gco2e_per_kwh


def test_reserved_on_one_pool_is_paid_at_zero_load_and_the_parts_add_up() -> None:
    result = run(1e-9, h100={"cost": {"reserved": {"gpus": 5, "term_years": 1}}})
    (fleet,) = result.ledger.fleets
    parts = {p.kind: p for p in fleet.parts}
    assert set(parts) == {"pool:h100:reserved_1y", "pool:h100:on_demand", "pool:a100"}
    reserved = parts["pool:h100:reserved_1y"]
    assert reserved.gpu_hours_per_month == 5 * HOURS_PER_MONTH  # paid, used or not
    assert parts["pool:h100:on_demand"].gpu_hours_per_month == 0.0  # 2 GPUs within the 5
    bill = math.fsum(p.usd_per_month for p in fleet.parts)
    assert fleet.usd_per_month == pytest.approx(bill, rel=1e-12)
    assert abs(result.first_month.pnl.gpu_cost_usd - bill) <= CENT
    capacity = result.ledger.capacity["main"]
    assert capacity.reserved_idle_gpu_hours_per_month == pytest.approx(3 * HOURS_PER_MONTH)
    assert capacity.spot_interruptions_per_month == 0.0


def test_spot_on_one_pool_is_billed_on_its_hours_and_the_bill_is_the_gpu_line() -> None:
    spot = {"share": 1.0, "usd_per_gpu_hour": 1.0, "interruptions_per_gpu_hour": 0.0}
    result = run(40.0, h100={"cost": {"usd_per_gpu_hour": 3.0, "spot": spot}})
    (fleet,) = result.ledger.fleets
    parts = {p.kind: p for p in fleet.parts}
    assert {"pool:h100:spot", "pool:h100:on_demand", "pool:a100"} <= set(parts)
    pool = result.ledger.pools["main"][0]
    assert pool.capacity is not None and pool.capacity.spot_interruptions_per_month == 0.0
    assert parts["pool:h100:spot"].gpu_hours_per_month == pytest.approx(
        pool.scheduled_gpu_hours_per_month, rel=1e-12
    )  # share 1: every hour of the pool on spot
    assert math.fsum(p.gpu_hours_per_month for p in fleet.parts) == pytest.approx(
        fleet.gpu_hours_per_month, rel=1e-12
    )
    assert fleet.busy_gpu_hours_per_month <= fleet.gpu_hours_per_month
    assert abs(result.first_month.pnl.gpu_cost_usd - fleet.usd_per_month) <= CENT


VALUE_CHAIN = {"value_chain": {"gpu_vendor_gross_margin": 0.7, "cloud_amortization_months": 48}}


def test_the_value_chain_prices_each_pools_gpu_and_adds_up() -> None:
    result = run(40.0, costs=VALUE_CHAIN)
    chain = result.value_chain
    assert chain is not None
    total = math.fsum(s.usd_per_month for s in chain.shares)
    assert total == pytest.approx(chain.revenue_usd, rel=1e-12)
    assert chain.usd(MARGIN) != 0.0
    # the vendor's margin: each pool's hours x its own GPU's purchase price, amortized
    expected = 0.0
    for pool in result.ledger.pools["main"]:
        assert pool.gpu.purchase_usd is not None
        per_hour = pool.gpu.purchase_usd / (48 * HOURS_PER_MONTH)
        expected += pool.fleet.gpu_hours_per_month * per_hour * 0.7
    assert chain.usd(VENDOR_MARGIN) == pytest.approx(expected, rel=1e-12)
    assert CATALOG.gpu("h100-sxm").purchase_usd != CATALOG.gpu("a100-sxm-80gb").purchase_usd


def test_json_and_tables_show_the_pools(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(document(5.0)), encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["run", str(path), "-f", "json"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    energy = json.loads(out.output)["runs"][0]["energy"]["deployments"]["main"]
    assert set(energy["pools"]) == {"h100", "a100"}
    assert energy["kwh_per_month"] == pytest.approx(
        math.fsum(p["kwh_per_month"] for p in energy["pools"].values()), rel=1e-6
    )
    table = runner.invoke(app, ["run", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "main: pool h100" in table.output and "main: pool a100" in table.output
    html = tmp_path / "mixed.html"
    page = runner.invoke(app, ["run", str(path), "-f", "html", "-o", str(html)])
    assert page.exit_code == 0, page.output
    text = html.read_text(encoding="utf-8")
    assert "main: pool h100" in text and "main: pool a100 grid" in text


def _with_api(document: dict[str, Any]) -> dict[str, Any]:
    """The scenario with an API deployment beside it, the chat class still on 'main'."""
    out = {**document, "pricing": {}}
    out["deployments"] = {
        **document["deployments"],
        "api": {"kind": "api", "list_price": "article:gpt-4o"},
    }
    chat = {**document["workload"]["classes"]["chat"], "deployment": "main"}
    out["workload"] = {"classes": {"chat": chat}}
    return out


def _breakeven(document: dict[str, Any]) -> Any:
    result = run_scenario(Scenario.model_validate(_with_api(document)), CATALOG)
    (pair,) = result.breakevens
    return pair


def _single(gpu: str, replicas: int, usd: float | None = None, **cost: Any) -> dict[str, Any]:
    doc = document(5.0)
    doc["deployments"] = {
        "main": {"model": "llama-3.1-8b", "gpu": gpu, "replicas": replicas,
                 "cost": {"usd_per_gpu_hour": usd} if usd is not None else cost}
    }  # fmt: skip
    return doc


def test_a_mixed_fleet_breaks_even_as_the_sum_of_its_pools() -> None:
    mixed = _breakeven(document(5.0))
    h100 = _breakeven(_single("h100-sxm", 2, 3.0))
    a100 = _breakeven(_single("a100-sxm-80gb", 2, 1.5))
    assert mixed.self_hosted == "main" and mixed.gpus == 4.0
    assert mixed.fixed_usd_per_month == pytest.approx(
        h100.fixed_usd_per_month + a100.fixed_usd_per_month, rel=1e-12
    )
    assert mixed.capacity_mtok_per_month == pytest.approx(
        h100.capacity_mtok_per_month + a100.capacity_mtok_per_month, rel=1e-12
    )
    assert mixed.marginal_usd_per_mtok == 0.0  # rented: no marginal cost
    assert mixed.breakeven_mtok_per_month == pytest.approx(
        mixed.fixed_usd_per_month / mixed.api_usd_per_mtok, rel=1e-12
    )


def test_pools_of_one_owned_gpu_break_even_as_one_fleet() -> None:
    owned = {"kind": "owned", "purchase_usd_per_gpu": 25000.0}
    doc = document(5.0, h100={"cost": owned}, a100={"gpu": "h100-sxm", "cost": owned})
    doc["deployments"]["main"]["pools"][1]["replicas"] = 1
    mixed = _breakeven(doc)
    whole = _breakeven(_single("h100-sxm", 3, **owned))
    assert mixed.marginal_usd_per_mtok > 0.0
    for field in ("gpus", "fixed_usd_per_month", "marginal_usd_per_mtok",
                  "capacity_mtok_per_month", "breakeven_mtok_per_month"):  # fmt: skip
        assert getattr(mixed, field) == pytest.approx(getattr(whole, field), rel=1e-9), field


@pytest.mark.parametrize("rate_per_s", [1e-9, 40.0])
def test_reserved_and_spot_pools_keep_the_ledgers_laws(rate_per_s: float) -> None:
    spot = {"share": 0.5, "usd_per_gpu_hour": 1.0, "interruptions_per_gpu_hour": 0.0}
    result = run(
        rate_per_s,
        h100={"cost": {"usd_per_gpu_hour": 3.0, "reserved": {"gpus": 1, "discount": 0.4}}},
        a100={"cost": {"usd_per_gpu_hour": 1.5, "spot": spot}},
        costs=VALUE_CHAIN,
    )
    assert_conserved(result)
    (fleet,) = result.ledger.fleets
    pools = result.ledger.pools["main"]
    assert math.fsum(p.fleet.usd_per_month for p in pools) == pytest.approx(
        fleet.usd_per_month, rel=1e-12
    )
    assert [part for p in pools for part in p.fleet.parts] == list(fleet.parts)
    chain = result.value_chain
    assert chain is not None
    total = math.fsum(s.usd_per_month for s in chain.shares)
    assert total == pytest.approx(chain.revenue_usd, rel=1e-12, abs=1e-9)


def test_an_owned_pool_draws_at_its_cost_blocks_idle_share_and_pue() -> None:
    owned = {"kind": "owned", "power_draw_idle_share": 0.2, "pue": 1.5}
    result = run(1e-9, h100={"cost": owned})
    (use,) = result.ledger.energy
    pools = {p.pool: p for p in use.pools}
    hours, tdp = 2 * HOURS_PER_MONTH, CATALOG.gpu("h100-sxm").tdp_w
    assert tdp is not None
    assert pools["h100"].pue == 1.5 and pools["a100"].pue == 1.2  # rented: costs.energy's
    assert pools["h100"].kwh_per_month == pytest.approx(tdp * 0.2 * hours / 1000 * 1.5, rel=1e-12)
    # the fleet's PUE is the one its kWh imply: between its pools'
    assert 1.2 < use.pue < 1.5
    assert use.kwh_per_month == pytest.approx(
        use.gpu_hours_per_month * use.gpu_power_w / 1000.0 * use.pue, rel=1e-12
    )
