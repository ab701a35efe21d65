"""Claim S8, the levers: routing 90/10 (-86% cost), quantization (-60 to -70% cost) and
speculative decoding (latency divided by 2-3), run through the whole pipeline
(configs/levers/s8-*.yaml). Where infersim's physics disagrees, the tests assert the
conditions under which the claim holds, as the scenario files document them."""

from __future__ import annotations

import pytest
from lever_fixtures import gpus, loaded, run, served, total, total_cost_usd, usd_per_mtok

from infersim.economics import api_token_cost
from infersim.perf import (
    break_even_batch,
    build_perf_model,
    prompt_prefill,
    speedup_by_batch,
    steady_state_throughput,
    throughput_sweep,
)
from infersim.routing import plan_routes
from infersim.scenario.deployment import ActivationDtype, ApiModel, SelfHosted

ROUTING = "s8-routing"
QUANT = "s8-quantization"
SPEC = "s8-speculative"


def saving(name: str, variant: str, baseline: str | None = None) -> float:
    """1 - cost(variant) / cost(baseline), both runs serving the same traffic."""
    return 1.0 - total_cost_usd(run(name, variant)) / total_cost_usd(run(name, baseline))


# ---------------------------------------------------------------------------------------------
# Routing: 90% to a small model, 10% to the frontier
# ---------------------------------------------------------------------------------------------


def test_all_frontier_baseline_pays_gpt4o_list_price_for_every_token() -> None:
    result = run(ROUTING)
    row = total(result)
    assert row.api_cost_usd == pytest.approx(row.cost_usd)
    frontier = loaded(ROUTING).scenario.deployments["frontier"]
    assert isinstance(frontier, ApiModel)
    price = api_token_cost(frontier, "frontier", loaded(ROUTING).catalog)
    expected = price.usd(row.input_tokens, row.cached_input_tokens, row.output_tokens)
    assert row.cost_usd == pytest.approx(expected, rel=1e-9)


def test_split_90_10_saves_86_percent_when_the_small_model_costs_a_sixteenth() -> None:
    """GPT-4o mini costs 0.06 of GPT-4o on every token kind, so the saving is exactly
    1 - (0.9 x 0.06 + 0.1) = 84.6%: within the article's -86% +- 5 points."""
    catalog = loaded(ROUTING).catalog
    deployments = loaded(ROUTING).scenario.deployments
    small, frontier = deployments["small"], deployments["frontier"]
    assert isinstance(small, ApiModel) and isinstance(frontier, ApiModel)
    s, f = api_token_cost(small, "small", catalog), api_token_cost(frontier, "frontier", catalog)
    ratios = [
        s.usd_per_mtok_input / f.usd_per_mtok_input,
        s.usd_per_mtok_cached_input / f.usd_per_mtok_cached_input,
        s.usd_per_mtok_output / f.usd_per_mtok_output,
    ]
    assert ratios == pytest.approx([0.06] * 3)
    measured = saving(ROUTING, "split-90-10")
    assert measured == pytest.approx(1 - (0.9 * 0.06 + 0.1), abs=1e-6)
    assert measured == pytest.approx(0.86, abs=0.05)


def test_split_90_10_with_a_self_hosted_small_model_saves_86_percent() -> None:
    """Llama-3.1-8B on one H100 near full load costs 1/200-1/100 of GPT-4o per token: -89 to -90%,
    still within -86% +- 5 points (any r <= 0.1 is)."""
    result = run(ROUTING, "self-hosted-small")
    rows = {row.segment: row for row in result.first_month.table.rows}
    small, frontier = rows["chat@small"], rows["chat@frontier"]
    assert small.cost_usd_per_mtok is not None and frontier.cost_usd_per_mtok is not None
    r = small.cost_usd_per_mtok / frontier.cost_usd_per_mtok
    assert 0.002 < r < 0.02  # one or two replicas, depending on the SLO search
    assert served(result, "small").verdict is None  # the fleet keeps up
    measured = saving(ROUTING, "self-hosted-small")
    assert measured == pytest.approx(0.86, abs=0.05)
    # the saving is the split's arithmetic on the measured cost ratio (token counts of the
    # engine's sample and of the API's expected volume agree within a percent)
    assert measured == pytest.approx(1 - (0.9 * r + 0.1), abs=0.01)


