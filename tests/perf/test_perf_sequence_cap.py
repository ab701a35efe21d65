"""The cap on sequences running at once on a replica: the scenario's value when given, else
derived from the replica: the smaller of its KV-cache blocks (every running sequence holds
one at least) and the per-iteration token budget over the tokens each decode sequence
computes. The logits reserve grows with the cap and takes KV memory, so the derived cap is
the largest count the KV cache holds once that reserve is set aside."""

from __future__ import annotations

import json
from typing import Any

import pytest
from perf_fixtures import fixture_catalog
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.perf import build_perf_model
from infersim.perf.build import _gpu, _model
from infersim.perf.memory import Placement, plan_memory
from infersim.perf.shape import model_shape
from infersim.scenario.deployment import SelfHosted

CATALOG = fixture_catalog()
FP8 = {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"}
DEEPSEEK_EP32 = {
    "model": "deepseek-v3",
    "gpu": "h800-sxm",
    "expert_parallel": 32,
    "precision": FP8,
}


def deploy(**fields: Any) -> SelfHosted:
    return SelfHosted.model_validate(fields)


def placement(d: SelfHosted, cap: int | None) -> Placement:
    return Placement(
        shape=model_shape(_model(d.model, CATALOG)),
        draft=None,
        gpu=_gpu(d.gpu, CATALOG),
        precision=d.precision,
        tensor_parallel=d.tensor_parallel,
        expert_parallel=d.expert_parallel,
        gpu_memory_utilization=d.gpu_memory_utilization,
        max_batch_tokens=d.max_batch_tokens,
        max_batch_sequences=cap,
        kv_block_tokens=d.kv_block_tokens,
        verify_tokens=1,
    )


def test_a_large_moe_replica_is_not_capped_at_256() -> None:
    """DeepSeek-V3 on 32 H800s (EP32) holds ~29M tokens of KV cache: its cap is the token
    budget (8,192 decode sequences), not a constant."""
    perf = build_perf_model(deploy(**DEEPSEEK_EP32), CATALOG)
    assert perf.max_batch_sequences == 8192 > 256
    assert perf.max_batch_sequences_source == "token_budget"
    assert perf.kv_capacity_tokens // perf.kv_block_tokens > perf.max_batch_sequences


def test_a_larger_token_budget_raises_the_cap() -> None:
    perf = build_perf_model(deploy(**DEEPSEEK_EP32, max_batch_tokens=32_768), CATALOG)
    assert perf.max_batch_sequences == 32_768
    assert perf.max_batch_sequences_source == "token_budget"


def test_speculative_decoding_divides_the_token_budget() -> None:
    spec = {"method": "eagle", "draft_tokens": 3, "acceptance_rate": 0.7}
    perf = build_perf_model(deploy(**DEEPSEEK_EP32, speculative=spec), CATALOG)
    assert perf.verify_tokens == 4
    assert perf.max_batch_sequences == 8192 // 4


def test_a_small_kv_cache_caps_at_its_blocks() -> None:
    """Llama-3.1-8B on an H100 with a quarter of its memory: ~13k tokens, fewer blocks than
    the token budget's 8,192 sequences; the cap is the largest count the KV cache holds
    with its own logits reserve set aside, and one more would not fit."""
    d = deploy(model="llama-3.1-8b", gpu="h100-sxm", gpu_memory_utilization=0.25)
    perf = build_perf_model(d, CATALOG)
    assert perf.max_batch_sequences_source == "kv_blocks"
    cap = perf.max_batch_sequences
    assert cap == perf.kv_capacity_tokens // perf.kv_block_tokens < 8192
    more = plan_memory(placement(d, cap + 1))
    assert more.kv_capacity_tokens // more.kv_block_tokens < cap + 1


def test_an_explicit_cap_is_kept() -> None:
    for cap in (1, 256, 65_536):
        perf = build_perf_model(deploy(**DEEPSEEK_EP32, max_batch_sequences=cap), CATALOG)
        assert perf.max_batch_sequences == cap
        assert perf.max_batch_sequences_source == "scenario"
    with pytest.raises(ValueError, match="max_batch_sequences"):
        deploy(**DEEPSEEK_EP32, max_batch_sequences=0)
    with pytest.raises(ValueError, match="max_batch_sequences"):
        deploy(**DEEPSEEK_EP32, max_batch_sequences=65_537)


def test_the_logits_reserve_follows_the_cap_within_the_token_budget() -> None:
    """fp32 logits for every running sequence, never more rows than max_batch_tokens: the
    derived cap reserves as much as an explicit cap at the token budget, and a cap past the
    budget no more."""
    d = deploy(model="llama-3.1-8b", gpu="h100-sxm")
    derived = plan_memory(placement(d, None))
    at_budget = plan_memory(placement(d, 8192))
    past = plan_memory(placement(d, 65_536))
    small = plan_memory(placement(d, 256))
    assert derived.reserve_bytes_per_gpu == at_budget.reserve_bytes_per_gpu
    assert past.reserve_bytes_per_gpu == at_budget.reserve_bytes_per_gpu
    assert small.reserve_bytes_per_gpu < derived.reserve_bytes_per_gpu
    vocab_rows = (8192 - 256) * 128_256 * 4
    assert derived.reserve_bytes_per_gpu - small.reserve_bytes_per_gpu == pytest.approx(vocab_rows)


def run_json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_perf_states_the_cap_and_its_source() -> None:
    data = run_json("perf", "--model", "deepseek-v3", "--gpu", "h800-sxm", "--ep", "32",
                    "--weights", "fp8", "--kv", "fp8")  # fmt: skip
    assert data["deployment"]["max_batch_sequences"] == 8192
    assert data["deployment"]["max_batch_sequences_source"] == "token_budget"
    out = CliRunner().invoke(app, ["perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm"])
    assert "running sequences cap" in out.stdout and "derived: token budget" in out.stdout


def test_perf_sweeps_the_cap() -> None:
    sweep = "max_batch_sequences=16,256,4096"
    data = run_json("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--prompt-tokens",
                    "100", "--output-tokens", "100", "--sweep", sweep)  # fmt: skip
    rows = data["sweep_max_batch_sequences"]
    assert [r["max_batch_sequences"] for r in rows] == [16, 256, 4096]
    assert rows[0]["batch_sequences"] == 16 and rows[0]["limited_by"] == "max_batch_sequences"
    assert rows[1]["batch_sequences"] == 256
    assert rows[2]["batch_sequences"] > 256 and rows[2]["limited_by"] != "max_batch_sequences"
    tokens = [r["output_tokens_per_s"] for r in rows]
    assert tokens == sorted(tokens)
    assert data["sweep"] == []


@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [
        ("max_batch_sequences=0", "must be >= 1"),
        ("max_batch_sequences=70000", "must be <= 65,536"),
        ("cap=1,2", "--sweep takes"),
    ],
)
def test_bad_cap_sweeps_fail_with_a_message(sweep: str, fragment: str) -> None:
    args = ["perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--sweep", sweep]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert fragment in result.stderr
