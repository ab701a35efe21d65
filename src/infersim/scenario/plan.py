"""The scenario's `plan:` section: the constraints `infersim plan` searches within.

Each is also a flag of the command (`--gpus`, `--max-gpus`, `--budget`,
`--max-quality-penalty`, `--provider`), which overrides it. Only `infersim plan` reads the
section; a run of the scenario leaves it aside, as it does `expect:`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import Field

from infersim.catalog.types import GpuSpec, RentalQuote, Strict
from infersim.errors import did_you_mean
from infersim.scenario.deployment import CatalogRef
from infersim.scenario.fields import Fraction

ProviderName = Annotated[str, Field(min_length=1, max_length=100)]


def provider_name(quote: RentalQuote) -> str:
    """A rental quote's provider: the first word of the provider it names ('RunPod' for
    'RunPod (H100 SXM spot, March 2026)'); lists of providers compare it without case."""
    return quote.provider.split()[0]


def catalog_providers(gpus: Iterable[GpuSpec]) -> list[str]:
    """Every provider some quote of these GPUs names, sorted without case."""
    names = {provider_name(q) for gpu in gpus for q in gpu.rental}
    return sorted(names, key=str.lower)


def unknown_provider(name: str, known: Sequence[str]) -> str | None:
    """Why `name` is no provider of the quotes `known` (None: it is one)."""
    if name.lower() in {k.lower() for k in known}:
        return None
    return (
        f"no catalog quote names the provider {name!r}; the quotes name "
        f"{', '.join(known)}{did_you_mean(name, known)}"
    )


class PlanConstraints(Strict):
    """What `infersim plan` may choose from, and the limits its plan must keep."""

    gpus: list[CatalogRef] | None = Field(
        default=None, min_length=1, description="GPU types allowed; none = every catalog GPU"
    )
    max_gpus: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] | None = Field(
        default=None, description="most GPUs in the fleet"
    )
    budget_usd_per_month: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = (
        Field(default=None, description="most $/month for the fleet's GPUs")
    )
    max_quality_penalty: Fraction | None = Field(
        default=None, description="largest quantization quality penalty allowed (0.02 = 2%)"
    )
    providers: list[ProviderName] | None = Field(
        default=None,
        min_length=1,
        description="price rented GPUs from these providers' catalog quotes only (a quote's "
        "provider: its first word, any case, e.g. RunPod, AWS); none = any quote",
    )
