"""Running points: serving results shipped to workers, the cache kept, failures reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import infersim.pipeline.run as pipeline_run
from infersim.analysis.execute import Execution, run_points
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
