"""API list prices: the article's early-2026 table, and the `genai-prices` package's data.

A price reference is one of:
- `article:<id>`: the article's table (`catalog/data/prices.yaml`, source_kind 'article');
- `<id>`: any price entry in the catalog (the article's, or a user's `--catalog` / inline one);
- `<provider>:<model>` with an optional `@YYYY-MM-DD`: the list price in the `genai-prices`
  package's bundled data (offline), on that date. Without a date, prices are taken on
  `PRICE_REFERENCE_DATE` so that results do not change from one day to the next.

The sources stay distinguishable: each resolved `ApiPrice` says its `source_kind`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from infersim.catalog.load import Catalog, unknown_name_message
from infersim.catalog.types import ApiPrice, Source
from infersim.errors import did_you_mean

#: Date on which genai-prices references without an explicit date are priced.
PRICE_REFERENCE_DATE = dt.date(2026, 11, 29)
ARTICLE_PREFIX = "article"
_REF = re.compile(r"^(?:(?P<ns>[A-Za-z0-9_.-]+):)?(?P<model>[^@\s]+)(?:@(?P<date>\S+))?$")


class PriceLookupError(KeyError):
    """An unknown or malformed price reference; str() is the user-facing message."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PriceRef:
    namespace: str | None
    model: str
    date: dt.date | None

    @classmethod
    def parse(cls, ref: str) -> PriceRef:
        match = _REF.match(ref.strip())
        if match is None:
            raise PriceLookupError(
                f"bad price reference '{ref}'; expected 'article:ID', 'ID' or "
                "'PROVIDER:MODEL[@YYYY-MM-DD]'"
            )
        date = None
        if match["date"]:
            try:
                date = dt.date.fromisoformat(match["date"])
            except ValueError:
                raise PriceLookupError(
                    f"bad date '{match['date']}' in price reference '{ref}'; use YYYY-MM-DD"
                ) from None
        return cls(match["ns"], match["model"], date)


def resolve_price(ref: str, catalog: Catalog) -> ApiPrice:
    """The list price a reference names; raises PriceLookupError with a did-you-mean."""
    parsed = PriceRef.parse(ref)
    if parsed.namespace is None:
        if parsed.date is not None:
            raise PriceLookupError(f"'{ref}': a date goes with a PROVIDER:MODEL reference")
        if parsed.model in catalog.prices:
            return catalog.prices[parsed.model]
        raise PriceLookupError(unknown_name_message("price", parsed.model, catalog.prices))
    if parsed.namespace == ARTICLE_PREFIX:
        article = {k: v for k, v in catalog.prices.items() if v.source_kind == "article"}
        if parsed.model in article:
            return article[parsed.model]
        raise PriceLookupError(unknown_name_message("article price", parsed.model, article))
    return genai_price(parsed.namespace, parsed.model, parsed.date or PRICE_REFERENCE_DATE)


@cache
def _providers() -> dict[str, Any]:
    from genai_prices import data_snapshot

    return {p.id: p for p in data_snapshot.get_snapshot().providers}


def genai_provider_ids() -> list[str]:
    return sorted(_providers())


def _decimal(value: Any) -> float | None:
    if value is None:
        return None
    base = getattr(value, "base", value)  # TieredPrices: the price below the first tier
    return float(Decimal(base))


def genai_price(provider_id: str, model_ref: str, on: dt.date) -> ApiPrice:
    """A list price from genai-prices' bundled data, as it stood on `on` (12:00 UTC)."""
    providers = _providers()
    provider = providers.get(provider_id)
    if provider is None:
        raise PriceLookupError(
            f"unknown price provider '{provider_id}'{did_you_mean(provider_id, providers)} "
            "(use 'article:ID' for the article's table)"
        )
    model = provider.find_model(model_ref)
    if model is None:
        ids = [m.id for m in provider.models]
        raise PriceLookupError(unknown_name_message(f"{provider_id} model", model_ref, ids))
    when = dt.datetime.combine(on, dt.time(12, 0), tzinfo=dt.UTC)
    prices = model.get_prices(when)
    input_price = _decimal(prices.input_mtok)
    if input_price is None:
        raise PriceLookupError(f"{provider_id}:{model.id} has no per-token input price")
    batch = _batch_prices(model, when)
    urls = provider.pricing_urls or []
    sources = [Source(url=u, title=f"{provider.name} pricing") for u in urls] or [
        Source(url="https://github.com/pydantic/genai-prices", title="genai-prices data")
    ]
    slug = re.sub(r"[^a-z0-9._-]+", "-", f"{provider_id}.{model.id}".lower()).strip("-")
    return ApiPrice(
        id=slug,
        name=model.name or model.id,
        provider=provider.name,
        input_usd_per_mtok=input_price,
        cached_input_usd_per_mtok=_decimal(prices.cache_read_mtok),
        output_usd_per_mtok=_decimal(prices.output_mtok),
        batch_input_usd_per_mtok=None if batch is None else _decimal(batch.input_mtok),
        batch_cached_input_usd_per_mtok=None if batch is None else _decimal(batch.cache_read_mtok),
        batch_output_usd_per_mtok=(
            None if batch is None or prices.output_mtok is None else _decimal(batch.output_mtok)
        ),
        as_of=on,
        source_kind="genai-prices",
        sources=sources,
        checked=on,
        notes=(model.price_comments or "")[:2000] or None,
    )


#: genai-prices' request context for a provider's batch tier (its `price_variants`).
_BATCH_CONTEXT = {"processing": "batch"}


def _batch_prices(model: Any, when: dt.datetime) -> Any | None:
    """The model's batch-tier prices on `when` where the data has a batch variant in force
    then (variants fill only the prices they change; the rest are the standard ones)."""
    for variant in model.price_variants or ():
        if variant.when != _BATCH_CONTEXT:
            continue
        if variant.constraint is None or variant.constraint.active(when):
            return model.get_prices(when, _BATCH_CONTEXT)
    return None


def genai_provider_prices(provider_id: str, on: dt.date = PRICE_REFERENCE_DATE) -> list[ApiPrice]:
    """Every per-token list price of one genai-prices provider on a date."""
    provider = _providers().get(provider_id)
    if provider is None:
        raise PriceLookupError(
            unknown_name_message("price provider", provider_id, genai_provider_ids())
        )
    out: list[ApiPrice] = []
    for model in provider.models:
        try:
            out.append(genai_price(provider_id, model.id, on))
        except PriceLookupError:
            continue  # priced per request, image or second, not per token
    return out
