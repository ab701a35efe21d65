"""Mixed fleets in the engine: pools of different GPU types in one deployment, each replica
at its own GPU's model, and cheapest-first routing with spill-over to the dearer pool."""

from __future__ import annotations

import numpy as np
import pytest
from serving_helpers import scenario

from infersim.catalog.load import load_builtin
from infersim.perf import PerfModel, build_perf_model
from infersim.scenario.deployment import SelfHosted
from infersim.serving.cluster import ClusterRun, ReplicaSchedule, run_cluster
from infersim.serving.pool_routing import PoolSpan, cheapest_first

CATALOG = load_builtin()


def _perf(gpu: str, max_batch_sequences: int) -> PerfModel:
    dep = scenario(rate_per_s=1.0, deployment={"gpu": gpu}).deployments["main"]
    assert isinstance(dep, SelfHosted)
    dep = dep.model_copy(update={"max_batch_sequences": max_batch_sequences})
    return build_perf_model(dep, CATALOG)


def _run(rate_per_s: float, n: int = 4_000, seed: int = 3) -> tuple[ClusterRun, list[PoolSpan]]:
    """Two A100 replicas (the cheap pool, listed second) and two H100 replicas."""
    h100, a100 = _perf("h100-sxm", 8), _perf("a100-sxm-80gb", 8)
    pools = [PoolSpan("h100", 0, 2, 3.0, 8), PoolSpan("a100", 2, 4, 1.5, 8)]
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate_per_s, n))
    prompts = np.full(n, 200, dtype=np.int64)
    outputs = rng.integers(50, 400, n).astype(np.int64)
    run = run_cluster(
        h100, arrivals, prompts, outputs, np.zeros(n, dtype=np.int64),
        ReplicaSchedule([0.0], [4]), "least_outstanding", True, float(arrivals[-1]),
        replica_perfs=[h100, h100, a100, a100], chooser=cheapest_first(pools),
    )  # fmt: skip
    return run, pools


def _busy_s(run: ClusterRun, pool: PoolSpan) -> float:
    return sum(r.stats.busy_s for r in run.replicas[pool.start : pool.stop])


def test_light_load_stays_on_the_cheap_pool() -> None:
    run, (h100, a100) = _run(rate_per_s=0.5)
    assert _busy_s(run, h100) == 0.0
    assert _busy_s(run, a100) > 0.0
    assert all(np.isfinite(run.table.finish_s))  # every request served


def test_heavy_load_spills_over_and_the_cheap_pool_works_most() -> None:
    run, (h100, a100) = _run(rate_per_s=40.0)
    assert run.overloaded_at_s is None
    assert all(np.isfinite(run.table.finish_s))
    cheap, dear = _busy_s(run, a100), _busy_s(run, h100)
    assert dear > 0.0  # the cheap pool saturated: the rest spilled to the dearer one
    # per replica, the cheap pool is busy at least as long as the dearer one
    assert cheap / 2 >= dear / 2 * 0.999
    for replica in run.replicas:  # busy <= paid, per replica
        assert replica.stats.busy_s <= run.end_s + 1e-9


def test_each_replica_runs_its_own_gpu_model() -> None:
    run, _ = _run(rate_per_s=0.5, n=50)
    assert [r.perf.gpu_id for r in run.replicas] == [
        "h100-sxm", "h100-sxm", "a100-sxm-80gb", "a100-sxm-80gb"
    ]  # fmt: skip


def test_replica_perfs_refused_for_a_disaggregated_fleet() -> None:
    perf = _perf("h100-sxm", 8)
    with pytest.raises(ValueError, match="replica_perfs"):
        run_cluster(
            perf, np.zeros(1), np.ones(1, dtype=np.int64), np.ones(1, dtype=np.int64),
            np.zeros(1, dtype=np.int64), ReplicaSchedule([0.0], [2]), "round_robin", True,
            1.0, prefill_replicas=1, replica_perfs=[perf, perf],
        )  # fmt: skip
