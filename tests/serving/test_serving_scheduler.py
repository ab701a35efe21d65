"""Inter-token latency, the decode and prefill batch, scheduler policies, class priority and
batch classes with a deadline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from serving_helpers import CATALOG, scenario

from infersim.perf import build_perf_model, chunk_context_tokens
from infersim.report.serving import serving_json
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.model import Scenario
from infersim.serving.cluster import ClusterRun, ReplicaSchedule, run_cluster
from infersim.serving.itl import ItlSource, gap_blocks, itl_percentiles
from infersim.serving.result import DeploymentServing, Percentiles
from infersim.serving.simulate import simulate

DEP = {"model": "llama-3.1-8b", "gpu": "h100-sxm"}


def _perf(**deployment: Any) -> Any:
    return build_perf_model(SelfHosted.model_validate({**DEP, **deployment}), CATALOG)


def _run(
    arrivals: list[tuple[float, int, int]], chunked: bool, **deployment: Any
) -> tuple[ClusterRun, Any]:
    """The event loop on one replica for the given (arrival s, prompt, output) requests."""
    perf = _perf(**deployment)
    times, prompts, outputs = (np.asarray(col) for col in zip(*arrivals, strict=True))
    run = run_cluster(
        perf, times.astype(np.float64), prompts.astype(np.int64), outputs.astype(np.int64),
        np.zeros(len(times), dtype=np.int64), ReplicaSchedule([0.0], [1]), "round_robin",
        chunked, 10.0,
    )  # fmt: skip
    return run, perf


def _gaps(run: ClusterRun) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Every inter-token gap, one value per token."""
    blocks = list(gap_blocks(_source(run)))
    values = np.concatenate([v for v, _ in blocks])
    weights = np.concatenate([w for _, w in blocks])
    return np.repeat(values, weights.astype(np.int64))


def _source(run: ClusterRun) -> ItlSource:
    return ItlSource(run.replicas[0].perf, tuple(r.stats for r in run.replicas))


# ---------------------------------------------------------------------------------- ITL
def test_itl_with_one_sequence_is_the_decode_step_time() -> None:
    run, perf = _run([(0.0, 100, 50)], chunked=True)
    gaps = np.sort(_gaps(run))
    # 49 decode steps after the first token, the context growing from prompt + 1
    steps = np.sort([perf.iteration_time_s(0, 0, 1, 101.0 + k) for k in range(49)])
    assert gaps.size == 49
    np.testing.assert_allclose(gaps, steps, rtol=1e-9)


@pytest.mark.parametrize("chunked", [True, False])
def test_itl_counts_every_token_after_the_first(chunked: bool) -> None:
    requests = [(0.01 * i, 200 + 37 * i, 20 + 11 * (i % 7)) for i in range(60)]
    run, _ = _run(requests, chunked=chunked)
    assert sum(r.stats.preemptions for r in run.replicas) == 0
    assert _gaps(run).size == sum(out - 1 for _, _, out in requests)
    # a request's gaps add up to its time from first to last token: over all, exactly
    table = run.table
    spans = np.asarray(table.finish_s) - np.asarray(table.first_token_s)
    assert _gaps(run).sum() == pytest.approx(spans.sum(), rel=1e-9)


def test_prefill_first_shows_a_long_prefill_as_one_gap_of_its_duration() -> None:
    prompt = 8000
    run, perf = _run([(0.0, 100, 400), (0.5, prompt, 10)], chunked=False)
    prefill_s = perf.iteration_time_s(prompt, chunk_context_tokens(prompt, 0), 0, 0.0)
    step_s = perf.iteration_time_s(0, 0, 2, 2.0 * prompt)  # a generous decode step bound
    gaps = _gaps(run)
    long = gaps[gaps > prefill_s]
    assert long.size == 1  # the decoding request's one gap spanning the prefill
    assert long[0] <= prefill_s + step_s
    assert np.sort(gaps)[-2] < step_s  # every other gap is a decode step


def test_chunked_prefill_bounds_the_gap_by_the_chunk_time() -> None:
    prompt, budget = 8000, 512
    run, perf = _run([(0.0, 100, 400), (0.5, prompt, 10)], chunked=True, max_batch_tokens=budget)
    prefill_s = perf.iteration_time_s(prompt, chunk_context_tokens(prompt, 0), 0, 0.0)
    chunk_s = perf.iteration_time_s(budget, chunk_context_tokens(budget, prompt), 2, 2.0 * prompt)
    gaps = _gaps(run)
    assert gaps.max() <= chunk_s
    assert gaps.max() < prefill_s / 4


