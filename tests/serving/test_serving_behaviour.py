"""How the serving engine behaves: tokens and GPU time conserved, runs reproducible, capacity
and overload, and what each lever does (KV memory, chunked prefill, speculative decoding,
prefix caching, load balancing, SLO sizing, autoscaling).

Each comparison runs both arms on the same seed, so they see the same requests, and states
its margin; the margins sit well inside what the seeded runs show.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import CATALOG, scenario

from infersim.perf import build_perf_model, steady_state_throughput
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.serving.cluster import ClusterRun, ReplicaSchedule, run_cluster
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import simulate
from infersim.workload.stream import build_requests
from infersim.workload.trace import ExternalData

CHAT_PROMPT = {"dist": "lognormal", "mean_tokens": 1000, "sigma": 0.6}
CHAT_OUTPUT = {"dist": "lognormal", "mean_tokens": 250, "sigma": 0.6}
SPECULATIVE = {
    "speculative": {
        "method": "draft_model",
        "draft_model": "llama-3.2-1b",
        "draft_tokens": 4,
        "acceptance_rate": 0.8,
    }
}
VERDICT = re.compile(r"^overloaded: arrival rate (\d+(?:\.\d+)?)x capacity")


def served(s: Scenario, seed: int | None = None) -> DeploymentServing:
    return simulate(s, seed=seed, catalog=CATALOG).deployments[0]


def capacity_rps(prompt_tokens: int, output_tokens: int, **deployment: Any) -> float:
    """One replica's steady-state requests/s at fixed lengths (the perf model's figure)."""
    dep = SelfHosted.model_validate({"model": "llama-3.1-8b", "gpu": "h100-sxm", **deployment})
    perf = build_perf_model(dep, CATALOG)
    point = steady_state_throughput(perf, prompt_tokens, output_tokens)
    return point.output_tokens_per_s / output_tokens


def two_classes(*, chunked: bool, seed: int = 1) -> Scenario:
    """Chat traffic with a trickle of long-document prompts, on one replica."""
    return Scenario.model_validate(
        {
            "name": "mixed",
            "seed": seed,
            "deployments": {
                "main": {
                    "model": "llama-3.1-8b",
                    "gpu": "h100-sxm",
                    "chunked_prefill": chunked,
                    "max_batch_tokens": 512,
                }
            },
            "fleet": {"replications": 1},
            "workload": {
                "classes": {
                    "documents": {
                        "arrival": {"process": "poisson", "rate_per_s": 0.5},
                        "prompt_tokens": {"dist": "fixed", "tokens": 8000},
                        "output_tokens": {"dist": "fixed", "tokens": 100},
                    },
                    "chat": {
                        "arrival": {"process": "poisson", "rate_per_s": 20},
                        "prompt_tokens": {"dist": "lognormal", "mean_tokens": 300, "sigma": 0.5},
                        "output_tokens": {"dist": "lognormal", "mean_tokens": 100, "sigma": 0.5},
                    },
                }
            },
            "horizon": {"simulated_s": 120},
        }
    )


def with_cached_share(s: Scenario, share: float) -> Scenario:
    """The scenario with its one class's prompts sharing a cached prefix of `share`."""
    cls = s.workload.classes["c"].model_copy(update={"cached_prefix_share": share})
    workload = s.workload.model_copy(update={"classes": {"c": cls}})
    return s.model_copy(update={"workload": workload})


def engine_run(s: Scenario, seed: int, replicas: int = 1, chunked: bool = True) -> ClusterRun:
    """The raw event loop on the scenario's requests (replica stats and the request table)."""
    dep = s.deployments["main"]
    assert isinstance(dep, SelfHosted)
    perf = build_perf_model(dep, CATALOG)
    horizon = s.horizon.simulated_s
    stream = build_requests(s, ExternalData(), horizon, np.random.default_rng(seed))
    return run_cluster(
        perf, stream.time_s, stream.prompt_tokens, stream.output_tokens, stream.cached_tokens,
        ReplicaSchedule([0.0], [replicas]), "least_outstanding", chunked, horizon,
    )  # fmt: skip


