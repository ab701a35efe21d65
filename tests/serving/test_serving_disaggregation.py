"""Prefill/decode disaggregation: separate pools, KV transfer, and its known trade-off."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import scenario

from infersim.errors import ConfigError
from infersim.scenario.load import load_scenario
from infersim.serving.simulate import simulate

LONG_PROMPTS = {"dist": "lognormal", "mean_tokens": 3000, "sigma": 0.8}
OUTPUTS = {"dist": "lognormal", "mean_tokens": 250, "sigma": 0.6}
DEPLOYMENT = {
    "model": "llama-3.1-70b",
    "tensor_parallel": 2,
    "replicas": 4,
    "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
}


def served(fleet: dict[str, object]):
    s = scenario(
        rate_per_s=6.0, prompt=LONG_PROMPTS, output=OUTPUTS, horizon_s=400,
        deployment=DEPLOYMENT, fleet=fleet,
    )  # fmt: skip
    return simulate(s).deployments[0]


def test_decode_pool_steadies_time_per_token_and_costs_first_token_time() -> None:
    mixed = served({})
    split = served({"disaggregated": True})
    assert split.completed == split.requests == mixed.requests
    assert split.output_tokens == pytest.approx(mixed.output_tokens)
    assert split.tpot_s.p99 < 0.7 * mixed.tpot_s.p99  # no prefill stalls in decode
    assert split.ttft_s.p50 > mixed.ttft_s.p50  # half the replicas prefill, plus the transfer
    assert split.gpu_hours_provisioned == pytest.approx(mixed.gpu_hours_provisioned, rel=0.05)


def test_kv_transfer_time_adds_to_latency() -> None:
    fast = served({"disaggregated": True, "kv_transfer_gb_per_s": 1000})
    slow = served({"disaggregated": True, "kv_transfer_gb_per_s": 0.5})
    assert slow.e2e_s.p50 > fast.e2e_s.p50 + 0.1


def test_an_undersized_prefill_pool_is_overloaded() -> None:
    result = served({"disaggregated": True, "prefill_replicas": 1})
    assert result.verdict is not None and result.verdict.startswith("overloaded: arrival rate")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("replicas: 1", "deployments.main.replicas: disaggregated serving needs at least 2"),
        ("replicas: 2\nfleet: {disaggregated: true, prefill_replicas: 2}", "must leave a decode"),
        (
            "replicas: 2\nfleet: {disaggregated: true, mode: autoscale, prefill_replicas: 1}",
            "mode 'autoscale' autoscales both pools",
        ),
    ],
)
def test_impossible_pools_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    body = (
        "name: d\ndeployments:\n  main:\n    model: llama-3.1-8b\n    gpu: h100-sxm\n"
        "fleet: {disaggregated: true}\n"
        "workload: {classes: {c: {arrival: {process: poisson, rate_per_s: 1},"
        " prompt_tokens: {dist: fixed, tokens: 10}, output_tokens: {dist: fixed, tokens: 5}}}}\n"
    )
    first, _, rest = text.partition("\n")
    body = body.replace("gpu: h100-sxm\n", f"gpu: h100-sxm\n    {first}\n")
    if rest:
        body = body.replace("fleet: {disaggregated: true}\n", rest + "\n")
    path = tmp_path / "s.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        load_scenario(path)