def test_difficulty_router_at_a_quality_floor_sends_less_than_90_percent() -> None:
    """Keeping a request on GPT-4o mini only where it succeeds with probability >= 0.8 sends
    82% of them there: -77% cost, at 98% of the all-frontier quality (RouteLLM: -85% at
    95%). The claim's 90/10 needs a looser floor (~0.6 here)."""
    scenario = loaded(ROUTING, "difficulty").scenario
    plan = plan_routes(scenario)
    assert plan.served_per_request["small"] == pytest.approx(0.82, abs=0.01)
    assert plan.quality / plan.frontier_quality == pytest.approx(0.98, abs=0.01)
    assert saving(ROUTING, "difficulty") == pytest.approx(0.77, abs=0.02)
    looser = plan_routes(scenario, quality_target=0.6)
    assert looser.served_per_request["small"] >= 0.9
    assert looser.quality / looser.frontier_quality >= 0.95


# ---------------------------------------------------------------------------------------------
# Quantization: BF16 (4 x H100) -> FP8 (2 x H100) -> 4-bit weights (1 x H100)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        None,
        "fp8",
        "int4-w4a8",
        *(f"high-load-{p}" for p in ("bf16", "fp8", "int4-w4a8")),
    ],
)
def test_quantized_fleets_meet_the_same_slo_on_the_same_traffic(variant: str | None) -> None:
    """Each fleet is sized to the SLO (p99 TTFT 3 s, p99 TPOT 80 ms). The engine sizes it on
    one sample of the traffic and reports another, so the reported p99 may overshoot a
    little (up to ~5% over seeds): 10% is allowed."""
    result = run(QUANT, variant)
    main = served(result, "main")
    assert main.verdict is None
    assert main.ttft_s.p99 is not None and main.ttft_s.p99 <= 3.0 * 1.1
    assert main.tpot_s.p99 is not None and main.tpot_s.p99 <= 0.08 * 1.1
    high = variant is not None and variant.startswith("high-load")
    baseline = total(run(QUANT, "high-load-bf16" if high else None))
    assert total(result).output_tokens == pytest.approx(baseline.output_tokens, rel=1e-9)


def test_fp8_halves_the_cost_at_any_load() -> None:
    """FP8 fits on 2 GPUs instead of 4 and needs as many replicas: -50%, not -60-70%. At
    high load both fleets are ~6 replicas; the SLO search can land one replica apart (over
    seeds: -50% to -57%), hence the wider band there."""
    assert gpus(run(QUANT, "fp8"), "main") * 2 == gpus(run(QUANT), "main")
    assert saving(QUANT, "fp8") == pytest.approx(0.50, abs=0.02)
    assert saving(QUANT, "high-load-fp8", "high-load-bf16") == pytest.approx(0.50, abs=0.08)


def test_four_bit_reaches_60_to_70_percent_only_when_memory_sizes_the_fleet() -> None:
    """W4A8 on one GPU: -75% at low load (one replica of 1 GPU against 4), -50% at high
    load, as FP8 (compute sizes the fleet: 12 one-GPU replicas against 6 of 4 GPUs). The
    article's -60-70% lies between: it needs the model on a quarter of the GPUs and a load
    that the smallest fleet serves."""
    low = saving(QUANT, "int4-w4a8")
    high = saving(QUANT, "high-load-int4-w4a8", "high-load-bf16")
    assert gpus(run(QUANT, "int4-w4a8"), "main") == 1
    assert low == pytest.approx(0.75, abs=0.02)
    assert high == pytest.approx(0.50, abs=0.08)  # +-1 replica, as for FP8
    assert high < 0.60 < 0.70 < low
    # cost per token follows the fleet: same tokens, so the same ratio
    per_token = 1 - usd_per_mtok(run(QUANT, "int4-w4a8")) / usd_per_mtok(run(QUANT))
    assert per_token == pytest.approx(low, abs=1e-9)


