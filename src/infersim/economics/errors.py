"""Errors of the economics core: each names the value that is missing or wrong, and the fix."""

from __future__ import annotations

from infersim.errors import InfersimError


class EconomicsError(InfersimError):
    """Base for economics errors the user (or the integrator) can fix."""


class MissingRentalQuoteError(EconomicsError):
    """A rented GPU's pricing model has no quote in the catalog and no explicit price."""


class MissingPurchasePriceError(EconomicsError):
    """An owned GPU has no purchase price (nor, for power, a TDP) to amortize."""


class MissingPriceError(EconomicsError):
    """An API deployment or product cannot be priced (unknown reference, missing price)."""


class MissingTokenCostError(EconomicsError):
    """Tokens are served on a deployment for which no per-token cost was given."""


class InvalidEconomicsInputError(EconomicsError):
    """An input from the engine (volume, fleet, token cost) is out of range or inconsistent."""


class MissingPowerError(EconomicsError):
    """Energy is asked for on a GPU without a board power (tdp_w) in the catalog."""
