"""Claim S7: Qwen3.5-397B-A17B (MoE, 17B active) is "60% cheaper to operate". Against a
dense model of similar size (Llama-3.1-405B), same GPUs and traffic: by load through the
pipeline, and by batch size from the performance model (configs/levers/s7-moe-vs-dense.yaml).
"60% cheaper" is a cost ratio MoE / dense <= 0.4."""

from __future__ import annotations

import pytest
from lever_fixtures import gpus, loaded, run, served

from infersim.levers import batches_where, cost_by_batch, full_load_ratio
from infersim.perf import PerfModel, build_perf_model
from infersim.pipeline.run import RunResult
from infersim.scenario.deployment import SelfHosted

NAME = "s7-moe-vs-dense"
USD_PER_GPU_HOUR = 4.54  # the H200 catalog's on-demand quote
BATCHES = [1, 2, 4, 8, 16, 32, 48, 64, 128, 256, 512]


def cost_ratio(result: RunResult) -> float:
    """MoE over dense, all-in USD per million tokens of each class."""
    rows = {row.segment: row for row in result.first_month.table.rows}
    moe, dense = rows["on-moe"].cost_usd_per_mtok, rows["on-dense"].cost_usd_per_mtok
    assert moe is not None and dense is not None
    return moe / dense


def perf(name: str) -> PerfModel:
    dep = loaded(NAME).scenario.deployments[name]
    assert isinstance(dep, SelfHosted)
    return build_perf_model(dep, loaded(NAME).catalog)


@pytest.mark.parametrize("variant", [None, "mid-load", "high-load"])
def test_both_fleets_meet_the_same_slo(variant: str | None) -> None:
    """Sized to p99 TTFT 3 s and p99 TPOT 100 ms. The engine sizes a fleet on one sample of
    the traffic and reports another: the reported p99 may overshoot (up to ~15% over
    seeds), so 20% is allowed."""
    for name in ("moe", "dense"):
        d = served(run(NAME, variant), name)
        assert d.verdict is None
        assert d.ttft_s.p99 is not None and d.ttft_s.p99 <= 3.0 * 1.2
        assert d.tpot_s.p99 is not None and d.tpot_s.p99 <= 0.1 * 1.2


def test_at_low_load_the_moe_is_faster_but_not_cheaper() -> None:
    """One replica each (8 x H200, the smallest that holds ~400 GB of FP8 weights): the
    same GPU bill for the same tokens. The MoE's 17B active parameters buy latency (~2.5 vs
    ~17 ms per token), not cost."""
    result = run(NAME)
    assert gpus(result, "moe") == gpus(result, "dense") == 8
    moe_bill, dense_bill = (fleet.usd_per_month for fleet in result.ledger.fleets)
    assert moe_bill == pytest.approx(dense_bill, rel=0.02)
    # per token, only the tokens each class happened to draw differ (0.96-1.16 over seeds)
    assert 0.85 <= cost_ratio(result) <= 1.2
    moe, dense = served(result, "moe").tpot_s.p50, served(result, "dense").tpot_s.p50
    assert moe is not None and dense is not None and moe < 0.2 * dense


def test_at_mid_load_the_moe_is_half_the_cost() -> None:
    result = run(NAME, "mid-load")
    assert gpus(result, "moe") == 8 and gpus(result, "dense") == 16
    assert cost_ratio(result) == pytest.approx(0.5, abs=0.05)
    assert cost_ratio(result) > 0.4  # not yet "60% cheaper"


def test_at_high_load_the_moe_is_over_60_percent_cheaper() -> None:
    """20 requests/s on each: one MoE replica against five or six dense ones (the SLO search
    lands on either over seeds), ratio 0.15-0.18."""
    result = run(NAME, "high-load")
    assert gpus(result, "moe") == 8 and gpus(result, "dense") in (40, 48)
    assert cost_ratio(result) <= 0.4
    assert cost_ratio(result) == pytest.approx(0.165, abs=0.05)


def test_by_batch_size_the_claim_holds_at_small_and_large_batches_only() -> None:
    """Same GPUs and batch: <= 0.4 at 1-4 sequences (the MoE reads 17B active weights, the
    dense model 405B) and from 64 on (the dense model is compute-bound on 405B parameters a
    token); above 0.4 from 8 to 48 sequences, where the MoE reads most of its 512 experts
    each step while the dense model is still bandwidth-bound."""
    points = cost_by_batch(
        perf("moe"), perf("dense"), USD_PER_GPU_HOUR, USD_PER_GPU_HOUR, 1000, 300, BATCHES
    )
    holds = batches_where(points, 0.4)
    assert holds == (1, 2, 4, 64, 128, 256, 512)
    ratios = {p.batch_sequences: p.ratio for p in points}
    assert ratios[1] == pytest.approx(0.2, abs=0.05)
    assert all(0.4 < ratios[b] < 0.65 for b in (8, 16, 32, 48))
    assert ratios[256] == pytest.approx(0.135, abs=0.03)
    assert all(p.fits for p in points)  # 512 sequences of 1,300 tokens fit both KV caches
    # with the MoE, each step takes far less time at every batch
    assert all(p.time_per_output_token_a_s < p.time_per_output_token_b_s for p in points)


def test_at_full_throughput_the_moe_costs_a_tenth() -> None:
    """Each at the largest batch it holds: ~0.08 (92% cheaper), far beyond the claim."""
    ratio = full_load_ratio(
        perf("moe"), perf("dense"), USD_PER_GPU_HOUR, USD_PER_GPU_HOUR, 1000, 300
    )
    assert ratio == pytest.approx(0.09, abs=0.03)
