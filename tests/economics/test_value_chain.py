"""Who earns each dollar: the shares add up to the user's dollar, the GPU lines to the fleet's
bill (so the provider's line is the P&L's operating margin), for rented and owned fleets."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from econ_scenarios import SMALL

from infersim.catalog.load import load_builtin
from infersim.economics.inputs import HOURS_PER_MONTH
from infersim.economics.value_chain import (
    CLOUD_MARKUP,
    MARGIN,
    OPEX,
    POWER_HOSTING,
    SERVERS,
    VENDOR_COGS,
    VENDOR_MARGIN,
    ValueChainResult,
)
from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.model import Scenario

GPU_LINES = (VENDOR_MARGIN, VENDOR_COGS, SERVERS, POWER_HOSTING, CLOUD_MARKUP)
CHAIN = {
    "gpu_vendor_gross_margin": 0.734,
    "cloud_amortization_months": 48,
    "cloud_electricity_usd_per_kwh": 0.08,
    "cloud_hosting_usd_per_gpu_month": 50.0,
    "cloud_server_overhead_share": 0.25,
}


def run_with(costs: dict[str, Any]) -> RunResult:
    document = copy.deepcopy(SMALL)
    document["costs"] = {"value_chain": CHAIN, "operating_usd_per_month": {"staff": 500}, **costs}
    return run_scenario(Scenario.model_validate(document), load_builtin())


def assert_adds_up(result: RunResult) -> ValueChainResult:
    chain = result.value_chain
    assert chain is not None
    pnl = result.first_month.pnl
    assert chain.revenue_usd == pnl.revenue_usd > 0
    shares = [s.share for s in chain.shares]
    assert all(s is not None for s in shares)
    assert math.fsum(s for s in shares if s is not None) == pytest.approx(1.0, rel=1e-12)
    assert math.fsum(s.usd_per_month for s in chain.shares) == pytest.approx(
        pnl.revenue_usd, rel=1e-12
    )
    gpu = math.fsum(chain.usd(who) for who in GPU_LINES)
    assert gpu == pytest.approx(pnl.gpu_cost_usd, rel=1e-12)
    assert chain.usd(MARGIN) == pytest.approx(pnl.operating_margin_usd, rel=1e-9)
    assert chain.usd(OPEX) == 500
    return chain


@pytest.mark.parametrize(
    "gpu",
    [
        {},
        {"reserved": {"gpus": 1}, "spot": {"share": 0.5, "interruptions_per_gpu_hour": 0.05}},
        {"kind": "owned", "hosting_usd_per_gpu_month": 80, "server_overhead_share": 0.2},
    ],
)
def test_shares_add_up_to_the_users_dollar(gpu: dict[str, Any]) -> None:
    costs: dict[str, Any] = {"energy": {"grid": "us"}}
    if gpu:
        costs["gpu"] = {"kind": "rented", **gpu} if "kind" not in gpu else gpu
    assert_adds_up(run_with(costs))


def test_rented_vendor_share_is_purchase_times_margin_amortized() -> None:
    result = run_with({})
    chain = assert_adds_up(result)
    fleet = result.ledger.fleets[0]
    per_hour = 27_500 / (48 * HOURS_PER_MONTH)  # the catalog's H100 purchase price
    assert chain.usd(VENDOR_MARGIN) == pytest.approx(
        fleet.gpu_hours_per_month * per_hour * 0.734, rel=1e-12
    )
    assert chain.usd(SERVERS) == pytest.approx(
        fleet.gpu_hours_per_month * per_hour * 0.25, rel=1e-12
    )


def test_owned_fleets_pay_no_cloud_markup() -> None:
    chain = assert_adds_up(run_with({"gpu": {"kind": "owned"}}))
    assert chain.usd(CLOUD_MARKUP) == 0.0


def test_a_dearer_rent_goes_to_the_cloud() -> None:
    cheap = assert_adds_up(run_with({"gpu": {"kind": "rented", "usd_per_gpu_hour": 2.0}}))
    dear = assert_adds_up(run_with({"gpu": {"kind": "rented", "usd_per_gpu_hour": 4.0}}))
    assert dear.usd(CLOUD_MARKUP) > cheap.usd(CLOUD_MARKUP)
    assert dear.usd(VENDOR_MARGIN) == cheap.usd(VENDOR_MARGIN)
    assert dear.usd(MARGIN) < cheap.usd(MARGIN)
