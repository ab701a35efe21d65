"""Run an analysis's points: serially, on local processes, or on an existing Dask cluster.

- `jobs` 1 (the default): in this process, in order;
- `jobs` N > 1 (0: one per CPU): N local processes: this one, running chunks in a thread,
  and N - 1 started ones (`process_context`: forked where that is the platform's default and
  this process runs no other thread, so that they inherit the imported modules; spawned
  otherwise);
- `executor` 'dask' with `scheduler` ADDRESS: tasks on that cluster (the optional
  `distributed` package, `pip install 'infersim[dask]'`). Workers need infersim installed and
  the scenario's files (traces, catalog directories) at the same paths.

Points travel in chunks, the last ones single points so that the processes finish together
(`chunk_points`): the shared context (the scenario document, a few KB) and each
point's paths and values. A worker rebuilds the catalog and keeps its serving simulations
across the chunks of an analysis (`runs.WorkerState`). Before sending any chunk, the parent
simulates the first point's first month (while local workers start; unless its caches have
it already, e.g. from the run `run --samples` makes first) and sends its serving results with
every chunk: points that share them (Monte Carlo samples whose months serve the same traffic)
are not simulated again on each worker. Each point runs with its scenario's
seed, so the results, returned in the points' order, are the same whatever the executor, the
number of jobs or the chunking.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import multiprocessing.context
import os
import queue
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from infersim.analysis import AnalysisError
from infersim.analysis.runs import (
    Chunk,
    ChunkResult,
    Metrics,
    Point,
    RunContext,
    ServingEntries,
    WorkerState,
    prepare,
    run_chunk,
)

ExecutorKind = Literal["local", "dask"]
Progress = Callable[[str, float], None]

#: Chunks per worker: enough to balance the load (points can differ in cost: a Monte Carlo
#: sample may simulate every month) and move the progress bar.
CHUNKS_PER_WORKER = 16
MAX_CHUNK_POINTS = 32
DASK_CONNECT_TIMEOUT_S = 20
#: How often the parent looks at the chunks it runs itself while waiting for its workers.
POLL_S = 0.05


#: Points after which a run estimates its total time (or this share of them, if more).
ESTIMATE_AFTER_POINTS = 3
ESTIMATE_AFTER_SHARE = 0.05
#: An analysis estimated to take longer than this is warned about.
LONG_RUN_S = 600.0


@dataclass(frozen=True)
class Execution:
    """Where an analysis's points run, and where its one-off notices go (the estimate of its
    total time; the CLI prints them on stderr)."""

    jobs: int = 1
    executor: ExecutorKind = "local"
    scheduler: str | None = None
    notice: Callable[[str], None] | None = field(default=None, compare=False)

    def workers(self) -> int:
        if self.jobs < 0:
            raise AnalysisError(f"--jobs must be >= 0 (0: one per CPU), got {self.jobs}")
        return self.jobs or os.cpu_count() or 1

    def check(self) -> None:
        """Fail before any work on options that cannot run."""
        self.workers()
        if self.executor == "dask":
            if not self.scheduler:
                raise AnalysisError(
                    "--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)"
                )
            _distributed()
        elif self.scheduler:
            raise AnalysisError("--scheduler goes with --executor dask")


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise AnalysisError(
            "--executor dask needs the 'distributed' package: pip install 'infersim[dask]'"
        ) from None


def chunk_points(points: Sequence[Point], workers: int) -> list[tuple[Point, ...]]:
    """Cut the points, in order, into chunks for `workers` workers: chunks of up to
    `MAX_CHUNK_POINTS`, about `CHUNKS_PER_WORKER` a worker, and the last `workers` chunks'
    worth of points one by one, so that the workers taking them in turn finish within about
    one point of each other rather than one chunk."""
    if not points:
        return []
    size = math.ceil(len(points) / (workers * CHUNKS_PER_WORKER))
    size = max(1, min(MAX_CHUNK_POINTS, size))
    tail = min(len(points), workers * size) if size > 1 else 0
    head = len(points) - tail
    chunks = [tuple(points[i : min(i + size, head)]) for i in range(0, head, size)]
    return chunks + [(p,) for p in points[head:]]


def process_context() -> multiprocessing.context.BaseContext:
    """How local workers start. Forked where fork is the platform's default start method
    (Linux, Python < 3.14) and this process runs no other Python thread: a forked worker has
    the parent's modules and catalog already, where a spawned one imports them again (about
    half a CPU-second each). Spawned otherwise: a parent with another thread (the CLI's
    progress bar) must not fork, since that thread may hold a lock the child would then wait
    on for ever. Either way the results are the same."""
    if multiprocessing.get_all_start_methods()[0] == "fork" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _start_pool(processes: int, context: RunContext) -> ProcessPoolExecutor:
    """`processes` workers, started now, each building the analysis's catalog first (a
    forking pool forks them all at its first task, before any thread of its own runs)."""
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=process_context())
    with warnings.catch_warnings():
        # Python >= 3.12 warns on any fork of a process with several OS threads. Here the
        # only other ones are native libraries' pools (OpenBLAS's), which handle a fork
        # themselves (pthread_atfork); no other Python thread runs (`process_context`).
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork", DeprecationWarning)
        for _ in range(processes):
            pool.submit(prepare, context)
    return pool


class _Tally:
    """Counts finished points and reports them; once the first few are done, estimates the
    total time (a notice, with a warning past `LONG_RUN_S`)."""

    def __init__(
        self,
        total: int,
        unit: str,
        progress: Progress | None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.total, self.unit, self.progress, self.done = total, unit, progress, 0
        self.notice = notice
        self.started_s = time.monotonic()
        self.estimate_at = max(ESTIMATE_AFTER_POINTS, math.ceil(total * ESTIMATE_AFTER_SHARE))
        self.estimated = False
        self.add(0)

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(f"{self.done:,}/{self.total:,} {self.unit}", self.done / self.total)
        if self.notice is not None and not self.estimated and self.estimate_at <= self.done:
            self.estimated = True
            if self.done < self.total:
                elapsed_s = time.monotonic() - self.started_s
                self.notice(estimate_line(self.done, self.total, self.unit, elapsed_s))


def estimate_line(done: int, total: int, unit: str, elapsed_s: float) -> str:
    """'12 of 100 samples in 30 s: about 4 min in total', a warning past `LONG_RUN_S`."""
    total_s = elapsed_s / done * total
    so_far = f"{done:,} of {total:,} {unit} in {_duration(elapsed_s)}"
    line = f"{so_far}: about {_duration(total_s)} in total"
    if total_s > LONG_RUN_S:
        return (
            f"warning: {line}, over {_duration(LONG_RUN_S)}; fewer {unit}, --jobs N or "
            "--executor dask shorten it"
        )
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _collect(results: list[ChunkResult | None]) -> list[Metrics]:
    out: list[Metrics] = []
    for result in results:
        assert result is not None
        out.extend(result.metrics)
    return out


def run_points(
    context: RunContext,
    points: Sequence[Point],
    execution: Execution | None = None,
    progress: Progress | None = None,
    unit: str = "points",
    state: WorkerState | None = None,
) -> list[Metrics]:
    """Each point's metrics, in the points' order (`InfersimError` on the first bad point).

    `state` holds the caches of a serial run (a fresh one by default; pass one to reuse its
    serving simulations across calls, as `breakeven` does).
    """
    execution = execution or Execution()
    execution.check()
    if not points:
        return []
    context = context if context.scope else replace(context, scope=uuid.uuid4().hex)
    tally = _Tally(len(points), unit, progress, execution.notice)
    workers = execution.workers()
    state = state or WorkerState()
    if execution.executor == "dask":
        serving = state.first_month_serving(context, points[0])
        return _run_dask(context, points, execution, tally, serving)
    if workers == 1 or len(points) == 1:
        return _run_serial(context, points, state, tally)
    return _run_local(context, points, workers, tally, state)


def _run_serial(
    context: RunContext, points: Sequence[Point], state: WorkerState, tally: _Tally
) -> list[Metrics]:
    out: list[Metrics] = []
    for point in points:
        result = state.run_chunk(Chunk(context, (point,)))
        if result.failure is not None:
            raise result.failure.error()
        out.extend(result.metrics)
        tally.add(1)
    return out


class _Dispenser:
    """Hands out the chunks' indices in order, to whichever process is free first."""

    def __init__(self, count: int) -> None:
        self.count, self.next, self.stopped = count, 0, False
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            if self.stopped or self.next >= self.count:
                return None
            self.next += 1
            return self.next - 1

    def stop(self) -> None:
        with self.lock:
            self.stopped = True


