"""Levers on the cost of inference, and the questions the article asks of them: when does
self-hosting beat an API (`breakeven`), and how does the cost of two deployments compare
batch size by batch size (`batch_cost`). Pure functions over a run's results and the
performance model; no I/O."""

from infersim.levers.batch_cost import BatchCost, batches_where, cost_by_batch, full_load_ratio
from infersim.levers.breakeven import (
    Breakeven,
    Outcome,
    TokenMix,
    breakeven_mtok_per_month,
    run_breakevens,
    self_hosting_breakeven,
    workload_mix,
)

__all__ = [
    "BatchCost",
    "Breakeven",
    "Outcome",
    "TokenMix",
    "batches_where",
    "breakeven_mtok_per_month",
    "cost_by_batch",
    "full_load_ratio",
    "run_breakevens",
    "self_hosting_breakeven",
    "workload_mix",
]
