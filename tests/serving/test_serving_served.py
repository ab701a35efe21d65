"""What the fleet served against what it was offered, busy GPU time against paid time, and
the verdict (overloaded, rejected, SLO missed, ok).

Served figures equal the offered ones exactly when the fleet keeps up; past capacity they are
the fleet's measured service rate over the simulated time. Busy GPU-hours never exceed the
GPU-hours a steady month bills (the scheduled fleet over the simulated time), whatever the
mode or the load.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import CATALOG, scenario

from infersim.perf import build_perf_model, steady_state_throughput
from infersim.report.serving import serving_json, serving_tables
from infersim.scenario.deployment import SelfHosted, Slo
from infersim.scenario.model import Scenario
from infersim.serving import cluster
from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import simulate
from infersim.serving.verdict import judge, queue_grows

LOAD = re.compile(r"^overloaded: arrival rate (\d+(?:\.\d+)?)x capacity \(")
SERVED_FIELDS = ("requests", "input_tokens", "cached_input_tokens", "output_tokens")


def served(s: Scenario, seed: int | None = None) -> DeploymentServing:
    return simulate(s, seed=seed, catalog=CATALOG).deployments[0]


def capacity_rps(prompt_tokens: int, output_tokens: int, **deployment: Any) -> float:
    dep = SelfHosted.model_validate({"model": "llama-3.1-8b", "gpu": "h100-sxm", **deployment})
    point = steady_state_throughput(build_perf_model(dep, CATALOG), prompt_tokens, output_tokens)
    return point.output_tokens_per_s / output_tokens


def two_classes(rate_per_s: float, **fleet: Any) -> Scenario:
    """Two classes of different lengths on one deployment, in one scenario."""
    base = scenario(rate_per_s=rate_per_s, horizon_s=60, fleet=fleet)
    data = base.model_dump(mode="json")
    data["workload"]["classes"]["long"] = {
        "arrival": {"process": "poisson", "rate_per_s": rate_per_s / 4},
        "prompt_tokens": {"dist": "lognormal", "mean_tokens": 800, "sigma": 0.5},
        "output_tokens": {"dist": "lognormal", "mean_tokens": 200, "sigma": 0.5},
        "cached_prefix_share": 0.3,
    }
    data["deployments"]["main"]["prefix_caching"] = {"cached_share": 0.2}
    return Scenario.model_validate(data)


def served_of(d: Any, field: str) -> float:
    return float(getattr(d, "served_" + field))


def offered_of(d: Any, field: str) -> float:
    return float(getattr(d, "offered_requests" if field == "requests" else field))


# ------------------------------------------------------------------------------ served figures
@pytest.mark.parametrize("replications", [1, 3])
def test_served_equals_offered_exactly_when_the_fleet_keeps_up(replications: int) -> None:
    d = served(two_classes(20.0, replications=replications))
    assert d.verdict_kind == "ok" and d.verdict is None
    assert d.completed == d.requests
    for field in SERVED_FIELDS:
        assert served_of(d, field) == getattr(d, field)  # exact, not approximately
        for c in d.classes:
            assert served_of(c, field) == offered_of(c, field)
    assert d.unserved_requests == d.unserved_input_tokens == d.unserved_output_tokens == 0.0
    assert d.cached_input_tokens > 0


def test_deployment_figures_are_exactly_the_sum_of_the_classes() -> None:
    for d in (served(two_classes(20.0)), served(two_classes(600.0))):
        assert len(d.classes) == 2
        for field in SERVED_FIELDS:
            assert served_of(d, field) == math.fsum(served_of(c, field) for c in d.classes)
            assert getattr(d, field) == math.fsum(offered_of(c, field) for c in d.classes)


def test_offered_output_counts_every_request_served_or_not() -> None:
    s = scenario(rate_per_s=3 * capacity_rps(100, 50), horizon_s=60)
    d = served(s)
    assert d.output_tokens == d.requests * 50  # fixed lengths: every request's output
    assert d.input_tokens == d.requests * 100
    assert d.served_output_tokens < d.output_tokens


@pytest.mark.parametrize("load", [1.5, 3.0])  # drained after the window / stopped early
def test_an_overloaded_fleet_serves_its_capacity_not_the_demand(load: float) -> None:
    cap = capacity_rps(100, 50)
    d = served(scenario(rate_per_s=load * cap, horizon_s=60))
    assert d.verdict_kind == "overloaded"
    assert d.served_requests < d.requests and d.unserved_requests > 0
    assert d.served_output_tokens < d.output_tokens and d.unserved_output_tokens > 0
    assert d.unserved_input_tokens == d.input_tokens - d.served_input_tokens > 0
    served_rps = d.served_requests / d.simulated_s
    assert served_rps == pytest.approx(cap, rel=0.15)
    assert d.load_factor == pytest.approx(d.requests / d.served_requests)
    match = LOAD.match(d.verdict or "")
    assert match is not None, d.verdict
    assert float(match.group(1)) == pytest.approx(load, rel=0.2)


def test_a_run_stopped_early_scales_its_service_rate_to_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog limit low enough to stop the run early (at ~40 s of 60): its served figures
    are its service rate up to the cut-off (requests in flight counted by the share of their
    output emitted), over the whole window; about the drained run's."""
    s = scenario(rate_per_s=2 * capacity_rps(100, 50), horizon_s=60)
    drained = served(s)
    monkeypatch.setattr(cluster, "OVERLOAD_BACKLOG_PER_REPLICA", 8_000)
    stopped = served(s)
    assert stopped.completed < 0.5 * stopped.requests  # it did stop early
    assert stopped.verdict_kind == drained.verdict_kind == "overloaded"
    assert stopped.served_requests == pytest.approx(drained.served_requests, rel=0.15)
    assert stopped.gpu_hours_busy <= stopped.gpu_hours_scheduled


