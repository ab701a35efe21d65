"""Simulating every request ("des") against a representative sample scaled up ("sampled"):
where both can run they agree, and the result says which ran, how many events it took, and
gives 95% confidence intervals over replications.

The same scenario runs once with `max_simulated_requests` above its request count and once
below it, so the sampled run simulates k of the 8 replicas (and, for the tightest limit, a
window of the horizon; a sample keeps at least 4 replicas, for the load balancer's pooling).
Tolerances, relative to the des figure:

| figure                                  | k = 4 of 8 | k = 4, window |
|-----------------------------------------|------------|---------------|
| requests, output tokens/s               | 5%         | 5%            |
| GPU-hours busy / provisioned            | 5%         | 15% / 10%     |
| TPOT p50, e2e p50                       | 5%         | 8%            |
| TTFT p50, TPOT p99, e2e p99             | 15%        | -             |
| TTFT p99                                | 25%        | -             |

Tails are looser: a sampled replica loses part of the load balancer's pooling across the
fleet, so its queueing tail is somewhat heavier. A window's GPU-hours are looser: the drain
after the window (the last requests finishing at small batches) is scaled up with it.
"""

from __future__ import annotations

from functools import cache

import pytest
from serving_helpers import CATALOG, scenario

from infersim.serving.result import DeploymentServing
from infersim.serving.simulate import simulate
from infersim.serving.summary import INTERVAL_METRICS

PROMPT = {"dist": "lognormal", "mean_tokens": 1000, "sigma": 0.6}
OUTPUT = {"dist": "lognormal", "mean_tokens": 250, "sigma": 0.6}
REPLICAS = 8
RATE_PER_S = 95.0  # ~60% of 8 replicas' capacity (19.7 requests/s each): ~5,700 requests
HORIZON_S = 60.0
ALL = 10_000_000
SEVERAL = 3_000  # 4 of 8 replicas, the whole horizon
ONE_WINDOW = 1_500  # 4 of 8 replicas (the fewest a sample keeps), about half the horizon


@cache
def fleet_run(limit: int, replications: int = 3, seed: int = 1) -> DeploymentServing:
    s = scenario(
        rate_per_s=RATE_PER_S,
        horizon_s=HORIZON_S,
        seed=seed,
        prompt=PROMPT,
        output=OUTPUT,
        deployment={"replicas": REPLICAS},
        fleet={"max_simulated_requests": limit, "replications": replications},
    )
    return simulate(s, catalog=CATALOG).deployments[0]


def figures(d: DeploymentServing) -> dict[str, float | None]:
    return {
        "requests": d.requests,
        "gpu_hours_busy": d.gpu_hours_busy,
        "gpu_hours_provisioned": d.gpu_hours_provisioned,
        "output_tokens_per_s": d.output_tokens_per_s,
        "ttft_p50": d.ttft_s.p50,
        "ttft_p99": d.ttft_s.p99,
        "tpot_p50": d.tpot_s.p50,
        "tpot_p99": d.tpot_s.p99,
        "e2e_p50": d.e2e_s.p50,
        "e2e_p99": d.e2e_s.p99,
    }


def assert_agree(sampled: DeploymentServing, tolerances: dict[str, float]) -> None:
    exact, approx = figures(fleet_run(ALL)), figures(sampled)
    for name, rel in tolerances.items():
        assert approx[name] == pytest.approx(exact[name], rel=rel), name


@pytest.mark.parametrize("seed", [1, 2])
def test_sampling_several_replicas_agrees_with_simulating_all(seed: int) -> None:
    exact, sampled = fleet_run(ALL, seed=seed), fleet_run(SEVERAL, seed=seed)
    assert exact.mode == "des" and sampled.mode == "sampled"
    assert sampled.mode_detail.startswith("4 of 8 replicas, 60 of 60 s")
    close = dict.fromkeys(
        ["requests", "gpu_hours_busy", "gpu_hours_provisioned", "output_tokens_per_s"], 0.05
    )
    tolerances = {
        **close,
        "tpot_p50": 0.05,
        "e2e_p50": 0.05,
        "ttft_p50": 0.15,
        "tpot_p99": 0.15,
        "e2e_p99": 0.15,
        "ttft_p99": 0.25,
    }
    one, other = figures(exact), figures(sampled)
    for name, rel in tolerances.items():
        assert other[name] == pytest.approx(one[name], rel=rel), name


def test_sampling_replicas_over_a_window_agrees_on_totals_and_medians() -> None:
    sampled = fleet_run(ONE_WINDOW)
    assert sampled.mode == "sampled"
    assert sampled.mode_detail.startswith("4 of 8 replicas, 3")
    assert sampled.scale > REPLICAS / 4  # half the replicas' traffic over part of the horizon
    tolerances = {
        "requests": 0.05,
        "output_tokens_per_s": 0.05,
        "gpu_hours_busy": 0.15,
        "gpu_hours_provisioned": 0.10,
        "tpot_p50": 0.08,
        "e2e_p50": 0.08,
    }
    assert_agree(sampled, tolerances)