@pytest.mark.parametrize("chunked", [True, False])
def test_itl_percentiles_are_those_of_every_gap(chunked: bool) -> None:
    requests = [(0.02 * i, 100 + 97 * (i % 13), 10 + 23 * (i % 5)) for i in range(400)]
    run, _ = _run(requests, chunked=chunked)
    blocks = list(gap_blocks(_source(run)))
    values = np.concatenate([v for v, _ in blocks])
    weights = np.concatenate([w for _, w in blocks])
    expected = Percentiles.weighted(values, weights)
    found = itl_percentiles([_source(run)])
    assert (found.p50, found.p90, found.p99) == (expected.p50, expected.p90, expected.p99)
    assert found.mean == pytest.approx(expected.mean, rel=1e-12)


# ---------------------------------------------------------------------------- batch sizes
def test_decode_batch_leaves_out_prefill_only_iterations() -> None:
    s = scenario(
        rate_per_s=20.0,
        horizon_s=60,
        prompt={"dist": "fixed", "tokens": 512},
        output={"dist": "fixed", "tokens": 128},
        deployment={"chunked_prefill": False},
    )
    d = simulate(s, catalog=CATALOG).deployments[0]
    run, _ = _run([(0.05 * i, 512, 128) for i in range(1200)], chunked=False)
    stats = run.replicas[0].stats
    sizes = np.asarray(stats.batch_sizes, dtype=np.float64)
    durations = np.asarray(stats.batch_durations_s)
    with_zeros = float(np.average(sizes, weights=durations))
    assert (sizes == 0).any()  # prefill-only iterations happen
    decoding = sizes > 0
    assert float(np.average(sizes[decoding], weights=durations[decoding])) > with_zeros
    assert d.decode_batch_sequences.mean is not None
    assert d.decode_batch_sequences_per_iteration.mean is not None
    assert d.decode_batch_sequences.p50 is not None and d.decode_batch_sequences.p50 >= 1
    # whole 512-token prompts, several to an iteration within the token budget
    assert d.prefill_batch_tokens.p50 is not None and d.prefill_batch_tokens.p99 is not None
    assert d.prefill_batch_tokens.p50 % 512 == 0
    assert d.prefill_batch_tokens.p99 <= 8192


# ------------------------------------------------------------------------ scheduler policy
MIXED_PROMPT = {"dist": "lognormal", "p50_tokens": 1500, "p99_tokens": 6000}
MIXED_OUTPUT = {"dist": "lognormal", "p50_tokens": 150, "p99_tokens": 600}


def _policy(policy: str) -> DeploymentServing:
    s = scenario(
        rate_per_s=12.0,
        horizon_s=120,
        prompt=MIXED_PROMPT,
        output=MIXED_OUTPUT,
        deployment={"scheduler": {"policy": policy}, "max_batch_tokens": 2048},
    )
    return simulate(s, catalog=CATALOG).deployments[0]


def test_decode_first_lowers_itl_p99_and_raises_ttft_p50_versus_prefill_first() -> None:
    prefill_first, decode_first = _policy("prefill_first"), _policy("chunked_decode_first")
    assert prefill_first.scheduler == "prefill_first"
    assert decode_first.scheduler == "chunked_decode_first"
    assert decode_first.itl_s.p99 is not None and prefill_first.itl_s.p99 is not None
    assert decode_first.itl_s.p99 < prefill_first.itl_s.p99
    assert decode_first.ttft_s.p50 is not None and prefill_first.ttft_s.p50 is not None
    assert decode_first.ttft_s.p50 > prefill_first.ttft_s.p50


def test_the_default_policy_is_the_one_chunked_prefill_stands_for() -> None:
    for chunked, policy in ((True, "chunked_decode_first"), (False, "prefill_first")):
        dep = SelfHosted.model_validate({**DEP, "chunked_prefill": chunked})
        assert dep.scheduler_policy.value == policy
    d = simulate(scenario(rate_per_s=2.0, horizon_s=20), catalog=CATALOG).deployments[0]
    assert serving_json_of(d)["scheduler"] == "chunked_decode_first"
    assert serving_json_of(d)["priority_ranks"] == 1


def serving_json_of(d: DeploymentServing) -> dict[str, Any]:
    from infersim.serving.result import ServingResult

    return serving_json(ServingResult(1, 1.0, (d,)))["deployments"][d.name]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------- class priority
