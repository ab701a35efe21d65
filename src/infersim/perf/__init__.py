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
from infersim.perf.speculative import speculative_expected_tokens, speculative_speedup
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
    "ThroughputPoint",
    "build_perf_model",
    "chunk_context_tokens",
    "default_efficiency",
    "expected_distinct_experts",
    "largest_batch",
    "prompt_prefill",
    "slo_throughput",
    "speculative_expected_tokens",
    "speculative_speedup",
    "steady_state_throughput",
    "throughput_sweep",
]
