"""The engine against queueing theory: M/D/1 and M/M/1 (Pollaczek-Khinchine), Little's law.

One replica with max_batch_sequences = 1 is a single server: a request's service is its
prefill plus its decode steps, and it waits while another is served.
"""

from __future__ import annotations

import numpy as np
import pytest
from serving_helpers import CATALOG, scenario

from infersim.perf import build_perf_model
from infersim.scenario.deployment import SelfHosted
from infersim.serving.cluster import ReplicaSchedule, run_cluster
from infersim.workload.stream import build_requests
from infersim.workload.trace import ExternalData

SINGLE = {"max_batch_sequences": 1, "chunked_prefill": False}


def single_server_run(output_tokens: np.ndarray | None, rho: float, seed: int, n: int = 30_000):
    """Waits and services of a single-server run at utilization rho."""
    s = scenario(rate_per_s=1.0, deployment=SINGLE)
    dep = s.deployments["main"]
    assert isinstance(dep, SelfHosted)
    perf = build_perf_model(dep, CATALOG)
    rng = np.random.default_rng(seed)
    outputs = output_tokens if output_tokens is not None else np.full(n, 50)
    prompts = np.full(n, 100)
    # the exact service time of each request alone on the replica
    step_ctx = prompts[:, None] + 1 + np.arange(int(outputs.max()))[None, :]
    steps = perf.iteration_times_s(0.0, 0.0, 1, step_ctx.astype(float))
    mask = np.arange(steps.shape[1])[None, :] < (outputs - 1)[:, None]
    prefill = perf.iteration_time_s(100, 100 * 101 // 2, 0, 0)
    service = prefill + (steps * mask).sum(axis=1)
    rate = rho / service.mean()
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    run = run_cluster(
        perf, arrivals, prompts.astype(np.int64), outputs.astype(np.int64),
        np.zeros(n, dtype=np.int64), ReplicaSchedule([0.0], [1]), "round_robin", False,
        float(arrivals[-1]),
    )  # fmt: skip
    table = run.table
    wait = np.asarray(table.admit_s) - arrivals
    served = np.asarray(table.finish_s) - np.asarray(table.admit_s)
    return rate, wait[n // 10 :], service, served


@pytest.mark.parametrize("seed", [1, 2])
def test_deterministic_service_matches_md1(seed: int) -> None:
    rho = 0.7
    _, wait, service, served = single_server_run(None, rho, seed)
    assert served == pytest.approx(service, rel=1e-9)  # service is exactly the model's
    expected = rho * service[0] / (2 * (1 - rho))  # Pollaczek-Khinchine, deterministic S
    assert wait.mean() == pytest.approx(expected, rel=0.08)


def test_md1_mean_wait_over_replications_within_5_percent() -> None:
    rho = 0.7
    waits = [single_server_run(None, rho, seed, n=20_000)[1].mean() for seed in range(10, 16)]
    _, _, service, _ = single_server_run(None, rho, 10, n=10)
    expected = rho * service[0] / (2 * (1 - rho))
    assert np.mean(waits) == pytest.approx(expected, rel=0.05)


def test_exponential_service_matches_mm1() -> None:
    rho = 0.6
    lengths = np.random.default_rng(70)  # independent of the arrivals' generator
    outputs = lengths.geometric(1 / 60, 40_000)  # memoryless lengths: S nearly exponential
    rate, wait, service, _ = single_server_run(outputs, rho, 7, n=40_000)
    cv2 = service.var() / service.mean() ** 2
    assert cv2 == pytest.approx(1.0, abs=0.05)
    pk = rate * np.mean(service**2) / (2 * (1 - rho))  # M/G/1 with the realised moments
    mm1 = rho / (1 - rho) * service.mean()
    assert wait.mean() == pytest.approx(pk, rel=0.08)
    assert wait.mean() == pytest.approx(mm1, rel=0.10)


def test_littles_law_holds() -> None:
    from infersim.serving.simulate import simulate

    s = scenario(
        rate_per_s=6.0,
        prompt={"dist": "lognormal", "mean_tokens": 800, "sigma": 0.8},
        output={"dist": "lognormal", "mean_tokens": 200, "sigma": 0.7},
        horizon_s=900,
    )
    rng = np.random.default_rng(3)
    stream = build_requests(s, ExternalData(), 900, rng)
    dep = s.deployments["main"]
    assert isinstance(dep, SelfHosted)
    perf = build_perf_model(dep, CATALOG)
    run = run_cluster(
        perf, stream.time_s, stream.prompt_tokens, stream.output_tokens, stream.cached_tokens,
        ReplicaSchedule([0.0], [1]), "round_robin", True, 900.0,
    )  # fmt: skip
    arrival = np.asarray(run.table.arrival_s)
    finish = np.asarray(run.table.finish_s)
    probes = np.random.default_rng(4).uniform(100, 800, 20_000)
    in_system = np.searchsorted(np.sort(arrival), probes) - np.searchsorted(np.sort(finish), probes)
    window = (arrival >= 100) & (arrival < 800)
    lam = window.sum() / 700
    assert in_system.mean() == pytest.approx(lam * (finish - arrival)[window].mean(), rel=0.05)
    served = simulate(s).deployments[0]
    assert served.completed == served.requests > 0
