"""Speculative decoding: Leviathan et al.'s formulas, and the model's known behaviour (large
gains at small batch that shrink and turn into a slowdown as decode becomes compute-bound)."""

from __future__ import annotations

import itertools

import pytest
from perf_fixtures import fixture_catalog

from infersim.perf import (
    PerfModel,
    break_even_batch,
    build_perf_model,
    expected_tokens_by_position,
    speculative_expected_tokens,
    speculative_speedup,
    speedup_at_batch,
    speedup_by_batch,
    steady_state_throughput,
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
    assert all(a > b for a, b in itertools.pairwise(speedups[:4]))
    assert speedups[-1] < 1.0  # past the break-even the draft's fixed cost amortizes a little


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
    """c is one draft step's time over one target step's, overhead included, at any batch."""
    c = 0.05
    spec = model({"method": "eagle", "draft_tokens": 3, "draft_cost_ratio": c})
    plain = model()
    for seqs in (1, 16, 256):
        draft_s = spec.breakdown(0, 0, seqs, seqs * 1500).draft_s
        plain_step = plain.iteration_time_s(0, 0, seqs, seqs * 1500)
        assert draft_s == pytest.approx(3 * c * plain_step, rel=1e-9)


def test_each_draft_model_step_pays_the_per_iteration_overhead() -> None:
    """A draft model's step is a forward pass of its own: launches, sampling, scheduling."""
    spec = model(DRAFT)
    assert spec.draft is not None
    assert spec.draft.overhead_s == spec.efficiency.overhead_s > 0
    eagle = model({"method": "eagle", "draft_tokens": 4})
    assert eagle.draft is not None and eagle.draft.overhead_s == eagle.efficiency.overhead_s
    for method in ("medusa", "ngram"):
        free = model({"method": method, "draft_tokens": 4})
        assert free.draft is not None and free.draft.overhead_s == 0.0


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


# ---------------------------------------------------------------------------------------------
# The fade: speedup against the running batch
# ---------------------------------------------------------------------------------------------

METHODS: list[dict[str, object]] = [
    DRAFT,
    {"method": "ngram", "draft_tokens": 4, "acceptance_rate": 0.7},
    {"method": "eagle", "draft_tokens": 5, "acceptance_rate": 0.8},
    {"method": "medusa", "draft_tokens": 3, "acceptance_rate": 0.6},
    {**DRAFT, "acceptance_rate": 0.0},
]
DEPLOYMENTS: list[dict[str, object]] = [
    {},
    {"model": "llama-3.1-70b", "gpu": "h100-sxm", "tensor_parallel": 4, "precision": {}},
    {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
    {"model": "qwen3-30b-a3b", "gpu": "h100-sxm", "precision": {}},
]
BATCHES = [*range(1, 65), *range(72, 513, 8), 768, 1024]


DENSE = DEPLOYMENTS[:3]
MOE = DEPLOYMENTS[3]


def speedups(plain: PerfModel, spec: PerfModel, context: float) -> list[float]:
    return [p.speedup for p in speedup_by_batch(plain, spec, BATCHES, context)]


@pytest.mark.parametrize("deployment", DENSE)
@pytest.mark.parametrize("method", ["ngram", "medusa"])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 0.9])
def test_speedup_is_non_increasing_in_the_batch(
    deployment: dict[str, object], method: str, alpha: float
) -> None:
    """A draft without per-step cost of its own (n-gram, Medusa heads) on a dense model: the
    target's verify step costs more, relative to a plain step, the larger the batch."""
    plain = model(**deployment)
    spec = model({"method": method, "draft_tokens": 4, "acceptance_rate": alpha}, **deployment)
    for context in (200, 2000):
        values = speedups(plain, spec, context)
        for batch, (a, b) in zip(BATCHES[1:], itertools.pairwise(values), strict=True):
            assert b <= a * (1 + 1e-12), f"speedup rises at batch {batch}: {a} -> {b}"


@pytest.mark.parametrize("deployment", DENSE)
@pytest.mark.parametrize("method", ["draft_model", "eagle"])
def test_a_costed_draft_stays_under_the_free_drafts_fade(
    deployment: dict[str, object], method: str
) -> None:
    """A draft that costs GPU time has a fixed part per step (its weights, its launch), which
    a larger batch amortizes: its speedup may rise slightly (up to ~7% for a 1B draft on an 8B
    target with long contexts) while the verify step is still memory-bound. It never
    exceeds the free draft's speedup at the same batch, and it ends below 1."""
    draft: dict[str, object] = {**DRAFT} if method == "draft_model" else {"method": method}
    draft |= {"draft_tokens": 4, "acceptance_rate": 0.8}
    free = {"method": "ngram", "draft_tokens": 4, "acceptance_rate": 0.8}
    plain, spec, bound = model(**deployment), model(draft, **deployment), model(free, **deployment)
    for context in (200, 2000):
        values, ceiling = speedups(plain, spec, context), speedups(plain, bound, context)
        assert all(v < c for v, c in zip(values, ceiling, strict=True))
        assert values[0] > 1.0
        assert values[-1] < values[0]
        assert max(values) <= 1.15 * values[0]