def test_twenty_replicas_serve_more_of_an_overloaded_demand_than_one() -> None:
    rate = 30 * capacity_rps(100, 50)
    one = served(scenario(rate_per_s=rate, horizon_s=20))
    many = served(scenario(rate_per_s=rate, horizon_s=20, deployment={"replicas": 20}))
    assert one.requests == many.requests
    assert one.verdict_kind == many.verdict_kind == "overloaded"
    assert many.served_requests > 10 * one.served_requests
    assert many.served_output_tokens > 10 * one.served_output_tokens
    assert many.served_requests <= many.requests


# ------------------------------------------------------------------------------ busy <= paid
@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    load=st.floats(0.1, 6.0),
    replicas=st.integers(1, 12),
    limit=st.sampled_from([100, 400, 10_000_000]),
    horizon_s=st.floats(5, 60),
    output_mean=st.integers(5, 200),
    autoscale=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_busy_gpu_hours_never_exceed_the_paid_ones(
    load: float,
    replicas: int,
    limit: int,
    horizon_s: float,
    output_mean: int,
    autoscale: bool,
    seed: int,
) -> None:
    rate = load * replicas * capacity_rps(200, output_mean)
    fleet: dict[str, Any] = {"max_simulated_requests": limit, "replications": 2}
    if autoscale:
        fleet |= {"mode": "autoscale", "autoscale": {"interval_s": horizon_s / 3}}
    s = scenario(
        rate_per_s=rate,
        horizon_s=horizon_s,
        seed=seed,
        prompt={"dist": "lognormal", "mean_tokens": 200, "sigma": 0.8, "max_tokens": 4000},
        output={"dist": "lognormal", "mean_tokens": output_mean, "sigma": 0.8, "max_tokens": 4000},
        deployment={"replicas": replicas},
        fleet=fleet,
    )
    d = served(s)
    assert 0 < d.gpu_hours_busy <= d.gpu_hours_scheduled <= d.gpu_hours_provisioned
    assert 0 < d.busy_share <= 1
    assert 0 <= d.served_requests <= d.requests
    assert 0 <= d.served_output_tokens <= d.output_tokens
    assert math.isfinite(d.load_factor) and d.load_factor >= 0


def test_a_sampled_overloaded_fleet_is_never_busier_than_paid() -> None:
    """The reported case: a window of the horizon, overloaded, draining long after it (its
    drain scaled up with the window used to bill busy hours 3x the scheduled ones)."""
    s = scenario(
        rate_per_s=8 * 3 * capacity_rps(100, 50),
        horizon_s=120,
        deployment={"replicas": 8},
        fleet={"max_simulated_requests": 20_000, "replications": 2},
    )
    d = served(s)
    assert d.mode == "sampled" and d.verdict_kind == "overloaded"
    assert d.gpu_hours_busy <= d.gpu_hours_scheduled <= d.gpu_hours_provisioned
    assert d.busy_share <= 1


# ------------------------------------------------------------------------------ verdict
def test_queue_growth_is_seen_through_rejected_requests() -> None:
    """A rejected request has no admission time: it must not hide a growing queue."""
    n = 1000
    arrival = np.arange(n, dtype=np.float64)
    admit = arrival + 0.5 * arrival  # each request waits longer than the one before
    admit[::50] = np.nan  # some rejected
    assert queue_grows(arrival, admit)
    assert not queue_grows(arrival, arrival + 1.0)


