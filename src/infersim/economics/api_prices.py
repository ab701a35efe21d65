"""List prices: what an API deployment costs us, and what an API product charges.

Explicit per-token fields override the referenced list price field by field. A missing
cached-input price falls back to the input price (no cache discount).

Batch tier: requests of a batch class (one with `deadline_s`, or `batch_api: true`) are
billed at the batch price: the standard prices x (1 - `batch_discount`) where the scenario
gives one, else the list price's published batch prices (genai-prices' batch variants, or a
catalog entry's `batch_*` fields) when every standard price comes from that list price, else
the standard prices (no batch tier). `TokenPrices.batch_source` says which.
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.catalog.load import Catalog
from infersim.catalog.prices import PriceLookupError, resolve_price
from infersim.catalog.types import ApiPrice
from infersim.economics.errors import MissingPriceError
from infersim.economics.inputs import BatchSource, ClassVolume, TokenCost
from infersim.scenario.deployment import ApiModel
from infersim.scenario.economics import ApiProduct
from infersim.scenario.workload import RequestClass


@dataclass(frozen=True)
class BatchPrices:
    """USD per million tokens in the batch tier: input (uncached), cached input, output."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float
    output_usd_per_mtok: float
    source: BatchSource


@dataclass(frozen=True)
class TokenPrices:
    """USD per million tokens: input (uncached), cached input, output; and the batch tier."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float
    output_usd_per_mtok: float
    reference: str | None
    batch: BatchPrices


def billed_as_batch(cls: RequestClass) -> bool:
    """A batch class (one with a deadline, or `batch_api`) is billed in the batch tier: by the
    API deployment that serves it, and by the API product that sells it."""
    return cls.batch_api or cls.deadline_s is not None


def _resolve(ref: str, catalog: Catalog, owner: str) -> ApiPrice:
    try:
        return resolve_price(ref, catalog)
    except PriceLookupError as exc:
        raise MissingPriceError(f"{owner}: {exc}") from None


def token_prices(
    ref: str | None,
    input_usd_per_mtok: float | None,
    cached_input_usd_per_mtok: float | None,
    output_usd_per_mtok: float | None,
    catalog: Catalog,
    owner: str,
    batch_discount: float | None = None,
) -> TokenPrices:
    """Explicit prices where given, else the list price `ref` names; the batch tier from
    `batch_discount`, else the list price's (see the module doc)."""
    listed = _resolve(ref, catalog, owner) if ref is not None else None
    price_in = input_usd_per_mtok
    price_cached = cached_input_usd_per_mtok
    price_out = output_usd_per_mtok
    if listed is not None:
        price_in = listed.input_usd_per_mtok if price_in is None else price_in
        price_cached = listed.cached_input_usd_per_mtok if price_cached is None else price_cached
        price_out = listed.output_usd_per_mtok if price_out is None else price_out
    if price_in is None:
        raise MissingPriceError(f"{owner}: no input price; give input_usd_per_mtok")
    if price_out is None:
        raise MissingPriceError(
            f"{owner}: the list price '{ref}' has no output price; give output_usd_per_mtok"
        )
    cached = price_in if price_cached is None else price_cached
    explicit = (input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok)
    if batch_discount is not None:
        keep = 1.0 - batch_discount
        batch = BatchPrices(price_in * keep, cached * keep, price_out * keep, "scenario")
    elif (
        listed is not None
        and listed.batch_input_usd_per_mtok is not None
        and listed.batch_output_usd_per_mtok is not None
        and all(v is None for v in explicit)
    ):
        batch_in = listed.batch_input_usd_per_mtok
        batch_cached = listed.batch_cached_input_usd_per_mtok
        batch = BatchPrices(
            batch_in,
            batch_in if batch_cached is None else batch_cached,
            listed.batch_output_usd_per_mtok,
            "list_price",
        )
    else:
        batch = BatchPrices(price_in, cached, price_out, "none")
    return TokenPrices(price_in, cached, price_out, ref, batch)


def api_token_cost(deployment: ApiModel, name: str, catalog: Catalog) -> TokenCost:
    """What tokens bought from an API provider cost us: its list price."""
    prices = token_prices(
        deployment.list_price,
        deployment.input_usd_per_mtok,
        deployment.cached_input_usd_per_mtok,
        deployment.output_usd_per_mtok,
        catalog,
        f"deployments.{name}",
        deployment.batch_discount,
    )
    return TokenCost(
        deployment=name,
        usd_per_mtok_input=prices.input_usd_per_mtok,
        usd_per_mtok_cached_input=prices.cached_input_usd_per_mtok,
        usd_per_mtok_output=prices.output_usd_per_mtok,
        source="list_price",
        batch_usd_per_mtok_input=prices.batch.input_usd_per_mtok,
        batch_usd_per_mtok_cached_input=prices.batch.cached_input_usd_per_mtok,
        batch_usd_per_mtok_output=prices.batch.output_usd_per_mtok,
        batch_source=prices.batch.source,
    )


def product_prices(product: ApiProduct, name: str, catalog: Catalog) -> TokenPrices:
    """The per-token prices an API product charges, standard and batch (before long-context
    terms)."""
    return token_prices(
        product.list_price,
        product.input_usd_per_mtok,
        product.cached_input_usd_per_mtok,
        product.output_usd_per_mtok,
        catalog,
        f"pricing.api.{name}",
        product.batch_discount,
    )


def class_revenue_usd(product: ApiProduct, prices: TokenPrices, volume: ClassVolume) -> float:
    """What a request class pays through an API product in a month.

    Uncached input at the input price, cached input at the cached price, output at the output
    price, in the batch tier for a batch class; the long-context multiplier applies to
    `long_context_input_share` of the input tokens (cached or not).
    """
    uncached = volume.input_tokens_per_month - volume.cached_input_tokens_per_month
    tier = prices.batch if volume.batch_api else prices
    input_usd = (
        uncached * tier.input_usd_per_mtok
        + volume.cached_input_tokens_per_month * tier.cached_input_usd_per_mtok
    ) / 1e6
    input_usd *= 1.0 + volume.long_context_input_share * (product.long_context_multiplier - 1.0)
    output_usd = volume.output_tokens_per_month * tier.output_usd_per_mtok / 1e6
    return input_usd + output_usd
