"""Batch tiers: batch classes (deadline_s or batch_api) pay an API provider's batch price and
are sold at an API product's, from genai-prices' batch variants, a catalog entry's batch
fields or the scenario's batch_discount; the margin table, the P&L and the tier figures are
one figure."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from econ_fixtures import engine_cost, scenario, volume
from econ_scenarios import SMALL
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.checks.metric_paths import unknown_metric
from infersim.checks.metrics import flatten, short_aliases
from infersim.cli.app import app
from infersim.economics import (
    InvalidEconomicsInputError,
    TokenCost,
    api_token_cost,
    evaluate_month,
    product_prices,
)
from infersim.scenario.deployment import ApiModel
from infersim.scenario.economics import ApiProduct
from infersim.scenario.model import Scenario

CATALOG = load_builtin()


def test_genai_prices_batch_variant_is_the_batch_tier() -> None:
    cost = api_token_cost(ApiModel(kind="api", list_price="openai:gpt-4o"), "gpt", CATALOG)
    assert (cost.usd_per_mtok_input, cost.usd_per_mtok_output) == (2.5, 10.0)
    assert cost.batch_source == "list_price"
    # OpenAI's Batch API: half price, cached input unchanged (genai-prices' data)
    assert cost.batch_usd_per_mtok_input == 1.25
    assert cost.batch_usd_per_mtok_cached_input == 1.25
    assert cost.batch_usd_per_mtok_output == 5.0


def test_the_articles_gpt4o_carries_the_same_batch_tier() -> None:
    article = api_token_cost(ApiModel(kind="api", list_price="article:gpt-4o"), "g", CATALOG)
    genai = api_token_cost(ApiModel(kind="api", list_price="openai:gpt-4o"), "g", CATALOG)
    batch = ("batch_usd_per_mtok_input", "batch_usd_per_mtok_cached_input")
    assert [getattr(article, k) for k in batch] == [getattr(genai, k) for k in batch]
    assert article.batch_usd_per_mtok_output == genai.batch_usd_per_mtok_output


def test_a_price_before_the_batch_variant_has_no_tier() -> None:
    """genai-prices' batch variants start on a date: before it, no batch tier."""
    model = ApiModel(kind="api", list_price="openai:gpt-4o@2026-01-01")
    cost = api_token_cost(model, "gpt", CATALOG)
    assert cost.batch_source == "none"
    assert cost.batch_usd_per_mtok_output == cost.usd_per_mtok_output


def test_the_scenarios_discount_overrides_the_list_price() -> None:
    model = ApiModel(kind="api", list_price="openai:gpt-4o", batch_discount=0.4)
    cost = api_token_cost(model, "gpt", CATALOG)
    assert cost.batch_source == "scenario"
    assert cost.batch_usd_per_mtok_input == pytest.approx(2.5 * 0.6)
    assert cost.batch_usd_per_mtok_cached_input == pytest.approx(1.25 * 0.6)
    assert cost.batch_usd_per_mtok_output == pytest.approx(10.0 * 0.6)


@pytest.mark.parametrize(
    "model",
    [
        ApiModel(kind="api", list_price="deepseek:deepseek-chat"),
        ApiModel(kind="api", input_usd_per_mtok=1.0, output_usd_per_mtok=4.0),
        # explicit prices are not the list price its batch tier belongs to
        ApiModel(kind="api", list_price="openai:gpt-4o", output_usd_per_mtok=12.0),
    ],
)
def test_without_a_tier_batch_pays_the_standard_prices(model: ApiModel) -> None:
    cost = api_token_cost(model, "x", CATALOG)
    assert cost.batch_source == "none"
    assert cost.usd(1e6, 2e5, 3e5, batch=True) == cost.usd(1e6, 2e5, 3e5)


def test_product_batch_tier_from_its_list_price() -> None:
    product = ApiProduct(deployment="main", list_price="openai:gpt-4o-mini")
    prices = product_prices(product, "p", CATALOG)
    assert prices.batch.source == "list_price"
    assert prices.batch.input_usd_per_mtok == pytest.approx(prices.input_usd_per_mtok / 2)
    assert prices.batch.output_usd_per_mtok == pytest.approx(prices.output_usd_per_mtok / 2)


def test_a_token_cost_batch_tier_is_whole_and_only_for_list_prices() -> None:
    with pytest.raises(InvalidEconomicsInputError, match="all three batch prices"):
        TokenCost("a", 1.0, 1.0, 2.0, "list_price", batch_usd_per_mtok_input=0.5)
    with pytest.raises(InvalidEconomicsInputError, match="no batch tier"):
        TokenCost("f", 1.0, 1.0, 2.0, "engine", 0.5, 0.5, 1.0, "scenario")
    with pytest.raises(InvalidEconomicsInputError, match="batch_usd_per_mtok_output"):
        TokenCost("a", 1.0, 1.0, 2.0, "list_price", 0.5, 0.5, -1.0, "scenario")


DEPLOYMENTS = {
    "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    "gpt": {"kind": "api", "list_price": "article:gpt-4o"},
}