def test_rejected_requests_make_a_verdict_of_their_own() -> None:
    """Prompts longer than the KV cache of a replica (gpu_memory_utilization 0.25, ~13k
    tokens) never fit: rejected, not served, and said so."""
    s = scenario(
        rate_per_s=2,
        horizon_s=60,
        deployment={"gpu_memory_utilization": 0.25},
        prompt={"dist": "uniform", "low_tokens": 100, "high_tokens": 16_000},
    )
    d = served(s)
    assert d.rejected > 0
    assert d.verdict_kind == "rejected"
    assert d.verdict is not None and d.verdict.startswith("rejected: ")
    assert "KV cache" in d.verdict
    assert d.served_requests == d.requests - d.rejected
    assert d.unserved_requests == d.rejected


def test_slo_attainment_below_target_misses_the_slo() -> None:
    """TTFT bound at the measured p99: the percentile passes, ~1% of requests miss it. A
    90% target passes; a 100% target does not."""
    base = scenario(rate_per_s=0.8 * capacity_rps(100, 50), horizon_s=60)
    p99 = served(base).ttft_s.p99
    assert p99 is not None

    def with_slo(**slo: Any) -> DeploymentServing:
        fleet = base.fleet.model_copy(update={"slo": Slo.model_validate(slo)})
        return served(base.model_copy(update={"fleet": fleet}))

    lenient = with_slo(ttft_p99_s=p99 * 1.000001)
    strict = with_slo(ttft_p99_s=p99 * 1.000001, attainment_target=1.0)
    assert lenient.slo_met_share is not None and 0.98 < lenient.slo_met_share < 1
    assert lenient.verdict_kind == "ok"
    assert strict.verdict_kind == "slo_missed"
    assert (
        strict.verdict
        == f"SLO missed: {strict.slo_met_share:.0%} of requests within SLO (target 100%)"
    )


def test_a_missed_percentile_misses_the_slo() -> None:
    d = served(
        scenario(
            rate_per_s=0.5 * capacity_rps(100, 50),
            horizon_s=30,
            fleet={"slo": {"ttft_p99_s": 1e-4, "tpot_p99_s": 10}},
        )
    )
    assert d.verdict_kind == "slo_missed"
    assert d.verdict is not None and "TTFT p99" in d.verdict and "within SLO" in d.verdict


def test_an_overloaded_fleet_says_overloaded_and_slo_missed() -> None:
    """The reported case: TTFT p99 in the thousands of seconds and a quarter of requests
    within the SLO must not read 'ok'."""
    d = served(
        scenario(
            rate_per_s=2 * capacity_rps(100, 50),
            horizon_s=600,
            fleet={"slo": {"ttft_p99_s": 2.0, "tpot_p99_s": 0.1}},
        )
    )
    assert d.verdict_kind == "overloaded"
    assert d.slo_met_share is not None and d.slo_met_share < 0.9
    assert d.verdict is not None and LOAD.match(d.verdict)
    assert "SLO missed" in d.verdict and "infx" not in d.verdict


def test_nothing_served_says_so_with_a_finite_factor() -> None:
    sample = SimpleNamespace(
        overloaded=True,
        rejected=0,
        scale=1.0,
        simulated_requests=10,
        measured=np.ones(10, dtype=bool),
        judged=np.ones(10, dtype=bool),
        batch=np.zeros(10, dtype=bool),
        on_time=np.zeros(10, dtype=bool),
        ttft_s=np.full(10, np.nan),
        tpot_s=np.full(10, np.nan),
        slo_met=np.zeros(10, dtype=bool),
    )
    verdict = judge(Slo(), [sample], offered_rps=5.0, served_rps=0.0, capacity_rps=2.0)  # type: ignore[list-item]
    assert verdict.kind == "overloaded"
    assert verdict.load_factor == 2.5
    assert verdict.message is not None and "no request served" in verdict.message


# ------------------------------------------------------------------------------ report
def test_report_states_the_verdict_kind_and_the_sequence_cap() -> None:
    result = simulate(scenario(rate_per_s=5, horizon_s=10), catalog=CATALOG)
    d = result.deployments[0]
    data = serving_json(result)["deployments"]["main"]
    assert data["verdict_kind"] == "ok" and data["served_requests"] == d.served_requests
    assert data["max_batch_sequences"] == d.max_batch_sequences > 256
    assert data["max_batch_sequences_source"] == "token_budget"
    table = next(t for t in serving_tables(result, "t") if "serving capacity" in t.title)
    assert f"at most {d.max_batch_sequences:,} sequences per replica (token budget)" in (
        table.caption or ""
    )