def assert_tokens_conserved(run: ClusterRun) -> None:
    """Every admitted prompt token is computed once (less its cached prefix), plus the
    recomputation after preemption; every output token is emitted once: one by each prefill
    (the first, and one per recompute), the rest by decode steps."""
    table = run.table
    stats = [r.stats for r in run.replicas]
    prompt = np.asarray(table.prompt_tokens)
    cached = np.minimum(np.asarray(table.cached_tokens), prompt)
    output = np.asarray(table.output_tokens)
    finish = np.asarray(table.finish_s)
    preempted = np.asarray(table.preemptions)
    assert run.overloaded_at_s is None
    assert sum(s.rejected for s in stats) == 0
    assert np.isfinite(finish).all()  # everything completes
    assert np.array_equal(np.asarray(table.emitted), output)
    recomputed = sum(s.recomputed_tokens for s in stats)
    computed = sum(s.prefill_tokens for s in stats)
    assert computed == int((prompt - cached).sum()) + recomputed
    prefills = len(output) + int(preempted.sum())
    assert sum(s.decode_tokens for s in stats) == int(output.sum()) - prefills
    assert sum(s.preemptions for s in stats) == int(preempted.sum())
    for replica in run.replicas:  # a replica is never busy longer than it is up
        assert replica.stats.busy_s <= run.end_s * (1 + 1e-12)


# ------------------------------------------------------------------------------ conservation
def test_tokens_conserved_with_a_cached_prefix() -> None:
    s = scenario(rate_per_s=40, horizon_s=60, prompt=CHAT_PROMPT, output=CHAT_OUTPUT)
    s = with_cached_share(s, 0.3)
    run = engine_run(s, seed=3, replicas=2)
    assert sum(r.stats.preemptions for r in run.replicas) == 0
    assert sum(r.stats.recomputed_tokens for r in run.replicas) == 0
    assert sum(run.table.cached_tokens) > 0
    assert_tokens_conserved(run)


def tiny_kv_scenario(seed: int = 5) -> Scenario:
    """A KV cache of ~16k tokens (gpu_memory_utilization 0.25), contexts up to 2,300 tokens,
    at ~85% of the capacity that cache allows."""
    return scenario(
        rate_per_s=1.2,
        horizon_s=600,
        seed=seed,
        deployment={"gpu_memory_utilization": 0.25},
        prompt={"dist": "uniform", "low_tokens": 200, "high_tokens": 800},
        output={"dist": "uniform", "low_tokens": 500, "high_tokens": 1500},
    )


def test_preemption_recomputes_and_still_conserves_tokens() -> None:
    run = engine_run(tiny_kv_scenario(), seed=5)
    stats = run.replicas[0].stats
    assert stats.preemptions > 10
    assert stats.recomputed_tokens > 0
    assert_tokens_conserved(run)


def test_preemptions_reported_and_every_request_completes() -> None:
    d = served(tiny_kv_scenario())
    assert d.preemptions > 10
    assert d.recomputed_tokens > 0
    assert d.rejected == 0
    assert d.completed == d.requests > 300
    assert d.output_tokens == sum(c.output_tokens for c in d.classes)
    assert d.verdict is None


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    rate_per_s=st.floats(1, 60),
    prompt_mean=st.integers(50, 2000),
    output_mean=st.integers(2, 600),
    replicas=st.integers(1, 3),
    chunked=st.booleans(),
    memory=st.sampled_from([0.25, 0.3, 0.9]),
    cached_share=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_tokens_conserved_over_configs(
    rate_per_s: float,
    prompt_mean: int,
    output_mean: int,
    replicas: int,
    chunked: bool,
    memory: float,
    cached_share: float,
    seed: int,
) -> None:
    lengths = {"dist": "lognormal", "sigma": 0.8, "max_tokens": 3000}
    s = scenario(
        rate_per_s=rate_per_s,
        horizon_s=15,
        seed=seed,
        prompt={**lengths, "mean_tokens": prompt_mean},
        output={**lengths, "mean_tokens": output_mean},
        deployment={"gpu_memory_utilization": memory},
    )
    s = with_cached_share(s, cached_share)
    assert_tokens_conserved(engine_run(s, seed=seed, replicas=replicas, chunked=chunked))


