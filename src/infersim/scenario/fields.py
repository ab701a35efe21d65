"""Bounded numeric field types shared by the scenario models.

Bounds reject what cannot be meant (negative prices, rates or counts; fractions outside
[0, 1]) and what is absurd (a billion replicas), so a typo fails validation instead of
producing a plausible-looking result. Integers are strict: `true`, `4.0` or `"4"` is not an
integer (pydantic would otherwise read `replicas: true` as 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class CurveRounds:
    """Marks an integer field that a curve over months may drive (a count of users or
    requests): each month's value is rounded to a whole number. On any other integer field a
    curve is refused (`infersim.scenario.params`)."""


Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
UsdAmount = Annotated[float, Field(ge=0, le=1e13, allow_inf_nan=False)]
UsdPerMtok = Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)]
UsdPerHour = Annotated[float, Field(ge=0, le=1e4, allow_inf_nan=False)]
Gco2ePerKwh = Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)]
RatePerS = Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)]
Tokens = Annotated[int, Field(ge=1, le=10_000_000, strict=True)]
TokensFloat = Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10_000_000_000, strict=True), CurveRounds()]
Replicas = Annotated[int, Field(ge=1, le=100_000, strict=True)]
Parallelism = Annotated[int, Field(ge=1, le=1024, strict=True)]
PositiveSeconds = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
Multiplier = Annotated[float, Field(gt=0, le=1e3, allow_inf_nan=False)]
GrowthPerMonth = Annotated[float, Field(gt=-1, le=10, allow_inf_nan=False)]
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="a name: letters, digits, '_' and '-' (no dots: dots separate keys)",
    ),
]