@pytest.mark.parametrize("method", ["ngram", "eagle", "medusa"])
def test_on_an_moe_the_speedup_first_rises_with_the_batch(method: str) -> None:
    """Verifying gamma + 1 tokens per sequence touches more experts than decoding one: at
    batch 1 most of the gain is lost to expert reads; as the batch grows the plain step
    reads most experts too and the gain comes back, before compute ends it (MoESD, Huang
    et al. 2025, arXiv:2505.19645: on MoE, speculation pays best at medium batch sizes)."""
    plain = model(**MOE)
    spec = model({"method": method, "draft_tokens": 4, "acceptance_rate": 0.8}, **MOE)
    values = speedups(plain, spec, 1000)
    peak = max(values)
    assert values[0] < 0.7 * peak
    assert BATCHES[values.index(peak)] > 16
    assert values[-1] < peak


@pytest.mark.parametrize("alpha", [0.3, 0.7, 0.9])
@pytest.mark.parametrize("gamma", [1, 4, 8])
def test_free_draft_at_batch_one_is_leviathan_over_the_verify_step_cost(
    alpha: float, gamma: int
) -> None:
    """With a free draft (n-gram), the speedup at batch 1 is exactly the expected tokens over
    the relative cost of the target step verifying gamma + 1 tokens instead of 1."""
    plain = model()
    spec = model({"method": "ngram", "draft_tokens": gamma, "acceptance_rate": alpha})
    point = speedup_at_batch(plain, spec, 1, 1500)
    relative_step = spec.target.time_s(0, 0, 1, 1500, gamma + 1) / plain.target.time_s(
        0, 0, 1, 1500, 1
    )
    assert 1.0 <= relative_step < 1.02  # memory-bound: verifying more tokens is nearly free
    expected = speculative_expected_tokens(alpha, gamma) / relative_step
    assert point.speedup == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("method", ["ngram", "eagle", "medusa", "draft_model"])
def test_zero_acceptance_is_never_faster(deployment: dict[str, object], method: str) -> None:
    if deployment is MOE and method == "draft_model":
        return  # llama-3.2-1b does not share Qwen's tokenizer
    plain = model(**deployment)
    spec_fields: dict[str, object] = {"method": method, "draft_tokens": 4, "acceptance_rate": 0.0}
    if method == "draft_model":
        spec_fields["draft_model"] = "llama-3.2-1b"
    spec = model(spec_fields, **deployment)
    assert spec.decode_tokens_per_step == 1.0
    for point in speedup_by_batch(plain, spec, BATCHES, 1000):
        assert point.speedup <= 1.0


@pytest.mark.parametrize("method", METHODS[:4])
def test_cost_per_token_at_high_batch_is_higher_with_speculation(
    method: dict[str, object],
) -> None:
    """At full load (each replica at its largest steady batch) speculation spends compute on
    rejected drafts and on the draft: more dollars per output token than plain decoding."""
    plain, spec = model(), model(method)
    a = steady_state_throughput(plain, 1000, 1000)
    b = steady_state_throughput(spec, 1000, 1000)
    assert b.usd_per_mtok(4.0) > a.usd_per_mtok(4.0)
    assert speedup_at_batch(plain, spec, 512, 2000).speedup < 1.0


@pytest.mark.parametrize("method", METHODS[:4])
def test_speedup_crosses_one_where_the_verify_step_is_compute_bound(
    method: dict[str, object],
) -> None:
    """Below the break-even batch the target's linear layers are bound by reading the
    weights (verifying gamma + 1 tokens is nearly free); at it, by compute."""
    plain, spec = model(), model(method)
    batch = break_even_batch(plain, spec, 1500, 1024)
    assert batch is not None and batch > 1
    assert speedup_at_batch(plain, spec, batch, 1500).speedup <= 1.0
    assert speedup_at_batch(plain, spec, batch - 1, 1500).speedup > 1.0
    verify = spec.verify_tokens
    at = spec.target.parts(0, 0, batch, batch * 1500, verify)
    assert at.linear_compute_s > at.linear_memory_s
    small = spec.target.parts(0, 0, 1, 1500, verify)
    assert small.linear_compute_s < small.linear_memory_s


def test_no_break_even_when_speculation_pays_at_every_batch_checked() -> None:
    plain, spec = model(), model({"method": "ngram", "draft_tokens": 4, "acceptance_rate": 0.9})
    assert break_even_batch(plain, spec, 1500, 8) is None


def test_acceptance_by_position_gives_the_product_sums() -> None:
    assert expected_tokens_by_position([0.8, 0.5, 0.25]) == pytest.approx(
        1 + 0.8 + 0.4 + 0.1, rel=1e-12
    )
    assert expected_tokens_by_position([]) == 1.0
    for alpha, gamma in ((0.7, 4), (0.3, 1), (0.95, 8)):
        assert expected_tokens_by_position([alpha] * gamma) == pytest.approx(
            speculative_expected_tokens(alpha, gamma), rel=1e-12
        )
    with pytest.raises(ValueError, match="acceptance"):
        expected_tokens_by_position([0.5, 1.5])


def test_a_deployment_takes_acceptance_by_position() -> None:
    """Acceptance that falls along the draft (as vLLM's per-position metrics show) yields
    fewer tokens than the same first-position rate held constant."""
    by_position = {k: v for k, v in DRAFT.items() if k != "acceptance_rate"}
    spec = model({**by_position, "acceptance_by_position": [0.8, 0.6, 0.4, 0.2]})
    assert spec.decode_tokens_per_step == pytest.approx(1 + 0.8 + 0.48 + 0.192 + 0.0384)
    assert spec.decode_tokens_per_step < model(DRAFT).decode_tokens_per_step
