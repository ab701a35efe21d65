"""Disaggregated serving as deployed: each pool at its own parallelism (a prefill pool of
small replicas, a decode pool of wide ones), per-pool figures, and the KV caches moved."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from serving_helpers import scenario

from infersim.catalog.load import load_builtin
from infersim.perf import build_perf_model
from infersim.pipeline.demand import SECONDS_PER_MONTH
from infersim.pipeline.run import run_scenario
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import simulate

CATALOG = load_builtin()
FP8 = {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"}
DENSE: dict[str, Any] = {
    "model": "llama-3.1-70b",
    "tensor_parallel": 4,
    "replicas": 4,
    "precision": FP8,
    "prefill_pool": {"tensor_parallel": 2},
}
MOE: dict[str, Any] = {
    "model": "qwen3-30b-a3b",
    "expert_parallel": 6,
    "redundant_experts": 4,  # 128 routed experts do not divide 6 GPUs; 132 do
    "replicas": 3,
    "precision": FP8,
    "prefill_pool": {"expert_parallel": 2},
}
PROMPTS = {"dist": "lognormal", "mean_tokens": 2000, "sigma": 0.6}
OUTPUTS = {"dist": "lognormal", "mean_tokens": 300, "sigma": 0.6}


def served(
    deployment: dict[str, Any], fleet: dict[str, Any], rate: float = 4.0
) -> DeploymentServing:
    s = scenario(
        rate_per_s=rate, prompt=PROMPTS, output=OUTPUTS, horizon_s=300,
        deployment=deployment, fleet={"disaggregated": True, **fleet},
    )  # fmt: skip
    return simulate(s, catalog=CATALOG).deployments[0]


@pytest.mark.parametrize("deployment", [DENSE, MOE])
def test_each_pool_bills_its_own_gpus_and_the_pools_add_up(deployment: dict[str, Any]) -> None:
    d = served(deployment, {"prefill_replicas": 1})
    prefill, decode = d.pools
    assert prefill.role == "prefill" and decode.role == "decode"
    layout = SelfHosted.model_validate({"gpu": "h100-sxm", **deployment})
    assert prefill.gpus_per_replica == layout.prefill_layout().gpus_per_replica
    assert decode.gpus_per_replica == layout.gpus_per_replica != prefill.gpus_per_replica
    assert (prefill.replicas, decode.replicas) == (1, deployment["replicas"] - 1)
    hours = 300 / 3600
    for pool in d.pools:
        assert pool.gpu_hours_scheduled == pytest.approx(pool.gpus * hours, rel=1e-12)
        assert 0.0 < pool.gpu_hours_busy <= pool.gpu_hours_scheduled  # busy <= paid
    assert d.gpu_hours_scheduled == prefill.gpu_hours_scheduled + decode.gpu_hours_scheduled
    assert d.gpu_hours_busy == prefill.gpu_hours_busy + decode.gpu_hours_busy
    assert d.gpu_hours_busy <= d.gpu_hours_scheduled


def test_per_pool_throughput_and_kv_transfer() -> None:
    d = served(DENSE, {"prefill_replicas": 1})
    prefill, decode = d.pools
    assert d.verdict is None
    assert prefill.tokens_per_s == d.input_tokens_per_s
    assert decode.tokens_per_s == d.output_tokens_per_s
    assert prefill.tokens_per_s_per_gpu == pytest.approx(d.input_tokens_per_s / 2)
    assert decode.tokens_per_s_per_gpu == pytest.approx(d.output_tokens_per_s / 12)
    k = d.kv_transfer
    assert k is not None
    assert k.transfers == pytest.approx(d.completed, rel=0.02)  # every request moves once
    perf = build_perf_model(SelfHosted.model_validate({"gpu": "h100-sxm", **DENSE}), CATALOG)
    # each transfer moves the prompt and the first token of a request
    per_request = k.bytes / k.transfers / perf.kv_bytes_per_token
    assert per_request == pytest.approx(d.input_tokens / d.requests + 1, rel=0.05)
    assert 0 < k.seconds_per_transfer < d.ttft_s.p50  # part of the time to first token


def test_tokens_are_conserved_across_the_pools() -> None:
    """The prefill pool computes every prompt token (no cache here) and nothing else; the
    decode pool computes no prompt and emits every token after the first."""
    dep = SelfHosted.model_validate({"gpu": "h100-sxm", **DENSE})
    decode_perf = build_perf_model(dep, CATALOG)
    prefill_perf = build_perf_model(dep.prefill_layout(), CATALOG)
    rng = np.random.default_rng(3)
    n = 400
    arrival = np.sort(rng.uniform(0, 100, n))
    prompt = rng.integers(200, 3000, n)
    output = rng.integers(2, 400, n)
    run = run_cluster(
        decode_perf, arrival, prompt, output, np.zeros(n, dtype=np.int64),
        ReplicaSchedule([0.0], [4]), "least_outstanding", True, 100.0, 1, 1e-7, None,
        prefill_perf,
    )  # fmt: skip
    prefill = [r for r in run.replicas if r.role == "prefill"]
    decode = [r for r in run.replicas if r.role == "decode"]
    assert [r.perf for r in prefill] == [prefill_perf] and decode[0].perf is decode_perf
    assert math.fsum(r.stats.prefill_tokens for r in prefill) == prompt.sum()
    assert math.fsum(r.stats.prefill_tokens for r in decode) == 0
    assert math.fsum(r.stats.decode_tokens for r in decode) == (output - 1).sum()
    assert run.kv_transfers == n
    assert run.kv_transfer_tokens == (prompt + 1).sum()


def test_the_ledgers_gpu_line_is_the_pools_bill() -> None:
    document = {
        "name": "pools",
        "seed": 2,
        "deployments": {"main": {"gpu": "h100-sxm", **DENSE}},
        "fleet": {"disaggregated": True, "prefill_replicas": 1, "replications": 1},
        "workload": {
            "classes": {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": 3.0},
                    "prompt_tokens": PROMPTS,
                    "output_tokens": OUTPUTS,
                }
            }
        },
        "costs": {"gpu": {"kind": "rented", "usd_per_gpu_hour": 2.0}},
        "horizon": {"simulated_s": 300, "months": 1},
    }
    result = run_scenario(Scenario.model_validate(document), CATALOG)
    d = result.serving.deployment("main")
    pools_gpu_hours = math.fsum(p.gpu_hours_scheduled for p in d.pools)
    bill = pools_gpu_hours * SECONDS_PER_MONTH / 300 * 2.0
    assert result.first_month.pnl.gpu_cost_usd == pytest.approx(bill, abs=0.005)
    # 1 prefill replica of 2 GPUs and 3 decode replicas of 4, the whole month
    assert bill == pytest.approx((1 * 2 + 3 * 4) * SECONDS_PER_MONTH / 3600 * 2.0, rel=1e-12)


def test_a_prefill_pool_layout_needs_disaggregation_and_a_valid_split(tmp_path: Any) -> None:
    from infersim.errors import ConfigError
    from infersim.scenario.load import load_scenario

    body = (
        "name: d\ndeployments:\n  main:\n    model: qwen3-30b-a3b\n    gpu: h100-sxm\n"
        "    replicas: 2\n    prefill_pool: {expert_parallel: 3}\n{fleet}"
        "workload: {classes: {c: {arrival: {process: poisson, rate_per_s: 1},"
        " prompt_tokens: {dist: fixed, tokens: 10}, output_tokens: {dist: fixed, tokens: 5}}}}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(body.replace("{fleet}", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deployments\.main\.prefill_pool: a prefill pool"):
        load_scenario(path)
    path.write_text(body.replace("{fleet}", "fleet: {disaggregated: true}\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"prefill_pool\.expert_parallel: prefill pool: "):
        load_scenario(path)


SIZED_DEPLOYMENT: dict[str, Any] = {
    "model": "llama-3.1-8b",
    "tensor_parallel": 2,
    "precision": FP8,
    "prefill_pool": {"tensor_parallel": 1},
}
SLO = {"ttft_p99_s": 0.5, "tpot_p99_s": 0.005}


def sized_run(fleet: dict[str, Any], replicas: int = 1) -> DeploymentServing:
    s = scenario(
        rate_per_s=60.0, prompt=PROMPTS, output=OUTPUTS, horizon_s=60, seed=4,
        deployment={**SIZED_DEPLOYMENT, "replicas": replicas},
        fleet={"disaggregated": True, "slo": SLO, "replications": 2, **fleet},
    )  # fmt: skip
    return simulate(s, catalog=CATALOG).deployments[0]


def test_a_sized_disaggregated_fleet_meets_its_slo_on_the_samples_it_reports() -> None:
    """Sizing picks both pools (their ratio is its result); the reported run is the run the
    sizing accepted, and one replica fewer in either pool misses the SLO."""
    sized = sized_run({"mode": "size_to_slo"})
    prefill, decode = sized.pools
    assert sized.verdict is None
    assert sized.ttft_s.p99 is not None and sized.ttft_s.p99 <= SLO["ttft_p99_s"]
    assert sized.tpot_s.p99 is not None and sized.tpot_s.p99 <= SLO["tpot_p99_s"]
    assert sized.slo_met_share is not None and sized.slo_met_share >= 0.9
    assert (prefill.replicas, decode.replicas) == (3, 2)  # more prefill than decode here
    total = prefill.replicas + decode.replicas
    same = sized_run({"prefill_replicas": prefill.replicas}, total)
    assert same.ttft_s == sized.ttft_s and same.tpot_s == sized.tpot_s  # the same samples
    for fewer_prefill, fewer_decode in ((1, 0), (0, 1)):
        p, d = prefill.replicas - fewer_prefill, decode.replicas - fewer_decode
        smaller = sized_run({"prefill_replicas": p}, p + d)
        assert smaller.verdict is not None, (p, d)
    assert sized.gpu_hours_scheduled == pytest.approx(
        (prefill.replicas * 1 + decode.replicas * 2) * 60 / 3600, rel=1e-12
    )


@pytest.mark.parametrize(
    ("fleet", "fragment"),
    [
        (
            "{disaggregated: true, mode: size_to_slo, prefill_replicas: 1, slo: {ttft_p99_s: 1}}",
            r"fleet\.prefill_replicas: mode 'size_to_slo' sizes both pools",
        ),
        (
            "{disaggregated: true, mode: autoscale, prefill_replicas: 1}",
            r"fleet\.prefill_replicas: mode 'autoscale' autoscales both pools",
        ),
    ],
)
def test_sizing_and_autoscaling_pick_the_pools(tmp_path: Any, fleet: str, fragment: str) -> None:
    from infersim.errors import ConfigError
    from infersim.scenario.load import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: d\ndeployments:\n  main: {model: llama-3.1-8b, gpu: h100-sxm, replicas: 2}\n"
        f"fleet: {fleet}\n"
        "workload: {classes: {c: {arrival: {process: poisson, rate_per_s: 1},"
        " prompt_tokens: {dist: fixed, tokens: 10}, output_tokens: {dist: fixed, tokens: 5}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=fragment):
        load_scenario(path)
