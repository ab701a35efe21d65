"""A provider price list: rental quotes restricted to the providers named (`--provider`).

A catalog quote names its provider in words ('RunPod (H100 SXM spot, March 2026)', 'AWS EC2
P5 (per GPU, ...)'); its provider's name is the first of them ('RunPod', 'AWS'), compared
without case. With a list of providers, a rented candidate is priced at the catalog's first
quote of its kind from one of them (as the run takes the catalog's first quote of a kind),
written on the deployment as its `usd_per_gpu_hour`; a candidate with no such quote has no
price. A price the scenario states itself is the scenario's, not a quote: it stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from infersim.catalog.types import GpuSpec, RentalQuote
from infersim.catalog.types import Pricing as QuotePricing
from infersim.errors import UsageError
from infersim.scenario.plan import catalog_providers, provider_name, unknown_provider


def parse_providers(flag: str, text: str, gpus: Iterable[GpuSpec]) -> tuple[str, ...]:
    """'runpod,AWS' -> ('aws', 'runpod'): providers the catalog's quotes name (no case)."""
    known = catalog_providers(gpus)
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise UsageError(f"{flag}: give one or more of {', '.join(known)}")
    for item in items:
        problem = unknown_provider(item, known)
        if problem is not None:
            raise UsageError(f"{flag}: {problem}")
    return tuple(sorted({item.lower() for item in items}))


def provider_quote(gpu: GpuSpec, pricing: str, providers: Sequence[str]) -> RentalQuote | None:
    """The catalog's first quote of `pricing` for `gpu` from one of `providers` (lower case)."""
    wanted = QuotePricing(pricing)
    for quote in gpu.rental:
        if quote.pricing is wanted and provider_name(quote).lower() in providers:
            return quote
    return None