def quant_deployment(variant: str | None) -> SelfHosted:
    dep = loaded(QUANT, variant).scenario.deployments["main"]
    assert isinstance(dep, SelfHosted)
    return dep


def w4a16_deployment() -> SelfHosted:
    """The W4A8 deployment with its matmuls in BF16: 4-bit weight-only (AWQ/GPTQ)."""
    w4a8 = quant_deployment("int4-w4a8")
    precision = w4a8.precision.model_copy(update={"activations": ActivationDtype.BF16})
    return w4a8.model_copy(update={"precision": precision})


def test_weight_only_int4_on_one_gpu_spends_the_ttft_budget_on_prefill() -> None:
    """W4A16 computes in BF16 (plus dequantization) on one GPU: a p99 prompt of 8,000 tokens
    alone takes ~2.7 s to prefill, 90% of the 3 s SLO (W4A8: ~1.4 s; BF16 on 4 GPUs and
    FP8 on 2: ~0.74 s), which is why the scenario leaves it out of the SLO-sized fleets."""
    catalog = loaded(QUANT).catalog

    def prefill_s(dep: SelfHosted) -> float:
        return prompt_prefill(build_perf_model(dep, catalog), 8000).total_s

    assert prefill_s(w4a16_deployment()) == pytest.approx(2.7, abs=0.1)
    assert prefill_s(quant_deployment("int4-w4a8")) == pytest.approx(1.44, abs=0.1)
    assert prefill_s(quant_deployment(None)) == pytest.approx(0.74, abs=0.05)
    assert prefill_s(quant_deployment("fp8")) == pytest.approx(0.74, abs=0.05)


def test_at_full_throughput_quantization_saves_about_half() -> None:
    """The performance model at each precision's largest batch (1,000 in / 300 out): FP8 on
    2 GPUs ~-53%, W4A8 on 1 GPU ~-54%, W4A16 on 1 GPU ~-13% against BF16 on 4 GPUs."""
    catalog = loaded(QUANT).catalog

    def usd_per_mtok_at_full_load(dep: SelfHosted) -> float:
        point = steady_state_throughput(build_perf_model(dep, catalog), 1000, 300)
        return point.usd_per_mtok(2.99)

    bf16 = usd_per_mtok_at_full_load(quant_deployment(None))
    savings = {
        name: 1 - usd_per_mtok_at_full_load(dep) / bf16
        for name, dep in (
            ("fp8", quant_deployment("fp8")),
            ("w4a8", quant_deployment("int4-w4a8")),
            ("w4a16", w4a16_deployment()),
        )
    }
    assert savings["fp8"] == pytest.approx(0.53, abs=0.03)
    assert savings["w4a8"] == pytest.approx(0.54, abs=0.03)
    assert savings["w4a16"] == pytest.approx(0.13, abs=0.03)


# ---------------------------------------------------------------------------------------------
# Speculative decoding: latency / 2-3 at low load, and at high load
# ---------------------------------------------------------------------------------------------


def tpot_ratio(plain: str, speculative: str | None) -> float:
    """Median time per output token without speculation over with it (> 1: faster)."""
    a, b = (
        served(run(SPEC, plain), "main").tpot_s.p50,
        served(run(SPEC, speculative), "main").tpot_s.p50,
    )
    assert a is not None and b is not None
    return a / b