@pytest.mark.parametrize(
    ("load", "replicas"),
    [(0.3, 1), (0.9, 3), (2.0, 1)],
)
def test_busy_gpu_hours_never_exceed_provisioned(load: float, replicas: int) -> None:
    rate = load * replicas * capacity_rps(100, 50)
    d = served(scenario(rate_per_s=rate, horizon_s=30, deployment={"replicas": replicas}))
    assert 0 < d.gpu_hours_busy <= d.gpu_hours_provisioned * (1 + 1e-9)
    assert 0 < d.busy_share <= 1 + 1e-9


# ------------------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_results() -> None:
    s = scenario(rate_per_s=20, horizon_s=30, prompt=CHAT_PROMPT, output=CHAT_OUTPUT)
    s = s.model_copy(update={"fleet": s.fleet.model_copy(update={"replications": 2})})
    assert served(s, seed=11) == served(s, seed=11)


def test_another_seed_gives_another_sample() -> None:
    s = scenario(rate_per_s=20, horizon_s=30, prompt=CHAT_PROMPT, output=CHAT_OUTPUT)
    first, second = served(s, seed=11), served(s, seed=12)
    assert first != second
    assert first.requests != second.requests or first.input_tokens != second.input_tokens
    assert first.ttft_s != second.ttft_s


# ------------------------------------------------------------------------------ capacity
@pytest.mark.parametrize("load", [0.5, 0.9])
def test_throughput_follows_the_load_below_capacity(load: float) -> None:
    rate = load * capacity_rps(100, 50)
    d = served(scenario(rate_per_s=rate, horizon_s=60))
    assert d.verdict is None
    assert d.output_tokens_per_s == pytest.approx(rate * 50, rel=0.03)


@pytest.mark.parametrize(("load", "rel"), [(1.5, 0.05), (2.0, 0.05), (3.0, 0.15)])
def test_served_rate_saturates_past_capacity(load: float, rel: float) -> None:
    """Past capacity the replica is busy all the time it is paid for, and serves what its
    capacity allows: the served output tokens per busy GPU-second are the capacity. At 3x
    the run is stopped early and measures only the overloaded phase, whose iterations carry
    the backlog's prefill chunks at the full token budget (no pure-decode drain): looser."""
    cap = capacity_rps(100, 50)
    d = served(scenario(rate_per_s=load * cap, horizon_s=60))
    assert d.verdict_kind == "overloaded"
    assert d.gpu_hours_busy == d.gpu_hours_scheduled  # busy the whole paid time, no more
    assert d.served_output_tokens / (d.gpu_hours_busy * 3600) == pytest.approx(cap * 50, rel=rel)


@pytest.mark.parametrize("horizon_s", [60.0, 600.0])
def test_reported_throughput_saturates_past_capacity(horizon_s: float) -> None:
    cap = capacity_rps(100, 50)
    d = served(scenario(rate_per_s=2 * cap, horizon_s=horizon_s))
    assert d.output_tokens_per_s == pytest.approx(cap * 50, rel=0.15)


def test_time_to_first_token_grows_without_bound_past_capacity() -> None:
    cap = capacity_rps(100, 50)
    below = served(scenario(rate_per_s=0.5 * cap, horizon_s=60))
    short = served(scenario(rate_per_s=1.5 * cap, horizon_s=60))
    longer = served(scenario(rate_per_s=1.5 * cap, horizon_s=120))
    assert below.ttft_s.p50 is not None and short.ttft_s.p50 is not None
    assert longer.ttft_s.p50 is not None
    assert short.ttft_s.p50 > 100 * below.ttft_s.p50
    assert longer.ttft_s.p50 > 1.6 * short.ttft_s.p50  # the queue keeps growing with time


def test_load_below_capacity_has_no_verdict() -> None:
    d = served(scenario(rate_per_s=0.8 * capacity_rps(100, 50), horizon_s=120))
    assert d.verdict is None


def test_overload_stops_early_with_a_verdict() -> None:
    cap = capacity_rps(100, 50)
    d = served(scenario(rate_per_s=1.8 * cap, horizon_s=900))
    assert d.verdict is not None
    match = VERDICT.match(d.verdict)
    assert match is not None, d.verdict
    assert 1.6 <= float(match.group(1)) <= 2.0
    assert d.completed < 0.5 * d.requests  # it gave up instead of serving the whole backlog


