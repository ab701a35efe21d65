"""What a fleet served of what it was offered, per request class and replication.

Offered figures count every request sent (its whole prompt and output length). Served ones
count the requests the fleet completed, scaled to its service rate when it was overloaded:
see `served_factor` and `served_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from infersim.serving.cluster import ClusterRun

if TYPE_CHECKING:
    from infersim.serving.summary import RunSample

TOKEN_COLUMNS = ("prompt", "cached", "output")
"""The per-request token columns offered and served figures are summed over."""


def served_weight(
    run: ClusterRun, completed: NDArray[np.bool_], output: NDArray[np.int64]
) -> NDArray[np.float64]:
    """What each request counts for in the served figures, before the run's factor: 1 when
    completed; in a run stopped early, the share of its output emitted by the cut-off (in a
    steady state as much work is in flight at a window's start as at its end, and a run
    starts with none); else (rejected, or never started) 0."""
    weight = completed.astype(np.float64)
    if run.overloaded_at_s is None:
        return weight  # drained: every request completed, or was rejected
    emitted = np.asarray(run.table.emitted, dtype=np.float64)
    for replica in run.replicas:
        for rid, tokens in replica.decoded_so_far().items():
            emitted[rid] = tokens
    share = np.minimum(emitted / np.maximum(output, 1), 1.0)
    return np.where(completed, 1.0, share)


def served_factor(run: ClusterRun, window_s: float, overloaded: bool) -> float:
    """What the served figures scale the run's requests by. 1 when the fleet kept up (the
    drain after the window then overlaps the next window's arrivals in a steady state).
    Overloaded, the fleet served at its own rate: stopped early at a cut-off, what it served
    by then x window / cut-off; drained, its requests x window / the time the drain ended.
    Either way its service rate over the window (capped at what was offered)."""
    if not overloaded:
        return 1.0
    end = run.overloaded_at_s if run.overloaded_at_s is not None else run.end_s
    return window_s / max(end, 1e-9)


@dataclass(frozen=True)
class Volumes:
    """A class's offered and served requests and tokens: means over replications, scaled."""

    offered: dict[str, float]
    served: dict[str, float]


def class_volumes(samples: list[RunSample], picks: list[NDArray[np.bool_]]) -> Volumes:
    """Offered: every request of the class. Served: its requests weighted by what the run
    served of them (`RunSample.served_weight`) times the run's served factor, at most what
    was offered. Token counts are whole numbers, so with every weight and the factor 1 the
    served sums are the offered ones exactly."""
    offered = dict.fromkeys(("requests", *TOKEN_COLUMNS), 0.0)
    served = dict(offered)
    for sample, pick in zip(samples, picks, strict=True):
        weight = sample.served_weight[pick]
        offered_run = {"requests": float(pick.sum())}
        served_run = {"requests": float(weight.sum())}
        for column in TOKEN_COLUMNS:
            values = getattr(sample, column)[pick]
            offered_run[column] = float(values.sum())
            served_run[column] = float((values * weight).sum())
        for key, value in offered_run.items():
            offered[key] += value * sample.scale
            served[key] += min(served_run[key] * sample.served_factor, value) * sample.scale
    reps = len(samples)
    return Volumes(
        {k: v / reps for k, v in offered.items()}, {k: v / reps for k, v in served.items()}
    )