def _two_classes(classes: dict[str, dict[str, Any]], horizon_s: float = 120) -> Scenario:
    base = {
        "prompt_tokens": {"dist": "fixed", "tokens": 1000},
        "output_tokens": {"dist": "fixed", "tokens": 200},
    }
    return Scenario.model_validate(
        {
            "name": "t",
            "seed": 3,
            "deployments": {"main": {**DEP, "max_batch_sequences": 32}},
            "fleet": {"replications": 1, "max_simulated_requests": 10_000_000},
            "workload": {"classes": {k: {**base, **v} for k, v in classes.items()}},
            "horizon": {"simulated_s": horizon_s},
        }
    )


def _class(d: DeploymentServing, name: str) -> Any:
    return next(c for c in d.classes if c.name == name)


def test_a_higher_priority_class_never_waits_longer_than_a_lower_one() -> None:
    poisson = {"process": "poisson", "rate_per_s": 9.0}  # together past 32 sequences
    s = _two_classes(
        {"high": {"arrival": poisson, "priority": 1}, "low": {"arrival": poisson, "priority": 0}}
    )
    d = simulate(s, catalog=CATALOG).deployments[0]
    assert d.priority_ranks == 2
    high, low = _class(d, "high"), _class(d, "low")
    for stat in ("p50", "p90", "p99", "mean"):
        h, lo = getattr(high.queue_s, stat), getattr(low.queue_s, stat)
        assert h is not None and lo is not None and h <= lo
        h, lo = getattr(high.ttft_s, stat), getattr(low.ttft_s, stat)
        assert h is not None and lo is not None and h <= lo
    assert low.queue_s.p99 is not None and low.queue_s.p99 > 0  # the load made them queue


def test_priority_preemption_loses_no_request() -> None:
    poisson = {"process": "poisson", "rate_per_s": 9.0}
    s = _two_classes(
        {"high": {"arrival": poisson, "priority": 5}, "low": {"arrival": poisson, "priority": -2}},
        horizon_s=60,
    )
    d = simulate(s, catalog=CATALOG).deployments[0]
    assert d.rejected == 0 and d.verdict_kind != "overloaded"
    assert d.served_output_tokens == d.output_tokens
    assert d.completed == d.requests


# ---------------------------------------------------------------------------- batch classes
CHAT = {"arrival": {"process": "poisson", "rate_per_s": 3.0}}


def test_a_batch_class_leaves_interactive_latency_and_gpu_hours_as_they_were() -> None:
    """Without a batch slowdown cap (the default) batch sequences decode in the same steps:
    interactive TPOT rises some 16% here; test_batch_budget holds it within 3% with one."""
    alone = simulate(_two_classes({"chat": CHAT}), catalog=CATALOG).deployments[0]
    batch = {"arrival": {"process": "poisson", "rate_per_s": 4.0}, "deadline_s": 3600.0}
    mixed = simulate(_two_classes({"chat": CHAT, "offline": batch}), catalog=CATALOG)
    d = mixed.deployments[0]
    chat, chat_alone = _class(d, "chat"), _class(alone, "chat")
    assert chat.requests == chat_alone.requests  # the same interactive arrivals
    for stat in ("ttft_s", "tpot_s"):
        with_batch, without = getattr(chat, stat).p50, getattr(chat_alone, stat).p50
        assert with_batch == pytest.approx(without, rel=0.25)
    assert d.ttft_s == chat.ttft_s  # deployment latencies judge the interactive class
    assert d.deadline_met_share == 1.0 and _class(d, "offline").slo_met_share == 1.0
    assert d.batch_extra_gpu_hours == 0.0
    assert d.gpu_hours_scheduled == alone.gpu_hours_scheduled
    offline = _class(d, "offline")
    assert offline.served_output_tokens == offline.output_tokens  # absorbed, all of it
    assert d.verdict_kind == "ok"


def test_batch_work_past_the_deadline_costs_extra_gpu_hours() -> None:
    batch = {"arrival": {"process": "poisson", "rate_per_s": 60.0}, "deadline_s": 30.0}
    d = simulate(_two_classes({"chat": CHAT, "offline": batch}, 60), catalog=CATALOG)
    dep = d.deployments[0]
    assert dep.deadline_met_share is not None and dep.deadline_met_share < 0.9
    offline = _class(dep, "offline")
    assert offline.deadline_missed_output_tokens > 0
    per_token_h = dep.gpu_hours_busy / dep.served_output_tokens
    assert dep.batch_extra_gpu_hours == pytest.approx(
        offline.deadline_missed_output_tokens * per_token_h
    )
    assert dep.verdict is not None and "batch requests within their deadline" in dep.verdict
