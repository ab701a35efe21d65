"""List prices: what an API deployment costs us, and what an API product charges.

Explicit per-token fields override the referenced list price field by field. A missing
cached-input price falls back to the input price (no cache discount).
"""

from __future__ import annotations

from dataclasses import dataclass

from infersim.catalog.load import Catalog
from infersim.catalog.prices import PriceLookupError, resolve_price
from infersim.catalog.types import ApiPrice
from infersim.economics.errors import MissingPriceError
from infersim.economics.inputs import ClassVolume, TokenCost
from infersim.scenario.deployment import ApiModel
from infersim.scenario.economics import ApiProduct


@dataclass(frozen=True)
class TokenPrices:
    """USD per million tokens: input (uncached), cached input, output."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float
    output_usd_per_mtok: float
    reference: str | None


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
) -> TokenPrices:
    """Explicit prices where given, else the list price `ref` names (see the module doc)."""
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
    return TokenPrices(price_in, price_in if price_cached is None else price_cached, price_out, ref)


def api_token_cost(deployment: ApiModel, name: str, catalog: Catalog) -> TokenCost:
    """What tokens bought from an API provider cost us: its list price."""
    prices = token_prices(
        deployment.list_price,
        deployment.input_usd_per_mtok,
        deployment.cached_input_usd_per_mtok,
        deployment.output_usd_per_mtok,
        catalog,
        f"deployments.{name}",
    )
    return TokenCost(
        deployment=name,
        usd_per_mtok_input=prices.input_usd_per_mtok,
        usd_per_mtok_cached_input=prices.cached_input_usd_per_mtok,
        usd_per_mtok_output=prices.output_usd_per_mtok,
        source="list_price",
    )


def product_prices(product: ApiProduct, name: str, catalog: Catalog) -> TokenPrices:
    """The per-token prices an API product charges (before batch and long-context terms)."""
    return token_prices(
        product.list_price,
        product.input_usd_per_mtok,
        product.cached_input_usd_per_mtok,
        product.output_usd_per_mtok,
        catalog,
        f"pricing.api.{name}",
    )


def class_revenue_usd(product: ApiProduct, prices: TokenPrices, volume: ClassVolume) -> float:
    """What a request class pays through an API product in a month.

    Uncached input at the input price, cached input at the cached price, output at the output
    price; the long-context multiplier applies to `long_context_input_share` of the input
    tokens (cached or not); batch classes then get the batch discount on the whole bill.
    """
    uncached = volume.input_tokens_per_month - volume.cached_input_tokens_per_month
    input_usd = (
        uncached * prices.input_usd_per_mtok
        + volume.cached_input_tokens_per_month * prices.cached_input_usd_per_mtok
    ) / 1e6
    input_usd *= 1.0 + volume.long_context_input_share * (product.long_context_multiplier - 1.0)
    output_usd = volume.output_tokens_per_month * prices.output_usd_per_mtok / 1e6
    discount = product.batch_discount if volume.batch_api else 0.0
    return (input_usd + output_usd) * (1.0 - discount)
