"""Running points: serving results shipped to workers, the cache kept, failures reported."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import infersim.pipeline.run as pipeline_run
from infersim.analysis.execute import (
    CHUNKS_PER_WORKER,
    MAX_CHUNK_POINTS,
    Execution,
    chunk_points,
    process_context,
    run_points,
)
from infersim.analysis.runs import BoundedCache, Chunk, Point, WorkerState, load_source
from infersim.errors import ConfigError
from infersim.serving.result import ServingResult

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCENARIO = CONFIGS / "claims/s5-subscription-heavy-tail.yaml"
METRICS = ["pnl.gross_margin_usd", "serving.mfu", "projection.cumulative_cash_usd"]
#: Two months of a small population on a self-hosted fleet (a serving simulation a month).
SMALL = (
    (("workload", "users", "plus", "users"), 20_000),
    (("horizon", "months"), 2),
    (("fleet", "max_simulated_requests"), 500),
)


def point(price: float, extra: tuple[tuple[Any, Any], ...] = ()) -> Point:
    return Point((*SMALL, (("pricing", "plans", "plus", "price_usd_per_month"), price), *extra))


def test_bounded_cache_drops_the_least_recently_used() -> None:
    cache = BoundedCache(2)
    a, b, c = (ServingResult.__new__(ServingResult) for _ in range(3))
    cache["a"], cache["b"] = a, b
    assert cache["a"] is a  # used: now the most recent
    cache["c"] = c
    assert list(cache) == ["a", "c"]


def test_a_chunk_brings_the_parents_serving_results(monkeypatch: pytest.MonkeyPatch) -> None:
    context = load_source(SCENARIO).context(METRICS)
    parent = WorkerState()
    serving = parent.first_month_serving(context, point(20.0))
    assert len(serving) == 1  # the first month only
    expected = parent.run_point(context, point(25.0))

    simulated: list[str] = []
    real = pipeline_run.simulate

    def counting(*args: Any, **kwargs: Any) -> ServingResult:
        simulated.append("one")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_run, "simulate", counting)
    worker = WorkerState()
    result = worker.run_chunk(Chunk(context, (point(25.0),), serving))
    assert result.failure is None
    assert result.metrics == (expected,)
    assert len(simulated) == 1  # the second month; the first came with the chunk


@pytest.mark.parametrize("bad", [0, 5])
def test_local_processes_report_a_failing_point(bad: int) -> None:
    """Whichever process runs the bad point (this one runs the first chunks)."""
    context = load_source(SCENARIO).context(METRICS)
    points = [point(20.0 + i) for i in range(6)]
    points[bad] = point(20.0, ((("horizon", "months"), 0),))
    with pytest.raises(ConfigError, match="months"):
        run_points(context, points, Execution(2))


def test_local_processes_match_serial_with_serving() -> None:
    context = load_source(SCENARIO).context(METRICS)
    points = [point(20.0 + i) for i in range(5)]
    assert run_points(context, points, Execution(2)) == run_points(context, points)


@pytest.mark.parametrize("count", [1, 2, 5, 31, 32, 33, 100, 1000, 5000])
@pytest.mark.parametrize("workers", [2, 3, 16])
def test_chunks_keep_the_points_in_order_and_end_one_by_one(count: int, workers: int) -> None:
    points = [Point(label=f"sample {i}") for i in range(count)]
    chunks = chunk_points(points, workers)
    assert [p for chunk in chunks for p in chunk] == points
    assert all(1 <= len(chunk) <= MAX_CHUNK_POINTS for chunk in chunks)
    size = max(len(chunk) for chunk in chunks)
    # the points of the last `workers` chunks of the largest size go one by one
    singles = [chunk for chunk in chunks[-min(count, workers * size) :] if len(chunk) == 1]
    assert len(singles) == min(count, workers * size)
    # before them, chunks of one size: about CHUNKS_PER_WORKER a worker, as many points as fit
    head = chunks[: len(chunks) - len(singles)]
    assert all(len(chunk) == size for chunk in head[:-1])
    assert size == min(MAX_CHUNK_POINTS, -(-count // (workers * CHUNKS_PER_WORKER)))


@pytest.fixture
def another_thread() -> Iterator[None]:
    """A second thread runs (as the CLI's progress bar does) while the test does."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.mark.skipif(
    multiprocessing.get_all_start_methods()[0] != "fork", reason="fork is not the default here"
)
def test_workers_are_forked_when_no_other_thread_runs() -> None:
    if threading.active_count() > 1:  # left by an earlier test (a Dask cluster's)
        pytest.skip("another thread runs in this test process")
    assert process_context().get_start_method() == "fork"


@pytest.mark.usefixtures("another_thread")
def test_workers_are_spawned_when_another_thread_runs() -> None:
    assert process_context().get_start_method() == "spawn"


@pytest.mark.usefixtures("another_thread")
def test_spawned_processes_match_serial() -> None:
    context = load_source(SCENARIO).context(METRICS)
    points = [point(20.0 + i) for i in range(5)]
    assert run_points(context, points, Execution(2)) == run_points(context, points)
