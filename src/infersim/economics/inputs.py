"""What the serving engine hands to the economics core, per deployment and per request class.

All amounts are per calendar month (730 hours) unless the name says otherwise. Token counts
follow one convention throughout: `input_tokens` are all prompt tokens, and
`cached_input_tokens` is the part of them read from the prefix cache (so it never exceeds
`input_tokens`); `output_tokens` are generated tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from infersim.economics.errors import InvalidEconomicsInputError

HOURS_PER_MONTH = 730.0
"""Hours in an average month (8,760 h / 12): GPU bills, amortization and hosting use it."""

TokenCostSource = Literal["engine", "list_price"]
BatchSource = Literal["scenario", "list_price", "none"]
"""Where an API deployment's batch price comes from: the scenario's `batch_discount`, the list
price's batch tier, or nowhere (batch requests pay the standard prices)."""


def _check_amount(owner: str, field: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise InvalidEconomicsInputError(f"{owner}: {field} must be finite and >= 0, got {value!r}")


def _check_share(owner: str, field: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise InvalidEconomicsInputError(f"{owner}: {field} must be within [0, 1], got {value!r}")


@dataclass(frozen=True)
class TokenCost:
    """The marginal serving cost of tokens on one deployment, USD per million tokens.

    source 'engine': the engine's provisioned GPU cost spread over the tokens it served (idle
    capacity included); source 'list_price': tokens bought from an API provider, whose batch
    tier (`batch_*`, see `infersim.economics.api_prices`) prices batch classes' tokens. A
    fleet's tokens cost the same whichever class they serve: it has no batch tier.
    """

    deployment: str
    usd_per_mtok_input: float
    usd_per_mtok_cached_input: float
    usd_per_mtok_output: float
    source: TokenCostSource
    batch_usd_per_mtok_input: float | None = None
    batch_usd_per_mtok_cached_input: float | None = None
    batch_usd_per_mtok_output: float | None = None
    batch_source: BatchSource | None = None
    """Where the batch tier comes from (None: no batch tier; batch tokens cost the same)."""

    def __post_init__(self) -> None:
        owner = f"token cost of '{self.deployment}'"
        _check_amount(owner, "usd_per_mtok_input", self.usd_per_mtok_input)
        _check_amount(owner, "usd_per_mtok_cached_input", self.usd_per_mtok_cached_input)
        _check_amount(owner, "usd_per_mtok_output", self.usd_per_mtok_output)
        if self.source not in ("engine", "list_price"):
            raise InvalidEconomicsInputError(
                f"{owner}: source must be 'engine' or 'list_price', got {self.source!r}"
            )
        batch = (
            self.batch_usd_per_mtok_input,
            self.batch_usd_per_mtok_cached_input,
            self.batch_usd_per_mtok_output,
            self.batch_source,
        )
        if any(v is None for v in batch) and any(v is not None for v in batch):
            raise InvalidEconomicsInputError(
                f"{owner}: a batch tier gives all three batch prices and batch_source, or none"
            )
        if self.source == "engine" and self.batch_source is not None:
            raise InvalidEconomicsInputError(f"{owner}: a fleet's tokens have no batch tier")
        for key in ("input", "cached_input", "output"):
            value = getattr(self, f"batch_usd_per_mtok_{key}")
            if value is not None:
                _check_amount(owner, f"batch_usd_per_mtok_{key}", value)

    def usd(
        self,
        input_tokens: float,
        cached_input_tokens: float,
        output_tokens: float,
        batch: bool = False,
    ) -> float:
        """The cost of these tokens (cached_input_tokens are part of input_tokens), in the
        batch tier where `batch` and the deployment has one."""
        uncached = input_tokens - cached_input_tokens
        rates = (self.usd_per_mtok_input, self.usd_per_mtok_cached_input, self.usd_per_mtok_output)
        if batch and self.batch_usd_per_mtok_input is not None:
            assert self.batch_usd_per_mtok_cached_input is not None
            assert self.batch_usd_per_mtok_output is not None
            rates = (
                self.batch_usd_per_mtok_input,
                self.batch_usd_per_mtok_cached_input,
                self.batch_usd_per_mtok_output,
            )
        return (
            uncached * rates[0] + cached_input_tokens * rates[1] + output_tokens * rates[2]
        ) / 1e6


@dataclass(frozen=True)
class ClassVolume:
    """Monthly volumes of one request class on one deployment (a routed class may have one
    per deployment). Priced by the API product sold on that deployment, if any."""

    name: str
    deployment: str
    requests_per_month: float
    input_tokens_per_month: float
    cached_input_tokens_per_month: float
    output_tokens_per_month: float
    batch_api: bool
    long_context_input_share: float
    unserved_requests_per_month: float = 0.0
    """Demand the fleet could not serve (capacity): not billed, not in the fields above."""
    unserved_input_tokens_per_month: float = 0.0
    unserved_cached_input_tokens_per_month: float = 0.0
    unserved_output_tokens_per_month: float = 0.0

    def unserved(self) -> ClassVolume:
        """The demand the fleet could not serve, as a volume (to price what it forewent)."""
        return ClassVolume(
            name=self.name,
            deployment=self.deployment,
            requests_per_month=self.unserved_requests_per_month,
            input_tokens_per_month=self.unserved_input_tokens_per_month,
            cached_input_tokens_per_month=self.unserved_cached_input_tokens_per_month,
            output_tokens_per_month=self.unserved_output_tokens_per_month,
            batch_api=self.batch_api,
            long_context_input_share=self.long_context_input_share,
        )

    def __post_init__(self) -> None:
        owner = f"volume of class '{self.name}' on '{self.deployment}'"
        _check_amount(owner, "unserved_requests_per_month", self.unserved_requests_per_month)
        _check_amount(
            owner, "unserved_input_tokens_per_month", self.unserved_input_tokens_per_month
        )
        _check_amount(
            owner,
            "unserved_cached_input_tokens_per_month",
            self.unserved_cached_input_tokens_per_month,
        )
        _check_amount(
            owner, "unserved_output_tokens_per_month", self.unserved_output_tokens_per_month
        )
        _check_amount(owner, "requests_per_month", self.requests_per_month)
        _check_amount(owner, "input_tokens_per_month", self.input_tokens_per_month)
        _check_amount(owner, "cached_input_tokens_per_month", self.cached_input_tokens_per_month)
        _check_amount(owner, "output_tokens_per_month", self.output_tokens_per_month)
        _check_share(owner, "long_context_input_share", self.long_context_input_share)
        if self.cached_input_tokens_per_month > self.input_tokens_per_month * (1 + 1e-12):
            raise InvalidEconomicsInputError(
                f"{owner}: cached_input_tokens_per_month ({self.cached_input_tokens_per_month:g}) "
                f"exceeds input_tokens_per_month ({self.input_tokens_per_month:g}); cached "
                "tokens are a part of the input tokens"
            )


@dataclass(frozen=True)
class BillPart:
    """GPU-hours of a fleet bought one way: reserved, on demand, spot, owned..."""

    kind: str
    gpu_hours_per_month: float
    usd_per_gpu_hour: float

    @property
    def usd_per_month(self) -> float:
        return self.gpu_hours_per_month * self.usd_per_gpu_hour


@dataclass(frozen=True)
class FleetCost:
    """The provisioned fleet of one self-hosted deployment: its monthly GPU bill.

    Without `parts`, the bill is `gpu_hours_per_month x usd_per_gpu_hour`. With them (capacity
    bought several ways, `infersim.economics.capacity`), the bill is the sum of the parts, their
    hours add up to `gpu_hours_per_month`, and `usd_per_gpu_hour` is the bill over the hours."""

    deployment: str
    gpu_hours_per_month: float
    """Paid GPU-hours (provisioned, busy and idle alike)."""
    busy_share: float
    """Share of the paid GPU-hours the GPUs computed."""
    usd_per_gpu_hour: float
    parts: tuple[BillPart, ...] = ()

    def __post_init__(self) -> None:
        owner = f"fleet of '{self.deployment}'"
        _check_amount(owner, "gpu_hours_per_month", self.gpu_hours_per_month)
        _check_amount(owner, "usd_per_gpu_hour", self.usd_per_gpu_hour)
        _check_share(owner, "busy_share", self.busy_share)
        for part in self.parts:
            _check_amount(owner, f"{part.kind} gpu_hours_per_month", part.gpu_hours_per_month)
            _check_amount(owner, f"{part.kind} usd_per_gpu_hour", part.usd_per_gpu_hour)
        if self.parts:
            hours = math.fsum(p.gpu_hours_per_month for p in self.parts)
            if not math.isclose(hours, self.gpu_hours_per_month, rel_tol=1e-9, abs_tol=1e-9):
                raise InvalidEconomicsInputError(
                    f"{owner}: its parts' GPU-hours ({hours:g}) differ from "
                    f"gpu_hours_per_month ({self.gpu_hours_per_month:g})"
                )

    @property
    def usd_per_month(self) -> float:
        """The whole provisioned bill, busy and idle hours alike."""
        if self.parts:
            return math.fsum(p.usd_per_month for p in self.parts)
        return self.gpu_hours_per_month * self.usd_per_gpu_hour

    @property
    def busy_gpu_hours_per_month(self) -> float:
        return self.gpu_hours_per_month * self.busy_share

    @property
    def idle_usd_per_month(self) -> float:
        return self.usd_per_month * (1.0 - self.busy_share)