def test_sampling_keeps_the_ttft_tail() -> None:
    # a sample keeps at least 4 replicas behind the load balancer, so the queueing tail of one
    # replica fed 1/R of the traffic (30-60% too high) does not appear
    assert_agree(fleet_run(ONE_WINDOW), {"ttft_p99": 0.25})


def test_result_states_the_mode_and_the_events() -> None:
    exact, sampled = fleet_run(ALL), fleet_run(SEVERAL)
    assert exact.mode == "des"
    assert exact.scale == 1.0
    assert exact.mode_detail == "all replicas, all requests"
    assert exact.simulated_requests == pytest.approx(3 * exact.requests, abs=0.5)
    assert sampled.mode == "sampled"
    assert sampled.scale > 1.0
    assert sampled.simulated_requests < 0.6 * exact.simulated_requests  # 4 of 8 replicas
    assert sampled.simulated_requests * sampled.scale / 3 == pytest.approx(
        sampled.requests, rel=1e-9
    )
    for d in (exact, sampled):  # an arrival and at least one iteration per request
        assert d.events > d.simulated_requests
    assert sampled.events < exact.events / 2


def test_replications_give_intervals_around_the_mean() -> None:
    d = fleet_run(ALL)
    assert set(d.intervals) == set(INTERVAL_METRICS)
    for name, interval in d.intervals.items():
        assert interval.low is not None and interval.high is not None, name
        assert interval.low <= interval.mean <= interval.high, name
        if name == "gpu_hours_busy" and interval.mean == d.gpu_hours_scheduled:
            continue  # every replica busy all its paid time in every run: no spread
        assert interval.low < interval.high, name
    assert d.intervals["gpu_hours_busy"].mean == pytest.approx(d.gpu_hours_busy)
    assert d.intervals["output_tokens_per_s"].mean == pytest.approx(d.output_tokens_per_s)


def test_sampled_runs_have_intervals_too() -> None:
    d = fleet_run(SEVERAL)
    for name in ("gpu_hours_busy", "output_tokens_per_s"):
        interval = d.intervals[name]
        assert interval.low is not None and interval.high is not None
        assert interval.low <= interval.mean <= interval.high


def test_one_replication_has_no_interval_bounds() -> None:
    d = fleet_run(ALL, replications=1)
    assert d.intervals
    for interval in d.intervals.values():
        assert interval.low is None and interval.high is None


def test_throughput_interval_covers_the_offered_rate() -> None:
    """Below capacity every token offered is served: the 95% interval over 5 replications
    holds rate x mean output tokens."""
    d = simulate(
        scenario(
            rate_per_s=10,
            horizon_s=60,
            prompt=PROMPT,
            output=OUTPUT,
            fleet={"replications": 5},
        ),
        catalog=CATALOG,
    ).deployments[0]
    interval = d.intervals["output_tokens_per_s"]
    assert interval.low is not None and interval.high is not None
    assert interval.low <= 10 * 250 <= interval.high
    assert interval.high - interval.low < 0.2 * interval.mean


DAY_WEIGHTS = [0.2] * 6 + [0.5, 1, 1.5, 2, 2, 2, 2, 2, 2, 1.5, 1.5, 1, 1, 0.8, 0.6, 0.4, 0.3, 0.2]


@cache
def autoscaled_day(limit: int) -> DeploymentServing:
    """A diurnal day of ~19k long-output requests, autoscaled between 1 and 4 replicas."""
    s = scenario(
        rate_per_s=1,
        horizon_s=86_400,
        prompt={"dist": "fixed", "tokens": 500},
        output={"dist": "fixed", "tokens": 2000},
        deployment={"max_batch_sequences": 2},
        arrival={"process": "diurnal", "mean_rate_per_s": 0.22, "hourly_weights": DAY_WEIGHTS},
        fleet={
            "mode": "autoscale",
            "autoscale": {"target_utilization": 0.8},
            "max_simulated_requests": limit,
        },
    )
    return simulate(s, catalog=CATALOG).deployments[0]


def test_sampled_autoscaling_serves_the_same_traffic() -> None:
    exact, sampled = autoscaled_day(ALL), autoscaled_day(5_000)
    assert exact.mode == "des" and sampled.mode == "des"  # an autoscaled fleet runs whole
    assert "autoscaling: over max_simulated_requests" in sampled.mode_detail
    assert sampled.requests == pytest.approx(exact.requests, rel=0.03)
    assert sampled.output_tokens == pytest.approx(exact.output_tokens, rel=0.03)
    assert sampled.replicas == exact.replicas
    for name in ("tpot_p50", "e2e_p50"):
        assert figures(sampled)[name] == pytest.approx(figures(exact)[name], rel=0.05), name


def test_sampled_autoscaling_provisions_the_same_gpu_hours() -> None:
    exact, sampled = autoscaled_day(ALL), autoscaled_day(5_000)
    assert sampled.gpu_hours_provisioned == pytest.approx(exact.gpu_hours_provisioned, rel=0.10)
    assert sampled.gpu_hours_busy == pytest.approx(exact.gpu_hours_busy, rel=0.10)
