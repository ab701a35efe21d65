"""Performance model: how long one engine iteration takes for a model on a GPU (or a
tensor/expert-parallel group of GPUs), at a precision and a batch state, and how many tokens
fit in memory. Pure functions and frozen objects over catalog data; no I/O."""

from infersim.perf.build import build_perf_model
from infersim.perf.efficiency import Efficiency, default_efficiency
from infersim.perf.errors import DoesNotFit, InvalidDeploymentError
from infersim.perf.memory import SequenceCapSource
from infersim.perf.model import IterationBreakdown, PerfModel
from infersim.perf.roofline import Bound
from infersim.perf.shape import chunk_context_tokens, expected_distinct_experts
from infersim.perf.speculative import (
    SpeculationPoint,
    break_even_batch,
    expected_tokens_by_position,
    speculative_expected_tokens,
    speculative_speedup,
    speedup_at_batch,
    speedup_by_batch,
)
from infersim.perf.throughput import (
    ThroughputPoint,
    largest_batch,
    prompt_prefill,
    slo_throughput,
    steady_state_throughput,
    throughput_sweep,
)

__all__ = [
    "Bound",
    "DoesNotFit",
    "Efficiency",
    "InvalidDeploymentError",
    "IterationBreakdown",
    "PerfModel",
    "SequenceCapSource",
    "SpeculationPoint",
    "ThroughputPoint",
    "break_even_batch",
    "build_perf_model",
    "chunk_context_tokens",
    "default_efficiency",
    "expected_distinct_experts",
    "expected_tokens_by_position",
    "largest_batch",
    "prompt_prefill",
    "slo_throughput",
    "speculative_expected_tokens",
    "speculative_speedup",
    "speedup_at_batch",
    "speedup_by_batch",
    "steady_state_throughput",
    "throughput_sweep",
]