def test_speculation_divides_latency_by_2_to_3_at_low_load() -> None:
    """g = 4, a = 0.7: 2.77 tokens per target step; each step of the 1B draft costs ~7% of a
    70B step (its weights and KV, and the engine's per-iteration overhead, its own forward
    pass), so the speedup is ~2.77 / (1 + 4 x 0.072) ~ 2.15, the performance model's batch-1
    ratio, and the engine's."""
    ratio = tpot_ratio("low-load-plain", None)
    assert 2.0 <= ratio <= 3.0
    catalog = loaded(SPEC).catalog
    with_draft, plain = (
        loaded(SPEC, v).scenario.deployments["main"] for v in (None, "low-load-plain")
    )
    assert isinstance(with_draft, SelfHosted) and isinstance(plain, SelfHosted)
    a = throughput_sweep(build_perf_model(plain, catalog), 800, 300, [1])[0]
    b = throughput_sweep(build_perf_model(with_draft, catalog), 800, 300, [1])[0]
    assert ratio == pytest.approx(a.time_per_output_token_s / b.time_per_output_token_s, rel=0.05)


def test_speculation_still_pays_at_mid_load() -> None:
    """At 2.5 requests/s (54% of the plain GPU's capacity) sequences finishing sooner leave
    a smaller batch in flight (~16 against ~31 sequences), still in the memory-bound range
    where the verify step costs little more than a plain one: ~2.15x (2.13-2.19 over seeds
    1-5), the batch-1 gain."""
    assert tpot_ratio("mid-load-plain", "mid-load") == pytest.approx(2.15, abs=0.15)
    spec, plain = served(run(SPEC, "mid-load"), "main"), served(run(SPEC, "mid-load-plain"), "main")
    assert spec.verdict is None and plain.verdict is None
    assert (
        spec.decode_batch_sequences.mean is not None
        and plain.decode_batch_sequences.mean is not None
    )
    assert spec.decode_batch_sequences.mean < 0.7 * plain.decode_batch_sequences.mean


def test_speculation_is_a_slowdown_at_high_load() -> None:
    """Verifying 5 tokens per sequence per step costs compute: the GPU's capacity drops by
    ~16% (4.62 -> 3.89 requests/s), and at 4.2 requests/s speculation overloads it while
    plain decoding keeps up (time per output token 0.37-0.43x over seeds 1-5)."""
    spec, plain = (
        served(run(SPEC, "high-load"), "main"),
        served(run(SPEC, "high-load-plain"), "main"),
    )
    assert spec.capacity_requests_per_s < 0.9 * plain.capacity_requests_per_s
    assert spec.verdict is not None and spec.verdict.startswith("overloaded")
    assert plain.verdict is None
    assert tpot_ratio("high-load-plain", "high-load") < 1.2
    assert tpot_ratio("high-load-plain", "high-load") < 0.6  # a slowdown, ~2.3x


def test_at_a_fixed_batch_the_speedup_fades_into_a_slowdown() -> None:
    catalog = loaded(SPEC).catalog
    with_draft, plain = (
        loaded(SPEC, v).scenario.deployments["main"] for v in (None, "low-load-plain")
    )
    assert isinstance(with_draft, SelfHosted) and isinstance(plain, SelfHosted)
    batches = [1, 8, 32, 64, 128]
    a = throughput_sweep(build_perf_model(plain, catalog), 800, 300, batches)
    b = throughput_sweep(build_perf_model(with_draft, catalog), 800, 300, batches)
    ratios = {
        p.batch_sequences: p.time_per_output_token_s / q.time_per_output_token_s
        for p, q in zip(a, b, strict=True)
    }
    assert ratios[1] > 2.0 and ratios[8] > 2.0
    assert ratios[32] < 1.2
    assert ratios[64] < 1.0 and ratios[128] < 1.0
    # decode alone (no prefill mixed in), contexts of 1,100 tokens: 2.15x up to 24
    # sequences, break-even at 73, 0.66x from 128 on
    plain_perf, spec_perf = build_perf_model(plain, catalog), build_perf_model(with_draft, catalog)
    assert break_even_batch(plain_perf, spec_perf, 1100, 512) == 73
    fade = speedup_by_batch(plain_perf, spec_perf, [1, 24, 48, 128, 512], 1100)
    assert [round(p.speedup, 2) for p in fade] == [2.15, 2.14, 1.36, 0.66, 0.66]
