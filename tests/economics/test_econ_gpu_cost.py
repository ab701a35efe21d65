"""GPU-hour costs: rental quotes by pricing model, owned GPUs' amortization, power, hosting."""

from __future__ import annotations

import pytest
from econ_fixtures import gpu_spec, quote
from hypothesis import given, settings
from hypothesis import strategies as st

from infersim.catalog.load import load_builtin
from infersim.economics import (
    HOURS_PER_MONTH,
    InvalidEconomicsInputError,
    MissingPurchasePriceError,
    MissingRentalQuoteError,
    gpu_usd_per_hour,
)
from infersim.scenario.deployment import OwnedGpu, RentedGpu

GPU = gpu_spec(
    tdp_w=700,
    purchase_usd=30_000,
    rental=[quote("reserved", 1.9, "A"), quote("on_demand", 2.5, "B"), quote("on_demand", 3.5)],
)


def owned(**fields: float) -> OwnedGpu:
    return OwnedGpu.model_validate({"kind": "owned", **fields})


@pytest.mark.parametrize(("pricing", "usd"), [("on_demand", 2.5), ("reserved", 1.9)])
def test_rented_takes_the_first_quote_of_the_pricing_model(pricing: str, usd: float) -> None:
    cost = gpu_usd_per_hour(RentedGpu.model_validate({"pricing": pricing}), GPU, 0.5)
    assert cost.usd_per_hour == usd
    assert cost.kind == "rented"
    assert pricing in cost.source and "2026-03-01" in cost.source


def test_rented_explicit_price_wins() -> None:
    cost = gpu_usd_per_hour(RentedGpu(pricing="spot", usd_per_gpu_hour=1.1), GPU, 0.0)
    assert cost.usd_per_hour == 1.1


def test_missing_spot_quote_names_gpu_and_fix() -> None:
    l40s = load_builtin().gpu("l40s")  # on-demand quotes only
    with pytest.raises(MissingRentalQuoteError) as caught:
        gpu_usd_per_hour(RentedGpu(pricing="spot"), l40s, 0.5)
    message = str(caught.value)
    assert "l40s has no 'spot' rental quote in the catalog" in message
    assert "on_demand" in message  # what it does have
    assert "costs.gpu.usd_per_gpu_hour" in message


def test_no_quote_at_all() -> None:
    with pytest.raises(MissingRentalQuoteError, match="no rental quote at all"):
        gpu_usd_per_hour(RentedGpu(), gpu_spec(), 0.5)


@pytest.mark.parametrize("months", [1, 12, 36, 60])
def test_amortization_is_purchase_over_months_of_730_hours(months: int) -> None:
    cost = gpu_usd_per_hour(owned(amortization_months=months, electricity_usd_per_kwh=0), GPU, 1)
    assert HOURS_PER_MONTH == 730
    assert cost.amortization_usd_per_hour == pytest.approx(30_000 / (months * 730))
    assert cost.power_usd_per_hour == 0.0
    assert cost.usd_per_hour == pytest.approx(cost.amortization_usd_per_hour)


def test_owned_components_from_the_formula() -> None:
    cost = gpu_usd_per_hour(
        owned(
            purchase_usd_per_gpu=20_000,
            amortization_months=40,
            power_draw_idle_share=0.25,
            pue=1.5,
            electricity_usd_per_kwh=0.2,
            hosting_usd_per_gpu_month=146,
            server_overhead_share=0.5,
        ),
        GPU,
        0.6,
    )
    draw = 0.25 + 0.75 * 0.6
    assert cost.average_power_w == pytest.approx(700 * draw)
    assert cost.power_usd_per_hour == pytest.approx(0.7 * draw * 1.5 * 0.2)
    assert cost.hosting_usd_per_hour == pytest.approx(0.2)
    assert cost.server_overhead_usd_per_hour == pytest.approx(0.5 * 20_000 / (40 * 730))
    assert cost.amortization_usd_per_hour == pytest.approx(20_000 / (40 * 730))
    assert cost.usd_per_hour == pytest.approx(
        20_000 / (40 * 730) * 1.5 + 0.7 * draw * 1.5 * 0.2 + 0.2
    )


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(0, 1),
    high=st.floats(0, 1),
    idle=st.floats(0, 0.99),
    pue=st.floats(1, 3),
    kwh=st.floats(0.01, 1),
)
def test_power_rises_with_busy_share(
    low: float, high: float, idle: float, pue: float, kwh: float
) -> None:
    low, high = sorted((low, high))
    cost = owned(power_draw_idle_share=idle, pue=pue, electricity_usd_per_kwh=kwh)
    at_low = gpu_usd_per_hour(cost, GPU, low)
    at_high = gpu_usd_per_hour(cost, GPU, high)
    assert at_high.power_usd_per_hour >= at_low.power_usd_per_hour
    if high - low > 1e-6:
        assert at_high.power_usd_per_hour > at_low.power_usd_per_hour
    assert at_high.amortization_usd_per_hour == at_low.amortization_usd_per_hour


def test_missing_purchase_price() -> None:
    with pytest.raises(MissingPurchasePriceError) as caught:
        gpu_usd_per_hour(owned(), gpu_spec(tdp_w=300), 0.5)
    assert "test-gpu has no purchase price in the catalog" in str(caught.value)
    assert "purchase_usd_per_gpu" in str(caught.value)


def test_missing_tdp_matters_only_when_power_is_paid() -> None:
    no_tdp = gpu_spec(purchase_usd=10_000)
    with pytest.raises(MissingPurchasePriceError, match="no tdp_w"):
        gpu_usd_per_hour(owned(), no_tdp, 0.5)
    free_power = gpu_usd_per_hour(owned(electricity_usd_per_kwh=0), no_tdp, 0.5)
    assert free_power.power_usd_per_hour == 0.0


@pytest.mark.parametrize("busy", [-0.1, 1.5, float("nan")])
def test_busy_share_out_of_range(busy: float) -> None:
    with pytest.raises(InvalidEconomicsInputError, match="busy_share"):
        gpu_usd_per_hour(RentedGpu(), GPU, busy)