def test_short_overload_still_gets_a_verdict() -> None:
    d = served(scenario(rate_per_s=2 * capacity_rps(100, 50), horizon_s=60))
    assert d.completed == d.requests  # the backlog drained...
    assert d.verdict is not None and VERDICT.match(d.verdict)  # ...but it was overloaded


# ------------------------------------------------------------------------------ KV memory
@pytest.mark.parametrize("rate_per_s", [5.0, 20.0])
def test_more_kv_memory_never_lowers_the_largest_batch(rate_per_s: float) -> None:
    largest = []
    for memory in (0.24, 0.25, 0.27, 0.3, 0.35, 0.4, 0.5, 0.7, 0.9):
        s = scenario(
            rate_per_s=rate_per_s,
            horizon_s=60,
            prompt={"dist": "lognormal", "mean_tokens": 2000, "sigma": 0.5},
            output={"dist": "lognormal", "mean_tokens": 500, "sigma": 0.5},
            deployment={"gpu_memory_utilization": memory},
        )
        largest.append(max(engine_run(s, seed=2).replicas[0].stats.batch_sizes))
    assert largest == sorted(largest), largest
    assert largest[-1] > 4 * largest[0]


# ------------------------------------------------------------------------------ levers
def test_chunked_prefill_lowers_p99_time_per_output_token_on_a_mixed_load() -> None:
    chunked = served(two_classes(chunked=True))
    whole = served(two_classes(chunked=False))
    chat = {c.name: c.tpot_s.p99 for c in chunked.classes}["chat"]
    chat_whole = {c.name: c.tpot_s.p99 for c in whole.classes}["chat"]
    assert chat is not None and chat_whole is not None
    assert chat < 0.8 * chat_whole
    assert chunked.tpot_s.p99 is not None and whole.tpot_s.p99 is not None
    assert chunked.tpot_s.p99 < 0.8 * whole.tpot_s.p99


FIXED_200 = {"dist": "fixed", "tokens": 200}


def test_speculative_decoding_lowers_time_per_output_token_at_low_load() -> None:
    plain = served(scenario(rate_per_s=1, horizon_s=60, prompt=FIXED_200, output=FIXED_200))
    spec = served(
        scenario(
            rate_per_s=1, horizon_s=60, prompt=FIXED_200, output=FIXED_200, deployment=SPECULATIVE
        )
    )
    assert plain.tpot_s.p50 is not None and spec.tpot_s.p50 is not None
    assert spec.tpot_s.p50 < 0.7 * plain.tpot_s.p50
    assert spec.output_tokens == plain.output_tokens


def test_speculative_decoding_raises_gpu_time_per_token_at_high_load() -> None:
    rate = 1.25 * capacity_rps(200, 200)  # past capacity: batches as large as fit
    results = [
        served(scenario(rate_per_s=rate, horizon_s=30, prompt=FIXED_200, output=FIXED_200, **kw))
        for kw in ({}, {"deployment": SPECULATIVE})
    ]
    plain, spec = (d.gpu_hours_busy * 3600 / d.served_output_tokens for d in results)
    assert (
        results[0].decode_batch_sequences.p50 is not None
        and results[0].decode_batch_sequences.p50 > 200
    )
    assert spec > 1.1 * plain


def test_prefix_caching_lowers_prefill_work() -> None:
    prompt = {"dist": "lognormal", "mean_tokens": 2000, "sigma": 0.5}
    output = {"dist": "lognormal", "mean_tokens": 200, "sigma": 0.5}
    plain, cached = (
        served(scenario(rate_per_s=10, horizon_s=120, prompt=prompt, output=output, deployment=d))
        for d in ({}, {"prefix_caching": {"cached_share": 0.6}})
    )
    assert plain.cached_input_tokens == 0
    assert cached.cached_input_tokens == pytest.approx(0.6 * cached.input_tokens, rel=0.01)
    assert cached.input_tokens == plain.input_tokens
    prefill_hours = [d.prefill_share * d.gpu_hours_busy for d in (plain, cached)]
    assert prefill_hours[1] < 0.5 * prefill_hours[0]
    assert cached.ttft_s.p50 is not None and plain.ttft_s.p50 is not None
    assert cached.ttft_s.p50 < 0.5 * plain.ttft_s.p50


