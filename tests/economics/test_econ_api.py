"""API list prices: what an API deployment costs us, and what an API product earns."""

from __future__ import annotations

import numpy as np
import pytest
from econ_fixtures import scenario, volume

from infersim.catalog.load import load_builtin
from infersim.economics import (
    MissingPriceError,
    api_token_cost,
    class_revenue_usd,
    evaluate_month,
    product_prices,
)
from infersim.scenario.deployment import ApiModel
from infersim.scenario.economics import ApiProduct

CATALOG = load_builtin()


def test_article_list_price() -> None:
    cost = api_token_cost(ApiModel(kind="api", list_price="article:gpt-4o"), "gpt", CATALOG)
    assert (cost.usd_per_mtok_input, cost.usd_per_mtok_cached_input) == (2.5, 1.25)
    assert cost.usd_per_mtok_output == 10.0
    assert cost.source == "list_price"
    assert cost.deployment == "gpt"


def test_explicit_fields_override_the_list_price() -> None:
    model = ApiModel(kind="api", list_price="article:gpt-4o", output_usd_per_mtok=14.0)
    cost = api_token_cost(model, "gpt", CATALOG)
    assert (cost.usd_per_mtok_input, cost.usd_per_mtok_output) == (2.5, 14.0)


def test_cached_price_falls_back_to_input() -> None:
    model = ApiModel(kind="api", input_usd_per_mtok=3.0, output_usd_per_mtok=15.0)
    assert api_token_cost(model, "x", CATALOG).usd_per_mtok_cached_input == 3.0


def test_unknown_reference_is_a_clear_error() -> None:
    with pytest.raises(MissingPriceError, match=r"deployments\.gpt: unknown article price"):
        api_token_cost(ApiModel(kind="api", list_price="article:gpt-4"), "gpt", CATALOG)


def test_class_revenue_terms() -> None:
    product = ApiProduct(
        deployment="main",
        input_usd_per_mtok=2.0,
        cached_input_usd_per_mtok=0.5,
        output_usd_per_mtok=8.0,
        batch_discount=0.5,
        long_context_threshold_tokens=100_000,
        long_context_multiplier=2.0,
    )
    prices = product_prices(product, "p", CATALOG)
    plain = volume("c", "main", 1e6, prompt=1000, cached_share=0.25, output=100)
    # 750M uncached x $2 + 250M cached x $0.5 + 100M out x $8
    assert class_revenue_usd(product, prices, plain) == pytest.approx(1500 + 125 + 800)
    batch = volume("c", "main", 1e6, prompt=1000, cached_share=0.25, output=100, batch=True)
    assert class_revenue_usd(product, prices, batch) == pytest.approx((1500 + 125 + 800) / 2)
    long = volume("c", "main", 1e6, prompt=1000, cached_share=0.25, output=100, long_share=0.4)
    assert class_revenue_usd(product, prices, long) == pytest.approx(1625 * 1.4 + 800)


def test_product_from_list_price_without_cached_price_charges_input() -> None:
    product = ApiProduct(deployment="main", list_price="article:qwen3-max")
    prices = product_prices(product, "p", CATALOG)
    assert prices.cached_input_usd_per_mtok == prices.input_usd_per_mtok


def test_api_wrapper_margin_is_list_price_spread() -> None:
    """Reselling an API through an API product: margin = price spread x tokens."""
    sc = scenario(
        deployments={"gpt": {"kind": "api", "list_price": "article:gpt-4o"}},
        api={"resell": {"deployment": "gpt", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 12}},
    )
    vol = volume("chat", "gpt", 1e6, prompt=1000, cached_share=0.5, output=200)
    result = evaluate_month(sc, CATALOG, {}, [vol], [], np.random.default_rng(0))
    row = result.table.row("chat")
    assert row.kind == "api" and row.product == "resell"
    assert row.revenue_usd == pytest.approx(1000 * 3.0 + 200 * 12.0)
    assert row.api_cost_usd == pytest.approx(500 * 2.5 + 500 * 1.25 + 200 * 10.0)
    assert row.gpu_cost_usd == 0.0
    assert result.pnl.api_cost_usd == pytest.approx(row.api_cost_usd)
