"""Steady-state throughput: the batch limit, the prefill/decode mix, cost, and the knee."""

from __future__ import annotations

import pytest
from perf_fixtures import fixture_catalog

from infersim.perf import (
    DoesNotFit,
    PerfModel,
    build_perf_model,
    largest_batch,
    steady_state_throughput,
    throughput_sweep,
)
from infersim.scenario.deployment import SelfHosted

CATALOG = fixture_catalog()


def model(**fields: object) -> PerfModel:
    base = {"model": "llama-3.1-8b", "gpu": "h100-sxm", **fields}
    return build_perf_model(SelfHosted.model_validate(base), CATALOG)


def test_each_iteration_prefills_the_prompts_of_the_sequences_it_replaces() -> None:
    perf = model()
    point = steady_state_throughput(perf, 1000, 250)
    finished_per_iteration = point.batch_sequences / 250
    assert point.prefill_tokens_per_iteration == pytest.approx(finished_per_iteration * 1000)
    assert point.output_tokens_per_s == pytest.approx(point.batch_sequences / point.iteration_s)
    assert point.output_tokens_per_s_per_gpu == point.output_tokens_per_s


@pytest.mark.parametrize(
    ("fields", "prompt", "output", "reason"),
    [
        ({"max_batch_sequences": 16}, 1000, 1000, "max_batch_sequences"),
        ({}, 30_000, 2000, "kv_cache"),
        ({"max_batch_tokens": 2048}, 2000, 100, "max_batch_tokens"),
    ],
)
def test_largest_batch_names_its_limit(
    fields: dict[str, object], prompt: int, output: int, reason: str
) -> None:
    perf = model(**fields)
    batch, why = largest_batch(perf, prompt, output)
    assert why == reason
    assert batch <= perf.max_sequences(prompt + output)
    per_sequence = 1 + prompt / output
    assert batch * per_sequence <= perf.max_batch_tokens
    assert steady_state_throughput(perf, prompt, output).fits


def test_a_sequence_longer_than_the_kv_cache_does_not_fit() -> None:
    perf = model(model="llama-3.3-70b", gpu="h200-sxm", precision={"weights": "fp8"})
    with pytest.raises(DoesNotFit, match="does not fit in a KV cache"):
        steady_state_throughput(perf, 2_000_000, 1000)


def test_cost_per_million_output_tokens() -> None:
    perf = model(model="llama-3.3-70b", tensor_parallel=2, precision={"weights": "fp8"})
    point = steady_state_throughput(perf, 1000, 1000)
    expected = 2.5 * 2 / 3600 / point.output_tokens_per_s * 1e6
    assert point.usd_per_mtok(2.5) == pytest.approx(expected)


def test_sweep_shows_the_knee() -> None:
    """Memory-bound at small batch: 8x the batch gives nearly 8x the tokens at nearly the same
    latency; past the knee, doubling the batch adds little throughput and mostly latency."""
    perf = model(max_batch_sequences=4096)
    points = throughput_sweep(perf, 1000, 200, [1, 8, 1024, 2048])
    small, eight, big, bigger = points
    assert eight.output_tokens_per_s / small.output_tokens_per_s > 6
    assert eight.time_per_output_token_s / small.time_per_output_token_s < 1.3
    assert bigger.output_tokens_per_s / big.output_tokens_per_s < 1.3
    assert bigger.time_per_output_token_s / big.time_per_output_token_s > 1.5
    latencies = [p.time_per_output_token_s for p in points]
    assert latencies == sorted(latencies)


def test_sweep_flags_batches_that_do_not_fit() -> None:
    perf = model(max_batch_sequences=65_536, max_batch_tokens=65_536)
    limit = perf.max_sequences(3000)
    fits, too_big = throughput_sweep(perf, 2000, 1000, [limit, limit + 1])
    assert fits.fits and not too_big.fits


def test_prefix_caching_skips_prefill_compute_but_not_kv_memory() -> None:
    plain = model()
    cached = model(prefix_caching={"cached_share": 0.75})
    assert cached.max_sequences(2100) == plain.max_sequences(2100)
    assert cached.kv_bytes_per_token == plain.kv_bytes_per_token
    with_cache = steady_state_throughput(cached, 2000, 100)
    without = steady_state_throughput(plain, 2000, 100)
    assert with_cache.prefill_tokens_per_iteration == pytest.approx(
        0.25
        * without.prefill_tokens_per_iteration
        * with_cache.batch_sequences
        / without.batch_sequences
    )
    assert with_cache.output_tokens_per_s > 1.5 * without.output_tokens_per_s


def test_prompt_prefill_adds_up_its_chunks_after_the_cached_prefix() -> None:
    from infersim.perf import chunk_context_tokens, prompt_prefill

    perf = model(max_batch_tokens=4096, prefix_caching={"cached_share": 0.25})
    prompt = 10_000
    chunks = [(4096, 2500), (3404, 6596)]  # 7,500 computed tokens after 2,500 cached
    expected = sum(perf.iteration_time_s(n, chunk_context_tokens(n, p), 0, 0) for n, p in chunks)
    breakdown = prompt_prefill(perf, prompt)
    assert breakdown.total_s == pytest.approx(expected, rel=1e-12)
    assert breakdown.overhead_s == pytest.approx(2 * perf.efficiency.overhead_s)