def test_least_outstanding_beats_round_robin_on_bursty_arrivals() -> None:
    """Small batches (8 sequences) make requests queue; joining the shortest queue keeps the
    tail of time to first token shorter than taking turns."""
    limits = {"replicas": 4, "max_batch_sequences": 8}
    prompt = {"dist": "lognormal", "mean_tokens": 500, "sigma": 0.8}
    output = {"dist": "lognormal", "mean_tokens": 250, "sigma": 1.0}
    rate = (
        0.7
        * 4
        * served(
            scenario(rate_per_s=1, horizon_s=10, prompt=prompt, output=output, deployment=limits)
        ).capacity_requests_per_s
    )
    p99 = {}
    for balancer in ("round_robin", "least_outstanding"):
        d = served(
            scenario(
                rate_per_s=rate,
                horizon_s=300,
                prompt=prompt,
                output=output,
                deployment=limits,
                arrival={"process": "bursty", "rate_per_s": rate, "cv": 3},
                fleet={"load_balancer": balancer, "replications": 2},
            )
        )
        assert d.verdict is None
        p99[balancer] = d.ttft_s.p99
    assert p99["least_outstanding"] < 0.85 * p99["round_robin"]


def test_size_to_slo_returns_the_smallest_fleet_meeting_the_slo() -> None:
    slo = {"tpot_p50_s": 0.0145}

    def at(replicas: int) -> DeploymentServing:
        return served(
            scenario(
                rate_per_s=60,
                horizon_s=120,
                prompt=CHAT_PROMPT,
                output=CHAT_OUTPUT,
                deployment={"replicas": replicas},
                fleet={"slo": slo},
            )
        )

    sized = served(
        scenario(
            rate_per_s=60,
            horizon_s=120,
            prompt=CHAT_PROMPT,
            output=CHAT_OUTPUT,
            fleet={"mode": "size_to_slo", "slo": slo},
        )
    )
    count = sized.peak_replicas
    assert sized.replicas == count > 1
    assert sized.tpot_s.p50 is not None and sized.tpot_s.p50 <= slo["tpot_p50_s"]
    smaller, same = at(count - 1), at(count)
    assert smaller.tpot_s.p50 is not None and smaller.tpot_s.p50 > slo["tpot_p50_s"]
    assert same.tpot_s.p50 is not None and same.tpot_s.p50 <= slo["tpot_p50_s"]


DAY_WEIGHTS = [0.2] * 6 + [0.5, 1, 1.5, 2, 2, 2, 2, 2, 2, 1.5, 1.5, 1, 1, 0.8, 0.6, 0.4, 0.3, 0.2]


def test_autoscaling_over_a_day_provisions_fewer_gpu_hours_than_a_peak_fleet() -> None:
    """Long outputs on 2-sequence batches: a replica serves ~0.15 requests/s, so a day's
    traffic needs 4 replicas at the peak and 1 at night, in ~20k requests."""
    lengths = {
        "prompt": {"dist": "fixed", "tokens": 500},
        "output": {"dist": "fixed", "tokens": 2000},
    }
    limits = {"max_batch_sequences": 2}
    cap = capacity_rps(500, 2000, **limits)
    day = {"process": "diurnal", "mean_rate_per_s": 1.5 * cap, "hourly_weights": DAY_WEIGHTS}
    auto = served(
        scenario(
            rate_per_s=1,
            horizon_s=86_400,
            arrival=day,
            deployment=limits,
            fleet={"mode": "autoscale", "autoscale": {"target_utilization": 0.8}},
            **lengths,
        )
    )
    peak = auto.peak_replicas
    fixed = served(
        scenario(
            rate_per_s=1,
            horizon_s=86_400,
            arrival=day,
            deployment={**limits, "replicas": peak},
            **lengths,
        )
    )
    assert peak >= 3
    assert auto.completed == auto.requests == fixed.requests
    assert fixed.gpu_hours_provisioned == pytest.approx(peak * 24, rel=0.01)
    assert auto.gpu_hours_provisioned < 0.7 * fixed.gpu_hours_provisioned
    assert auto.gpu_hours_busy <= auto.gpu_hours_provisioned
    assert auto.replicas < 0.7 * peak