def test_purchases_and_sales_in_the_batch_tier_are_the_margin_tables_figures() -> None:
    sc = scenario(
        deployments=DEPLOYMENTS,
        api={
            "sell": {"deployment": "main", "list_price": "openai:gpt-4o-mini"},
            "resell": {"deployment": "gpt", "input_usd_per_mtok": 3, "output_usd_per_mtok": 12},
        },
    )
    volumes = [
        volume("chat", "gpt", 1e6, prompt=1000, cached_share=0.5, output=200),
        volume("offline", "gpt", 2e6, prompt=1000, cached_share=0.5, output=200, batch=True),
        volume("summaries", "main", 3e6, prompt=2000, output=100, batch=True),
    ]
    costs = {"main": engine_cost("main", 0.3, 0.03, 1.2)}
    result = evaluate_month(sc, CATALOG, costs, volumes, [], np.random.default_rng(0))
    table, tiers = result.table, {f"{t.kind}:{t.name}": t for t in result.batch_tiers}
    assert set(tiers) == {"purchase:gpt", "sale:sell", "sale:resell"}
    # bought: 1,000 M uncached x $1.25 + 1,000 M cached x $1.25 + 400 M out x $5
    offline = table.row("offline")
    assert offline.api_cost_usd == pytest.approx(1000 * 1.25 + 1000 * 1.25 + 400 * 5.0)
    assert tiers["purchase:gpt"].usd_per_month == pytest.approx(offline.api_cost_usd, rel=1e-12)
    standard = 1000 * 2.5 + 1000 * 1.25 + 400 * 10.0
    assert tiers["purchase:gpt"].standard_usd_per_month == pytest.approx(standard)
    assert table.row("chat").api_cost_usd == pytest.approx(standard / 2)  # interactive
    # the resale product has explicit prices and no discount: batch pays its standard prices
    assert tiers["sale:resell"].source == "none"
    assert offline.revenue_usd == pytest.approx(2000 * 3 + 400 * 12)
    # sold from main at gpt-4o-mini's batch prices (half of $0.15 / $0.60)
    summaries = table.row("summaries")
    assert summaries.revenue_usd == pytest.approx((6000 * 0.15 + 300 * 0.6) / 2)
    assert tiers["sale:sell"].usd_per_month == pytest.approx(summaries.revenue_usd, rel=1e-12)
    assert tiers["sale:sell"].saving_usd_per_month == pytest.approx(summaries.revenue_usd)
    # conserved: rows add up to the P&L, whose API line is what the tokens were bought for
    api = math.fsum(row.api_cost_usd for row in table.rows)
    assert api == pytest.approx(result.pnl.api_cost_usd, rel=1e-12)
    assert result.pnl.api_cost_usd == pytest.approx(offline.api_cost_usd + standard / 2)
    revenue = math.fsum(row.revenue_usd for row in table.rows)
    assert revenue == pytest.approx(result.pnl.revenue_usd, rel=1e-12)


def test_no_batch_class_no_batch_tiers() -> None:
    sc = scenario(deployments=DEPLOYMENTS)
    volumes = [volume("chat", "gpt", 1e6)]
    result = evaluate_month(sc, CATALOG, {}, volumes, [], np.random.default_rng(0))
    assert result.batch_tiers == ()


def _run(tmp_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    return dict(run)


def _with_offline_class(deadline: bool) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    document["deployments"]["gpt"] = {"kind": "api", "list_price": "openai:gpt-4o"}
    document["workload"]["classes"]["chat"]["deployment"] = "main"
    offline: dict[str, Any] = {
        "arrival": {"process": "poisson", "rate_per_s": 1.0},
        "prompt_tokens": {"dist": "fixed", "tokens": 1000},
        "output_tokens": {"dist": "fixed", "tokens": 300},
        "deployment": "gpt",
    }
    if deadline:
        offline["deadline_s"] = 86_400
    document["workload"]["classes"]["offline"] = offline
    return document


def test_a_deadline_class_sent_to_an_api_pays_its_batch_price(tmp_path: Path) -> None:
    batch = _run(tmp_path, _with_offline_class(deadline=True))
    interactive = _run(tmp_path, _with_offline_class(deadline=False))
    bought = batch["margins"]["offline"]["api_cost_usd"]
    # 1 request/s x 730 h: (1,000 x $1.25 + 300 x $5) per million, half the standard price
    assert bought == pytest.approx(3600 * 730 * (1000 * 1.25 + 300 * 5.0) / 1e6, abs=0.01)
    assert interactive["margins"]["offline"]["api_cost_usd"] == pytest.approx(2 * bought, 1e-6)
    assert "batch_tiers" not in interactive
    tier = batch["batch_tiers"]["purchase:gpt"]
    assert tier["source"] == "list_price"
    assert tier["usd_per_month"] == bought == batch["pnl"]["api_cost_usd"]
    assert tier["standard_usd_per_month"] == pytest.approx(2 * bought, abs=0.01)
    scenario_ = Scenario.model_validate(_with_offline_class(deadline=True))
    paths = [p for p in flatten(batch) if p.startswith("batch_tiers.")]
    assert paths
    paths += short_aliases(batch, paths)
    assert {p: why for p in paths if (why := unknown_metric(scenario_, p))} == {}


def test_a_deadline_on_an_api_without_a_batch_tier_is_refused(tmp_path: Path) -> None:
    document = _with_offline_class(deadline=True)
    document["deployments"]["gpt"] = {
        "kind": "api",
        "input_usd_per_mtok": 2.5,
        "output_usd_per_mtok": 10.0,
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "workload.classes.offline.deadline_s: deadline_s 86400 given" in result.stdout
    assert "batch_discount" in result.stdout and "Traceback" not in result.output
    document["deployments"]["gpt"]["batch_discount"] = 0.5
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0
