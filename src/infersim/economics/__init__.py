"""Economics: what serving costs (GPU-hours, list prices, overhead) and what it earns (API
products, subscription plans, ads, contracts), per segment and for the company.

Pure functions over the scenario and the engine's per-deployment figures; randomness comes
from the `numpy.random.Generator` passed in.

The numpy side (the month's evaluation, margins, usage draws) is imported on first use of its
names: the preflight (`infersim validate`) prices deployments without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from infersim.economics.api_prices import api_token_cost, class_revenue_usd, product_prices
from infersim.economics.attribution import DeploymentCost
from infersim.economics.errors import (
    EconomicsError,
    InvalidEconomicsInputError,
    MissingPriceError,
    MissingPurchasePriceError,
    MissingRentalQuoteError,
    MissingTokenCostError,
)
from infersim.economics.gpu_cost import GpuHourCost, gpu_usd_per_hour
from infersim.economics.inputs import HOURS_PER_MONTH, ClassVolume, FleetCost, TokenCost
from infersim.economics.pnl import Pnl
from infersim.economics.token_cost import token_cost_from_fleet

if TYPE_CHECKING:
    from infersim.economics.evaluate import (
        EconomicsResult,
        draw_populations,
        evaluate_horizon,
        evaluate_month,
    )
    from infersim.economics.margins import MarginRow, MarginTable, UserMarginDistribution
    from infersim.economics.users import (
        LognormalUsage,
        ParetoUsage,
        sample_requests_per_user,
        usage_params,
    )

#: Names re-exported from the modules that import numpy -> their module, imported on first use.
_LAZY = {
    **dict.fromkeys(
        ("EconomicsResult", "draw_populations", "evaluate_horizon", "evaluate_month"), "evaluate"
    ),
    **dict.fromkeys(("MarginRow", "MarginTable", "UserMarginDistribution"), "margins"),
    **dict.fromkeys(
        ("LognormalUsage", "ParetoUsage", "sample_requests_per_user", "usage_params"), "users"
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "HOURS_PER_MONTH",
    "ClassVolume",
    "DeploymentCost",
    "EconomicsError",
    "EconomicsResult",
    "FleetCost",
    "GpuHourCost",
    "InvalidEconomicsInputError",
    "LognormalUsage",
    "MarginRow",
    "MarginTable",
    "MissingPriceError",
    "MissingPurchasePriceError",
    "MissingRentalQuoteError",
    "MissingTokenCostError",
    "ParetoUsage",
    "Pnl",
    "TokenCost",
    "UserMarginDistribution",
    "api_token_cost",
    "class_revenue_usd",
    "draw_populations",
    "evaluate_horizon",
    "evaluate_month",
    "gpu_usd_per_hour",
    "product_prices",
    "sample_requests_per_user",
    "token_cost_from_fleet",
    "usage_params",
]
