"""The scenario: one YAML file's worth of assumptions, from GPUs to prices to expectations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from infersim.catalog.types import ApiPrice, GpuSpec, ModelArch, Strict
from infersim.scenario.deployment import Deployment, Fleet, Routing
from infersim.scenario.economics import Costs, Pricing
from infersim.scenario.fields import Name, PositiveSeconds
from infersim.scenario.plan import PlanConstraints
from infersim.scenario.workload import Workload

SCHEMA_URL = "https://infersim.dev/schema/scenario.schema.json"


def _month_start(value: Any) -> Any:
    """'2026-01' as the first day of that month (YAML reads it as a string)."""
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        return value + "-01"
    return value


class Horizon(Strict):
    """How long to simulate serving, and how many months to project the economics."""

    simulated_s: PositiveSeconds = Field(
        default=3600.0, description="serving time simulated by the engine"
    )
    months: Annotated[int, Field(ge=1, le=600, strict=True)] = 1
    start: Annotated[dt.date, BeforeValidator(_month_start)] | None = Field(
        default=None, description="calendar month of month 0 (YYYY-MM), for curves by date"
    )


class InlineCatalog(Strict):
    """Catalog entries added by this scenario (validated like the shipped ones)."""

    gpus: list[GpuSpec] = Field(default_factory=list)
    models: list[ModelArch] = Field(default_factory=list)
    prices: list[ApiPrice] = Field(default_factory=list)


class Expectation(Strict):
    """A bound on an output metric, checked by `infersim check`."""

    metric: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="dotted path of an output, e.g. margins.plus.gross_margin_pct"
    )
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    level: Literal["warn", "fail"] = "fail"
    max_probability: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None,
        description="probabilistic: the bound may be broken in at most this share of samples",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> Expectation:
        if self.min is None and self.max is None:
            raise ValueError("an expectation needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} exceeds max {self.max:g}")
        return self


class Scenario(Strict):
    """A scenario file, after `extends` and variants have been applied."""

    name: Name
    description: str | None = Field(default=None, max_length=5000)
    seed: Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)] = 0
    extends: str | None = Field(
        default=None, description="a base scenario, relative to this file; this file overrides it"
    )
    catalog: InlineCatalog = Field(default_factory=InlineCatalog)
    deployments: dict[Name, Deployment] = Field(min_length=1)
    fleet: Fleet = Field(default_factory=Fleet)
    routing: Routing | None = None
    workload: Workload
    pricing: Pricing = Field(default_factory=Pricing)
    costs: Costs = Field(default_factory=Costs)
    horizon: Horizon = Field(default_factory=Horizon)
    expect: list[Expectation] = Field(default_factory=list)
    plan: PlanConstraints | None = Field(
        default=None, description="constraints for `infersim plan` (its flags override them)"
    )
    variants: dict[Name, dict[str, Any]] = Field(
        default_factory=dict,
        description="named sets of overrides (dotted keys allowed), e.g. "
        "{int4-h200: {deployments.main.precision.weights: int4, deployments.main.gpu: h200-sxm}}",
    )
    variant: Name | None = Field(
        default=None, description="set by the loader: the variant applied, if any"
    )
