"""Batch tiers: what batch classes' tokens cost on API deployments, and earn through API
products, at batch prices against the standard prices (how the prices are found:
`infersim.economics.api_prices`).

One `BatchTier` per API deployment and per API product that batch-billed volumes reach; its
`usd_per_month` is the very figure the margin table charges (API cost) or books (revenue)
for those volumes, and `standard_usd_per_month` what the same tokens would cost or earn at
the standard prices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from infersim.catalog.load import Catalog
from infersim.economics.api_prices import class_revenue_usd, product_prices
from infersim.economics.inputs import BatchSource, ClassVolume, TokenCost
from infersim.scenario.model import Scenario


@dataclass(frozen=True)
class BatchTier:
    name: str
    """The API deployment (kind 'purchase') or API product (kind 'sale')."""
    kind: Literal["purchase", "sale"]
    source: BatchSource
    usd_per_mtok_input: float
    usd_per_mtok_cached_input: float
    usd_per_mtok_output: float
    requests_per_month: float
    usd_per_month: float
    standard_usd_per_month: float

    @property
    def saving_usd_per_month(self) -> float:
        """What the batch tier takes off the standard prices for these volumes."""
        return self.standard_usd_per_month - self.usd_per_month


def batch_tiers(
    scenario: Scenario,
    catalog: Catalog,
    volumes: Sequence[ClassVolume],
    token_costs: Mapping[str, TokenCost],
) -> tuple[BatchTier, ...]:
    """Purchases (API deployments in `token_costs` with source 'list_price') then sales (API
    products), in scenario order, each over the batch-billed volumes that reach it."""
    batch = [v for v in volumes if v.batch_api]
    out: list[BatchTier] = []
    for name in scenario.deployments:
        cost = token_costs.get(name)
        mine = [v for v in batch if v.deployment == name]
        if cost is None or cost.source != "list_price" or not mine:
            continue
        assert cost.batch_source is not None
        assert cost.batch_usd_per_mtok_input is not None
        assert cost.batch_usd_per_mtok_cached_input is not None
        assert cost.batch_usd_per_mtok_output is not None
        out.append(
            BatchTier(
                name,
                "purchase",
                cost.batch_source,
                cost.batch_usd_per_mtok_input,
                cost.batch_usd_per_mtok_cached_input,
                cost.batch_usd_per_mtok_output,
                math.fsum(v.requests_per_month for v in mine),
                math.fsum(_tokens_usd(cost, v, batch=True) for v in mine),
                math.fsum(_tokens_usd(cost, v, batch=False) for v in mine),
            )
        )
    for name, product in scenario.pricing.api.items():
        mine = [v for v in batch if v.deployment == product.deployment]
        if not mine:
            continue
        prices = product_prices(product, name, catalog)
        tier = prices.batch
        out.append(
            BatchTier(
                name,
                "sale",
                tier.source,
                tier.input_usd_per_mtok,
                tier.cached_input_usd_per_mtok,
                tier.output_usd_per_mtok,
                math.fsum(v.requests_per_month for v in mine),
                math.fsum(class_revenue_usd(product, prices, v) for v in mine),
                math.fsum(
                    class_revenue_usd(product, prices, dataclasses.replace(v, batch_api=False))
                    for v in mine
                ),
            )
        )
    return tuple(out)


def _tokens_usd(cost: TokenCost, volume: ClassVolume, batch: bool) -> float:
    return cost.usd(
        volume.input_tokens_per_month,
        volume.cached_input_tokens_per_month,
        volume.output_tokens_per_month,
        batch,
    )
