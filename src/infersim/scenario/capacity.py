"""Capacity commitments for rented GPUs: a reservation paid whether used or not, and spot.

A rented fleet's GPU-hours are bought in up to three ways (`infersim.economics.capacity`):
the reserved GPUs (every hour of the month, busy or idle), then, above the commitment, a
share bought as spot and the rest at the deployment's own rate (`pricing`, on demand).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from infersim.catalog.types import Strict
from infersim.scenario.fields import Fraction, PositiveSeconds, UsdPerHour


class ReservedCapacity(Strict):
    """GPUs committed for one or three years: paid every hour of the month, used or not."""

    gpus: Annotated[int, Field(ge=1, le=10_000_000, strict=True)] = Field(
        description="GPUs reserved for each deployment this cost applies to (its fleet's "
        "hours up to gpus x 730 h a month run on them)"
    )
    term_years: Literal[1, 3] = 1
    usd_per_gpu_hour: UsdPerHour | None = Field(
        default=None,
        description="none = discount off the on-demand rate, or else the GPU catalog's first "
        "reserved quote of this term",
    )
    discount: Fraction | None = Field(
        default=None, description="reserved rate = on-demand rate x (1 - discount)"
    )

    @model_validator(mode="after")
    def _one_rate(self) -> ReservedCapacity:
        if self.usd_per_gpu_hour is not None and self.discount is not None:
            raise ValueError("give usd_per_gpu_hour or discount, not both")
        return self


class SpotCapacity(Strict):
    """Interruptible GPUs for a share of the hours above the commitment.

    The engine reclaims replicas at the rate these hours give (`serving.interruptions`): the
    requests on a reclaimed replica are admitted again on the rest of the fleet and
    recomputed there (none is lost), and the replica is missing until its replacement serves
    (the lag, reported as capacity missing; it is paid in latency). Not on disaggregated
    fleets."""

    share: Fraction = Field(description="share of the GPU-hours above the commitment on spot")
    usd_per_gpu_hour: UsdPerHour | None = Field(
        default=None, description="none = the GPU catalog's first spot quote"
    )
    interruptions_per_gpu_hour: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        description="reclaims per spot GPU-hour: each scheduled replica is reclaimed at this "
        "x its GPUs x the spot share of the fleet's GPU-hours (a mixed fleet's pool: of the "
        "pool's own; each takes down its replica)"
    )
    replacement_lag_s: PositiveSeconds = Field(
        default=120.0,
        description="from a reclaim to its replacement replica serving, empty (billed from "
        "its launch; no admissions meanwhile)",
    )
