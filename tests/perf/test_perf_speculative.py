"""Speculative decoding: Leviathan et al.'s formulas, and the model's known behaviour (large
gains at small batch that shrink and turn into a slowdown as decode becomes compute-bound)."""

from __future__ import annotations

import itertools

import pytest
from perf_fixtures import fixture_catalog

from infersim.perf import (
    PerfModel,
    build_perf_model,
    speculative_expected_tokens,
    speculative_speedup,
    throughput_sweep,
)
from infersim.scenario.deployment import SelfHosted

CATALOG = fixture_catalog()


def model(speculative: dict[str, object] | None = None, **fields: object) -> PerfModel:
    base: dict[str, object] = {
        "model": "llama-3.3-70b",
        "gpu": "h200-sxm",
        "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8"},
        "max_batch_sequences": 1024,
        **fields,
    }
    if speculative is not None:
        base["speculative"] = speculative
    return build_perf_model(SelfHosted.model_validate(base), CATALOG)


DRAFT = {
    "method": "draft_model",
    "draft_model": "llama-3.2-1b",
    "draft_tokens": 4,
    "acceptance_rate": 0.8,
}


def test_expected_tokens_match_the_published_checks() -> None:
    assert speculative_expected_tokens(0.9, 10) == pytest.approx(6.862, abs=5e-4)
    assert speculative_expected_tokens(0.8, 5) == pytest.approx(3.69, abs=5e-3)
    assert speculative_expected_tokens(0.0, 7) == 1.0
    assert speculative_expected_tokens(0.7, 0) == 1.0
    assert speculative_expected_tokens(1.0, 4) == 5.0


def test_expected_tokens_equal_the_sum_of_acceptance_probabilities() -> None:
    """E[tokens] = sum_{i=0..gamma} alpha^i (the i-th draft is kept if all before it are)."""
    for alpha in (0.1, 0.5, 0.75, 0.95):
        for gamma in (1, 3, 8):
            direct = sum(alpha**i for i in range(gamma + 1))
            assert speculative_expected_tokens(alpha, gamma) == pytest.approx(direct, rel=1e-12)


def test_speedup_formula() -> None:
    assert speculative_speedup(0.9, 10, 0.0) == pytest.approx(6.862, abs=5e-4)
    assert speculative_speedup(0.8, 5, 0.05) == pytest.approx(3.6893 / 1.25, rel=1e-3)
    with pytest.raises(ValueError, match="acceptance"):
        speculative_expected_tokens(1.5, 3)


def latency_speedups(plain: PerfModel, spec: PerfModel, batches: list[int]) -> list[float]:
    plain_points = throughput_sweep(plain, 1000, 1000, batches)
    spec_points = throughput_sweep(spec, 1000, 1000, batches)
    return [
        p.time_per_output_token_s / s.time_per_output_token_s
        for p, s in zip(plain_points, spec_points, strict=True)
    ]


def test_gains_at_small_batch_shrink_and_turn_into_a_slowdown() -> None:
    plain, spec = model(), model(DRAFT)
    batches = [1, 8, 32, 128, 512]
    speedups = latency_speedups(plain, spec, batches)
    assert speedups[0] > 2.0
    assert all(a > b for a, b in itertools.pairwise(speedups))
    assert speedups[-1] < 1.0


def test_batch_one_speedup_follows_leviathan_with_the_measured_draft_cost() -> None:
    """At batch 1 the target step barely grows with gamma + 1 tokens, so the speedup is
    (1 - a^(g+1)) / ((1 - a)(g c + 1)) with c = draft step / target step, within 5%."""
    plain, spec = model(), model(DRAFT)
    target_step = plain.iteration_time_s(0, 0, 1, 1500)
    assert spec.draft is not None
    c = spec.draft.time_s(0, 0, 1, 1500, 1) / target_step
    assert 0.01 < c < 0.1  # a 1B draft against a 70B target
    speedup = target_step / (spec.iteration_time_s(0, 0, 1, 1500) / spec.decode_tokens_per_step)
    assert speedup == pytest.approx(speculative_speedup(0.8, 4, c), rel=0.05)


def test_draft_model_adds_its_weights_and_kv() -> None:
    plain, spec = model(), model(DRAFT)
    draft_weights = 1.24e9 * 1  # fp8 body; tied 16-bit embedding makes it a bit more
    assert spec.weight_bytes_per_gpu - plain.weight_bytes_per_gpu > draft_weights
    draft_kv = 2 * 16 * 8 * 64 * 1
    assert spec.kv_bytes_per_token - plain.kv_bytes_per_token == draft_kv


def test_explicit_draft_cost_ratio_scales_the_plain_decode_step() -> None:
    c = 0.05
    spec = model({"method": "eagle", "draft_tokens": 3, "draft_cost_ratio": c})
    plain = model()
    draft_s = spec.breakdown(0, 0, 16, 16 * 1500).draft_s
    plain_step = plain.iteration_time_s(0, 0, 16, 16 * 1500) - plain.efficiency.overhead_s
    assert draft_s == pytest.approx(3 * c * plain_step, rel=1e-9)


def test_ngram_drafts_for_free_and_gains_about_the_expected_tokens_at_batch_one() -> None:
    plain = model()
    spec = model({"method": "ngram", "draft_tokens": 3, "acceptance_rate": 0.6})
    gain = plain.iteration_time_s(0, 0, 1, 1500) / (
        spec.iteration_time_s(0, 0, 1, 1500) / spec.decode_tokens_per_step
    )
    assert gain == pytest.approx(speculative_expected_tokens(0.6, 3), rel=0.03)


@pytest.mark.parametrize("method", ["eagle", "medusa"])
def test_draft_heads_cost_a_small_share_of_a_target_step(method: str) -> None:
    spec = model({"method": method, "draft_tokens": 4})
    assert spec.draft is not None
    c = spec.draft.weights_s / spec.target.weights_s
    assert 0.0 < c < 0.1
    assert spec.weight_bytes_per_gpu == model().weight_bytes_per_gpu


def test_zero_acceptance_emits_one_token_and_only_costs_more() -> None:
    spec = model({**DRAFT, "acceptance_rate": 0.0})
    plain = model()
    assert spec.decode_tokens_per_step == 1.0
    assert spec.iteration_time_s(0, 0, 4, 4000) > plain.iteration_time_s(0, 0, 4, 4000)
