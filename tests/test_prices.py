"""Price references: the article's table and genai-prices stay distinguishable and dated."""

from __future__ import annotations

import datetime as dt

import pytest

from infersim.catalog.load import load_builtin
from infersim.catalog.prices import (
    PRICE_REFERENCE_DATE,
    PriceLookupError,
    genai_provider_prices,
    resolve_price,
)

CATALOG = load_builtin()


@pytest.mark.parametrize(
    ("ref", "input_usd", "output_usd"),
    [
        ("article:gpt-4o", 2.50, 10.00),
        ("article:claude-sonnet-4", 3.00, 15.00),
        ("article:gpt-5.2-pro", 21.00, 168.00),
        ("article:qwen3-max", 0.46, 1.84),
        ("article:glm-4.7", 0.60, 2.20),
        ("article:glm-4.7-flash", 0.0, 0.0),
        ("article:deepseek-v2", 0.14, 0.28),
        ("deepseek-v2", 0.14, 0.28),
    ],
)
def test_article_table_matches_claims_s3(ref: str, input_usd: float, output_usd: float) -> None:
    price = resolve_price(ref, CATALOG)
    assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == (input_usd, output_usd)
    assert price.source_kind == "article"


def test_article_price_without_output_keeps_none() -> None:
    assert resolve_price("article:qwen3.5-plus", CATALOG).output_usd_per_mtok is None


def test_genai_prices_reference_is_labelled_and_dated() -> None:
    price = resolve_price("openai:gpt-4o", CATALOG)
    assert price.source_kind == "genai-prices"
    assert price.as_of == PRICE_REFERENCE_DATE
    assert price.input_usd_per_mtok > 0 and price.output_usd_per_mtok
    assert price.output_usd_per_mtok > price.input_usd_per_mtok


def test_a_date_selects_the_price_in_force_then() -> None:
    before = resolve_price("deepseek:deepseek-v4-pro@2026-08-01", CATALOG)
    after = resolve_price("deepseek:deepseek-v4-pro@2026-09-01", CATALOG)
    assert before.as_of == dt.date(2026, 8, 1)
    assert before.input_usd_per_mtok != after.input_usd_per_mtok


def test_same_reference_gives_the_same_price() -> None:
    assert resolve_price("anthropic:claude-sonnet-4-5", CATALOG) == resolve_price(
        "anthropic:claude-sonnet-4-5", CATALOG
    )


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("openai:gpt4o", "did you mean 'gpt-4o'"),
        ("opnai:gpt-4o", "did you mean 'openai'"),
        ("article:gpt4o", "did you mean 'gpt-4o'"),
        ("openai:gpt-4o@2026-13-01", "bad date"),
        ("gpt-4o@2026-01-01", "a date goes with a PROVIDER:MODEL"),
        ("no spaces allowed", "bad price reference"),
    ],
)
def test_bad_references_explain_themselves(ref: str, message: str) -> None:
    with pytest.raises(PriceLookupError, match=message):
        resolve_price(ref, CATALOG)


def test_provider_listing_has_only_per_token_prices() -> None:
    prices = genai_provider_prices("anthropic")
    assert len(prices) >= 5
    assert all(p.input_usd_per_mtok >= 0 for p in prices)
