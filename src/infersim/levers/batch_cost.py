"""Two deployments' cost per token, batch size by batch size, from the performance model.

At a steady batch of B sequences a replica emits `output_tokens_per_s` (chunked prefill of
the prompts included), so a million output tokens cost GPUs x $/GPU-hour / 3600 / tokens/s
x 1e6 (`ThroughputPoint.usd_per_mtok`). The ratio of two deployments at the same batch says
which is cheaper when both are loaded to that concurrency; `full_load_ratio` compares each
at the largest batch it holds (its maximum throughput).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infersim.perf import PerfModel, steady_state_throughput, throughput_sweep


@dataclass(frozen=True)
class BatchCost:
    """Deployments a and b at one batch size: USD per 1M output tokens at full occupancy."""

    batch_sequences: int
    usd_per_mtok_a: float
    usd_per_mtok_b: float
    time_per_output_token_a_s: float
    time_per_output_token_b_s: float
    fits_a: bool
    fits_b: bool

    @property
    def ratio(self) -> float:
        """a's cost over b's (0.4 = a is 60% cheaper)."""
        return self.usd_per_mtok_a / self.usd_per_mtok_b

    @property
    def fits(self) -> bool:
        return self.fits_a and self.fits_b


def cost_by_batch(
    a: PerfModel,
    b: PerfModel,
    usd_per_gpu_hour_a: float,
    usd_per_gpu_hour_b: float,
    prompt_tokens: int,
    output_tokens: int,
    batches: Iterable[int],
) -> list[BatchCost]:
    """Both deployments' cost per 1M output tokens at each batch size."""
    sizes = list(batches)
    points_a = throughput_sweep(a, prompt_tokens, output_tokens, sizes)
    points_b = throughput_sweep(b, prompt_tokens, output_tokens, sizes)
    return [
        BatchCost(
            batch_sequences=pa.batch_sequences,
            usd_per_mtok_a=pa.usd_per_mtok(usd_per_gpu_hour_a),
            usd_per_mtok_b=pb.usd_per_mtok(usd_per_gpu_hour_b),
            time_per_output_token_a_s=pa.time_per_output_token_s,
            time_per_output_token_b_s=pb.time_per_output_token_s,
            fits_a=pa.fits,
            fits_b=pb.fits,
        )
        for pa, pb in zip(points_a, points_b, strict=True)
    ]


def batches_where(points: Sequence[BatchCost], max_ratio: float) -> tuple[int, ...]:
    """The batch sizes both deployments hold at which a costs at most `max_ratio` of b."""
    return tuple(p.batch_sequences for p in points if p.fits and p.ratio <= max_ratio)


def full_load_ratio(
    a: PerfModel,
    b: PerfModel,
    usd_per_gpu_hour_a: float,
    usd_per_gpu_hour_b: float,
    prompt_tokens: int,
    output_tokens: int,
) -> float:
    """a's cost over b's, each at the largest batch it holds (maximum throughput)."""
    top_a = steady_state_throughput(a, prompt_tokens, output_tokens)
    top_b = steady_state_throughput(b, prompt_tokens, output_tokens)
    return top_a.usd_per_mtok(usd_per_gpu_hour_a) / top_b.usd_per_mtok(usd_per_gpu_hour_b)
