"""The batch slowdown budget (`scheduler.batch_slowdown_max`): batch work beside interactive
work only while the iteration it lengthens stays within the budget, preempted (and
recomputed, never lost) when over it or when interactive work needs the room."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_helpers import CATALOG

from infersim.perf import build_perf_model, chunk_context_tokens
from infersim.pipeline.run import run_loaded, run_scenario
from infersim.report.assumptions import assumptions_table
from infersim.report.serving import serving_json, serving_tables
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario
from infersim.serving.batch_budget import SlowdownBudget
from infersim.serving.cluster import ClusterRun, ReplicaSchedule, run_cluster
from infersim.serving.replica import Replica, RequestTable
from infersim.serving.result import DeploymentServing, ServingResult
from infersim.serving.simulate import simulate
from infersim.workload.trace import load_external_data

DEP = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "max_batch_sequences": 32}
CHAT = {"arrival": {"process": "poisson", "rate_per_s": 3.0}}
BATCH = {"arrival": {"process": "poisson", "rate_per_s": 4.0}, "deadline_s": 3600.0}
POLICIES = ["chunked_decode_first", "prefill_first"]


def _scenario(
    classes: dict[str, dict[str, Any]],
    cap: float | None = None,
    policy: str = "chunked_decode_first",
    horizon_s: float = 120,
    **deployment: Any,
) -> Scenario:
    base = {
        "prompt_tokens": {"dist": "fixed", "tokens": 1000},
        "output_tokens": {"dist": "fixed", "tokens": 200},
    }
    scheduler: dict[str, Any] = {"policy": policy}
    if cap is not None:
        scheduler["batch_slowdown_max"] = cap
    return Scenario.model_validate(
        {
            "name": "t",
            "seed": 3,
            "deployments": {"main": {**DEP, "scheduler": scheduler, **deployment}},
            "fleet": {"replications": 1, "max_simulated_requests": 10_000_000},
            "workload": {"classes": {k: {**base, **v} for k, v in classes.items()}},
            "horizon": {"simulated_s": horizon_s},
        }
    )


def _serve(scenario: Scenario) -> DeploymentServing:
    return simulate(scenario, catalog=CATALOG).deployments[0]


def _class(d: DeploymentServing, name: str) -> Any:
    return next(c for c in d.classes if c.name == name)


# ------------------------------------------------------------------ interactive latency
@pytest.mark.parametrize("policy", POLICIES)
def test_with_the_cap_interactive_latency_stays_within_3_percent_of_the_batch_free_run(
    policy: str,
) -> None:
    alone = _class(_serve(_scenario({"chat": CHAT}, policy=policy)), "chat")
    uncapped = _serve(_scenario({"chat": CHAT, "offline": BATCH}, policy=policy))
    capped = _serve(_scenario({"chat": CHAT, "offline": BATCH}, cap=0.02, policy=policy))
    chat = _class(capped, "chat")
    assert chat.requests == alone.requests  # the same interactive arrivals
    for stat in ("ttft_s", "tpot_s"):
        assert getattr(chat, stat).p50 == pytest.approx(getattr(alone, stat).p50, rel=0.03)
    # without the cap the batch decodes in the same steps: the lever is what holds TPOT
    assert _class(uncapped, "chat").tpot_s.p50 > 1.1 * alone.tpot_s.p50
    # the troughs (and the drain after the last arrival) absorb the batch within its deadline
    offline = _class(capped, "offline")
    assert capped.deadline_met_share == 1.0 and offline.slo_met_share == 1.0
    assert offline.served_output_tokens == offline.output_tokens
    assert capped.batch_served_output_tokens == offline.served_output_tokens
    assert capped.batch_extra_gpu_hours == 0.0
    assert capped.gpu_hours_scheduled == uncapped.gpu_hours_scheduled
    assert capped.verdict_kind == "ok" and capped.batch_slowdown_max == 0.02
    # batch work waits for room: it finishes later than without the cap, and is preempted
    assert offline.e2e_s.p50 > _class(uncapped, "offline").e2e_s.p50
    assert 0 < capped.batch_preemptions == capped.preemptions
    assert 0 < capped.batch_recomputed_tokens == capped.recomputed_tokens


def test_a_tighter_cap_keeps_interactive_decode_closer_to_the_batch_free_run() -> None:
    alone = _class(_serve(_scenario({"chat": CHAT})), "chat").tpot_s.p50
    tpot = [
        _class(_serve(_scenario({"chat": CHAT, "offline": BATCH}, cap=cap)), "chat").tpot_s.p50
        for cap in (0.0, 0.02, 0.2)
    ]
    assert tpot == sorted(tpot)
    assert tpot[0] == pytest.approx(alone, rel=0.005)
    assert tpot[2] <= alone * 1.2


def test_batch_past_its_deadline_costs_extra_gpu_hours_under_the_cap_too() -> None:
    batch = {"arrival": {"process": "poisson", "rate_per_s": 8.0}, "deadline_s": 20.0}
    d = _serve(_scenario({"chat": CHAT, "offline": batch}, cap=0.02, horizon_s=60))
    offline = _class(d, "offline")
    assert d.deadline_met_share is not None and d.deadline_met_share < 0.9
    assert offline.deadline_missed_output_tokens > 0
    per_token_h = d.gpu_hours_busy / d.served_output_tokens
    assert d.batch_extra_gpu_hours == pytest.approx(
        offline.deadline_missed_output_tokens * per_token_h
    )
    assert d.served_output_tokens == d.output_tokens  # late, not lost


# ------------------------------------------------------------------------ no request lost
def _run(
    cap: float | None, chunked: bool, batch_ranks: int = 1, **deployment: Any
) -> tuple[ClusterRun, Any]:
    """Interactive (the top rank) and batch (the `batch_ranks` below) requests on one
    replica, crowded."""
    perf = build_perf_model(SelfHosted.model_validate({**DEP, **deployment}), CATALOG)
    rng = np.random.default_rng(7)
    n = 600
    times = np.sort(rng.uniform(0.0, 30.0, n))
    prompts = rng.integers(200, 3000, n)
    outputs = rng.integers(20, 400, n)
    interactive = rng.uniform(size=n) < 0.4
    rank = np.where(interactive, batch_ranks, rng.integers(0, batch_ranks, n)).astype(np.int64)
    run = run_cluster(
        perf, times, prompts.astype(np.int64), outputs.astype(np.int64),
        np.zeros(n, dtype=np.int64), ReplicaSchedule([0.0], [1]), "round_robin", chunked,
        30.0, rank=rank, batch_ranks=batch_ranks, batch_slowdown_max=cap,
    )  # fmt: skip
    return run, rank


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize(
    ("batch_ranks", "deployment"),
    [(1, {}), (1, {"gpu_memory_utilization": 0.3}), (2, {"max_batch_sequences": 16})],
)
def test_no_request_is_lost_under_the_cap_and_its_preemptions(
    chunked: bool, batch_ranks: int, deployment: dict[str, Any]
) -> None:
    run, rank = _run(0.02, chunked, batch_ranks, **deployment)
    table = run.table
    stats = run.replicas[0].stats
    assert run.overloaded_at_s is None and stats.rejected == 0
    finish = np.asarray(table.finish_s)
    assert np.isfinite(finish).all()
    assert (np.asarray(table.emitted) == np.asarray(table.output_tokens)).all()
    assert (np.asarray(table.first_token_s) <= finish).all()
    preempted = np.asarray(table.preemptions)
    assert stats.preemptions == preempted.sum() > 0
    assert stats.batch_preemptions == preempted[rank < batch_ranks].sum() > 0
    assert 0 <= stats.batch_recomputed_tokens <= stats.recomputed_tokens
    # every prompt computed once, plus what preemptions made recompute: no more, no less
    first_pass = float(np.sum(np.asarray(table.prompt_tokens)))
    assert stats.prefill_tokens == pytest.approx(first_pass + stats.recomputed_tokens, rel=1e-12)


def test_interactive_requests_wait_less_with_the_cap_on_a_crowded_replica() -> None:
    free, rank = _run(None, True)
    capped, _ = _run(0.02, True)
    interactive = rank == rank.max()

    def ttft_p50(run: ClusterRun) -> float:
        ttft = np.asarray(run.table.first_token_s) - np.asarray(run.table.arrival_s)
        return float(np.median(ttft[interactive]))

    assert ttft_p50(capped) < ttft_p50(free)


@pytest.mark.parametrize("chunked", [True, False])
def test_in_a_trough_batch_work_runs_as_without_the_cap(chunked: bool) -> None:
    """Batch requests alone on the replica, the interactive ones long after: the cap
    changes nothing, to the float."""
    perf = build_perf_model(SelfHosted.model_validate(DEP), CATALOG)
    rng = np.random.default_rng(11)
    times = np.concatenate([np.sort(rng.uniform(0.0, 5.0, 200)), [500.0, 501.0]])
    prompts = rng.integers(200, 2000, times.size).astype(np.int64)
    outputs = rng.integers(20, 300, times.size).astype(np.int64)
    rank = np.asarray([0] * 200 + [1, 1], dtype=np.int64)

    def finish_s(cap: float | None) -> list[float]:
        run = run_cluster(
            perf, times, prompts, outputs, np.zeros(times.size, dtype=np.int64),
            ReplicaSchedule([0.0], [1]), "round_robin", chunked, 10.0, rank=rank,
            batch_ranks=1, batch_slowdown_max=cap,
        )  # fmt: skip
        return list(run.table.finish_s)

    free = finish_s(None)
    assert max(free[:200]) < 500.0  # the batch was done before interactive work came
    assert finish_s(0.0) == free


@pytest.mark.parametrize("cap", [0.0, 0.02, 0.1])
def test_an_interactive_arrival_evicts_batch_work_down_to_the_budget(cap: float) -> None:
    """A replica full of batch sequences; one interactive request comes: its decode steps
    take at most the cap longer than alone, and the batch still all finishes."""
    perf = build_perf_model(SelfHosted.model_validate(DEP), CATALOG)
    times = np.asarray([0.0] * 30 + [3.0])
    prompts = np.asarray([1500] * 30 + [800], dtype=np.int64)
    outputs = np.asarray([1500] * 30 + [300], dtype=np.int64)
    rank = np.asarray([0] * 30 + [1], dtype=np.int64)

    def tpot_s(cap: float | None, only_interactive: bool = False) -> tuple[float, ClusterRun]:
        keep = slice(30, 31) if only_interactive else slice(0, 31)
        run = run_cluster(
            perf, times[keep], prompts[keep], outputs[keep], np.zeros(31, dtype=np.int64)[keep],
            ReplicaSchedule([0.0], [1]), "round_robin", True, 10.0, rank=rank[keep],
            batch_ranks=0 if only_interactive else 1, batch_slowdown_max=cap,
        )  # fmt: skip
        table = run.table
        last = len(table.finish_s) - 1
        return (table.finish_s[last] - table.first_token_s[last]) / (300 - 1), run

    alone, _ = tpot_s(None, only_interactive=True)
    capped, run = tpot_s(cap)
    uncapped, _ = tpot_s(None)
    assert uncapped > alone * 1.2  # thirty batch sequences in every step
    assert alone <= capped <= alone * (1.0 + cap) * 1.001
    assert run.replicas[0].stats.batch_preemptions > 0
    assert np.isfinite(np.asarray(run.table.finish_s)).all()


def _decoding_replica(batch_prompts: list[int]) -> Replica:
    """A capped replica whose one interactive request decodes a long segment, with batch
    requests of `batch_prompts` tokens arriving mid-segment, in that order."""
    perf = build_perf_model(SelfHosted.model_validate(DEP), CATALOG)
    count = 1 + len(batch_prompts)
    table = RequestTable(
        arrival_s=[0.0] * count,
        prompt_tokens=[800, *batch_prompts],
        output_tokens=[300] * count,
        cached_tokens=[0] * count,
        rank=[1] + [0] * len(batch_prompts),
    )
    replica = Replica(perf, table, True, batch_ranks=1, batch_slowdown_max=0.02)
    replica.enqueue(0, 0.0)
    prefill_end_s = replica.start(0.0)
    assert prefill_end_s is not None
    replica.finish(prefill_end_s)
    segment_end_s = replica.start(prefill_end_s)
    assert segment_end_s is not None and replica.seg_steps > 100  # one long decode segment
    return replica


def test_a_batch_arrival_replans_only_when_the_batch_request_first_in_line_fits() -> None:
    """A decode segment is cut for a batch arrival only when the cut admits something: the
    batch request first in line within the budget (queue order: the arrival waits behind
    one over it)."""
    small, large = 16, 60_000  # a step with one more sequence of this context: within / over
    mid_s = 0.5
    alone = _decoding_replica([small])
    assert alone.enqueue(1, mid_s)  # it fits: the segment is cut to admit it
    behind = _decoding_replica([large, small])
    version = behind.version
    assert not behind.enqueue(1, mid_s)  # over the budget: it waits
    assert not behind.enqueue(2, mid_s)  # it would fit, but waits behind the first in line
    assert behind.version == version  # the segment in flight is unchanged
    assert behind.start_s + behind.seg_cum[-1] == behind.end_s


def test_a_batch_cap_needs_ranked_requests() -> None:
    perf = build_perf_model(SelfHosted.model_validate(DEP), CATALOG)
    zeros = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="need ranked requests"):
        run_cluster(
            perf, np.zeros(1), zeros + 10, zeros + 5, zeros, ReplicaSchedule([0.0], [1]),
            "round_robin", True, 1.0, batch_slowdown_max=0.02,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("deployment", "fleet"),
    [
        ({"replicas": 3}, {"disaggregated": True}),
        ({"replicas": 6}, {"max_simulated_requests": 300}),
        (
            {
                "pools": [
                    {"name": "a", "gpu": "h100-sxm", "replicas": 1},
                    {"name": "b", "gpu": "a100-sxm-80gb", "replicas": 1},
                ]
            },
            {},
        ),
    ],
)
def test_every_kind_of_fleet_serves_everything_under_the_cap(
    deployment: dict[str, Any], fleet: dict[str, Any]
) -> None:
    chat = {"arrival": {"process": "poisson", "rate_per_s": 8.0}}
    batch = {"arrival": {"process": "poisson", "rate_per_s": 8.0}, "deadline_s": 3600.0}
    s = _scenario({"chat": chat, "offline": batch}, cap=0.02, horizon_s=40, **deployment)
    s = s.model_copy(update={"fleet": s.fleet.model_copy(update=fleet)})
    d = _serve(Scenario.model_validate(s.model_dump()))
    assert d.mode == ("sampled" if "max_simulated_requests" in fleet else "des")
    assert d.rejected == 0 and d.verdict_kind == "ok"
    assert d.served_output_tokens == pytest.approx(d.output_tokens, rel=1e-12)
    assert d.completed == pytest.approx(d.requests, rel=1e-12)
    assert d.batch_served_output_tokens == pytest.approx(d.batch_output_tokens, rel=1e-12)


# ----------------------------------------------------------------------- the predictor
def _budget(cap: float, chunked: bool) -> SlowdownBudget:
    perf = build_perf_model(SelfHosted.model_validate(DEP), CATALOG)
    return SlowdownBudget(perf, cap, chunked)


def test_the_decode_budget_is_the_perf_models_step_time_within_the_share() -> None:
    budget = _budget(0.02, True)
    step = budget.perf.iteration_time_s
    alone = step(0, 0, 4, 4000.0)
    fitting = [k for k in range(0, 64) if budget.decode_fits(4, 4000.0, 4 + k, 4000.0 + 1000 * k)]
    most = max(fitting)
    assert fitting == list(range(most + 1))  # more batch sequences never fit better
    assert step(0, 0, 4 + most, 4000.0 + 1000 * most) <= alone * 1.02
    assert step(0, 0, 5 + most, 5000.0 + 1000 * most) > alone * 1.02


@pytest.mark.parametrize("chunked", [True, False])
def test_a_batch_chunk_is_the_most_tokens_within_the_budget(chunked: bool) -> None:
    budget = _budget(0.05, chunked)
    interactive = (512, float(chunk_context_tokens(512, 0)), 8, 8000.0)
    chunk = budget.batch_chunk(interactive, (0, 0.0), 4096, 100, 10, 9000.0)

    def fits(n: int) -> bool:
        return budget.prefill_fits(interactive, n, chunk_context_tokens(n, 100), 10, 9000.0)

    assert fits(chunk)
    if chunked:
        assert 0 < chunk < 4096 and not fits(chunk + 1)
    else:  # whole prompts only
        assert chunk in (0, 4096) and (chunk == 4096) == fits(4096)


# --------------------------------------------------------------------------- outputs
def test_the_outputs_say_which_rule_applied_and_what_batch_work_did() -> None:
    for cap in (None, 0.02):
        d = _serve(_scenario({"chat": CHAT, "offline": BATCH}, cap=cap, horizon_s=60))
        served = serving_json(ServingResult(1, 60.0, (d,)))["deployments"]["main"]
        assert served["batch_slowdown_max"] == cap
        assert served["batch_served_output_tokens"] == _class(d, "offline").served_output_tokens
        assert served["batch_output_tokens"] == _class(d, "offline").output_tokens
        assert served["batch_preemptions"] == d.batch_preemptions
        caption = serving_tables(ServingResult(1, 60.0, (d,)), "t")[1].caption or ""
        rule = "no cap" if cap is None else "at most 2.0% longer interactive iterations"
        assert f"batch work: {rule}" in caption
        assert f"{d.batch_served_output_tokens:,.0f} of {d.batch_output_tokens:,.0f}" in caption


def test_same_seed_same_output_under_the_cap() -> None:
    s = _scenario({"chat": CHAT, "offline": BATCH}, cap=0.02, horizon_s=40)
    first, second = (serving_json(simulate(s, catalog=CATALOG)) for _ in range(2))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_tokens_billed_are_the_tokens_served_under_the_cap() -> None:
    s = _scenario({"chat": CHAT, "offline": BATCH}, cap=0.02, horizon_s=60)
    result = run_scenario(s, CATALOG)
    engine = result.serving.deployments[0]
    to_month = 730.0 * 3600.0 / result.serving.horizon_s
    cost = result.first_month.deployments["main"]
    assert cost.output_tokens == pytest.approx(engine.served_output_tokens * to_month, rel=1e-9)
    assert cost.input_tokens == pytest.approx(engine.served_input_tokens * to_month, rel=1e-9)
    bill = math.fsum(f.usd_per_month for f in result.ledger.fleets)
    assert abs(result.first_month.pnl.gpu_cost_usd - bill) <= 0.005


@pytest.mark.parametrize(
    ("scheduler", "value", "source"),
    [
        ("", "none", "default: no cap (deployments.main.scheduler.batch_slowdown_max not given)"),
        (
            "    scheduler: {policy: chunked_decode_first, batch_slowdown_max: 0.02}\n",
            "2.0%",
            "scenario deployments.main.scheduler.batch_slowdown_max",
        ),
    ],
)
def test_the_assumptions_say_which_batch_rule_applied(
    tmp_path: Path, scheduler: str, value: str, source: str
) -> None:
    path = tmp_path / "batch.yaml"
    path.write_text(
        "name: batch-rule\n"
        "deployments:\n"
        "  main:\n"
        "    model: llama-3.1-8b\n"
        "    gpu: h100-sxm\n"
        f"{scheduler}"
        "fleet: {replications: 1}\n"
        "workload:\n"
        "  classes:\n"
        "    chat:\n"
        "      arrival: {process: poisson, rate_per_s: 2.0}\n"
        "      prompt_tokens: {dist: fixed, tokens: 500}\n"
        "      output_tokens: {dist: fixed, tokens: 100}\n"
        "    nightly:\n"
        "      arrival: {process: poisson, rate_per_s: 2.0}\n"
        "      prompt_tokens: {dist: fixed, tokens: 500}\n"
        "      output_tokens: {dist: fixed, tokens: 100}\n"
        "      deadline_s: 86400\n"
        "horizon: {simulated_s: 20}\n",
        encoding="utf-8",
    )
    loaded = load_scenario(path)
    result = run_loaded(loaded, load_external_data(loaded.scenario, loaded.base_dir))
    rows = assumptions_table(loaded, result).rows
    row = next(r for r in rows if r[0] == "main: batch slowdown cap")
    assert row[1] == value and row[3] == source