def _run_here(
    state: WorkerState,
    chunks: Sequence[Chunk],
    dispenser: _Dispenser,
    done: queue.SimpleQueue[tuple[int, ChunkResult | BaseException]],
) -> None:
    """This process's share: chunks in turn until none is left or one fails."""
    while (index := dispenser.take()) is not None:
        try:
            result: ChunkResult | BaseException = state.run_chunk(chunks[index])
        except BaseException as exc:  # handed to the main thread, which raises it
            result = exc
        done.put((index, result))
        if not isinstance(result, ChunkResult) or result.failure is not None:
            return


def _run_local(
    context: RunContext,
    points: Sequence[Point],
    workers: int,
    tally: _Tally,
    state: WorkerState,
) -> list[Metrics]:
    """`workers` processes: this one (in a thread, with the serial run's caches) and
    `workers` - 1 started ones, each taking the next chunk when free. The started ones get
    ready while this one simulates the first month's serving, which every chunk then
    carries."""
    parts = chunk_points(points, workers)
    results: list[ChunkResult | None] = [None] * len(parts)
    processes = max(1, min(workers - 1, len(parts) - 1))
    dispenser = _Dispenser(len(parts))
    done: queue.SimpleQueue[tuple[int, ChunkResult | BaseException]] = queue.SimpleQueue()

    def finish(index: int, result: ChunkResult | BaseException) -> None:
        if isinstance(result, BaseException):
            raise result
        if result.failure is not None:
            raise result.failure.error()
        results[index] = result
        tally.add(len(parts[index]))

    pool = _start_pool(processes, context)  # the workers get ready while ...
    try:
        serving = state.first_month_serving(context, points[0])  # ... this simulates
        chunks = [Chunk(context, c, serving) for c in parts]
        here = threading.Thread(
            target=_run_here, args=(state, chunks, dispenser, done), daemon=True
        )
        here.start()
        pending: dict[Future[ChunkResult], int] = {}
        left = len(chunks)
        while left:
            while len(pending) < processes and (index := dispenser.take()) is not None:
                pending[pool.submit(run_chunk, chunks[index])] = index
            if not pending:  # the last chunks are this process's
                finish(*done.get())
                left -= 1
            finished, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in finished:
                finish(pending.pop(future), future.result())
                left -= 1
            while not done.empty():
                finish(*done.get())
                left -= 1
    except BaseException:
        dispenser.stop()  # a chunk this process's thread is running ends on its own
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return _collect(results)


def _run_dask(
    context: RunContext,
    points: Sequence[Point],
    execution: Execution,
    tally: _Tally,
    serving: ServingEntries = (),
) -> list[Metrics]:
    distributed = _distributed()
    try:
        client = distributed.Client(
            execution.scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s", set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise AnalysisError(
            f"--scheduler {execution.scheduler}: cannot reach the Dask scheduler ({exc})"
        ) from None
    try:
        threads = sum(client.nthreads().values()) or 1
        workers = execution.jobs if execution.jobs > 1 else threads
        chunks = [Chunk(context, c, serving) for c in chunk_points(points, workers)]
        futures = client.map(run_chunk, chunks, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[ChunkResult | None] = [None] * len(chunks)
        for future in distributed.as_completed(futures, loop=client.loop):
            result = future.result()
            if result.failure is not None:
                client.cancel(futures)
                raise result.failure.error()
            i = index[future.key]
            results[i] = result
            tally.add(len(chunks[i].points))
        return _collect(results)
    finally:
        client.close()
