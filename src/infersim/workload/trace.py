"""Read trace and empirical-length files (the only file reading in the workload package;
the CLI calls it, and `simulate` receives the data), and shape a trace's replay.

Traces are read in their published formats (`workload.trace_formats`). Data file paths are
confined to the scenario's directory tree (`scenario.paths`).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from infersim.errors import ConfigError, Problem
from infersim.scenario.model import Scenario
from infersim.scenario.paths import confined
from infersim.scenario.workload import Empirical, RequestClass, Trace
from infersim.workload.external import ExternalData
from infersim.workload.lengths import mean_tokens, share_of_tokens_above
from infersim.workload.sessions import (
    session_mean_prompt_tokens,
    session_share_of_prompt_above,
)
from infersim.workload.trace_formats import (
    MAX_ROWS,
    MAX_TOKENS,
    TraceFormat,
    checked_tokens,
    excerpt,
    read_raw,
)
from infersim.yamlio import read_text_file

__all__ = ["MAX_ROWS", "MAX_TOKENS", "ExternalData", "TraceData", "read_trace"]


@dataclass(frozen=True)
class TraceData:
    """A trace's requests in time order, with what reading it did."""

    times_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    cached_prefix_tokens: NDArray[np.int64]
    classes: tuple[str | None, ...]
    hash_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Prefix block hashes of every request, concatenated; request i's are
    `hash_ids[hash_offsets[i]:hash_offsets[i + 1]]`."""
    hash_offsets: NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    format: str = "infersim"
    rows_out_of_order: int = 0
    """Rows whose timestamp was earlier than the row before (the trace was sorted)."""
    dropped_zero_token_rows: int = 0

    @property
    def has_hashes(self) -> bool:
        return len(self.hash_ids) > 0

    def blocks_of(self, row: int) -> NDArray[np.int64]:
        return self.hash_ids[self.hash_offsets[row] : self.hash_offsets[row + 1]]


def _columns_format(arrival: Trace) -> TraceFormat | None:
    columns = arrival.columns
    if columns is None:
        return None
    return TraceFormat(
        "columns",
        columns.timestamp,
        columns.prompt_tokens,
        columns.output_tokens,
        columns.timestamp_unit,
        label=columns.label,
    )


def read_trace(
    path: Path, fmt: str | None, arrival: Trace | None = None, block_tokens: int | None = None
) -> TraceData:
    """A trace file's requests sorted by time (stable), in its published format."""
    columns = _columns_format(arrival) if arrival is not None else None
    raw = read_raw(path, fmt, columns)
    if block_tokens is None:
        block_tokens = arrival.hash_block_tokens if arrival is not None else 512
    offsets = np.zeros(len(raw.times_s) + 1, dtype=np.int64)
    np.cumsum(raw.hash_counts, out=offsets[1:])
    if len(raw.hash_ids):
        blocks = -(-raw.prompt_tokens // block_tokens)
        wrong = np.flatnonzero((raw.hash_counts != blocks) & (raw.hash_counts > 0))
        if len(wrong):
            i = int(wrong[0])
            raise ConfigError(
                [
                    Problem(
                        str(path),
                        None,
                        "hash_ids",
                        f"row {i + 1}: {raw.hash_counts[i]} block ids for {raw.prompt_tokens[i]} "
                        f"tokens, but blocks of {block_tokens} tokens need {blocks[i]}: set "
                        "arrival.hash_block_tokens to the trace's block size",
                    )
                ]
            )
    descents = int(np.count_nonzero(np.diff(raw.times_s) < 0))
    order = np.argsort(raw.times_s, kind="stable")
    hash_ids, hash_offsets = raw.hash_ids, offsets
    if descents:
        counts = raw.hash_counts[order]
        hash_offsets = np.zeros_like(offsets)
        np.cumsum(counts, out=hash_offsets[1:])
        starts = offsets[:-1][order]
        gather = np.repeat(starts - hash_offsets[:-1], counts) + np.arange(int(counts.sum()))
        hash_ids = raw.hash_ids[gather]
    return TraceData(
        raw.times_s[order] if descents else raw.times_s,
        raw.prompt_tokens[order] if descents else raw.prompt_tokens,
        raw.output_tokens[order] if descents else raw.output_tokens,
        raw.cached_prefix_tokens[order] if descents else raw.cached_prefix_tokens,
        tuple(raw.labels[i] for i in order) if descents else raw.labels,
        hash_ids,
        hash_offsets,
        raw.format,
        descents,
        raw.dropped_zero_token_rows,
    )


def check_label(path: Path, arrival: Trace, trace: TraceData) -> None:
    """A class that replays one label of a trace names a label the trace has."""
    if arrival.label is None or arrival.label in trace.classes:
        return
    known = sorted({label for label in trace.classes if label is not None})
    shown = ", ".join(excerpt(k) for k in known[:8]) or "none"
    raise ConfigError(
        [Problem(str(path), None, "label", f"no row has label {arrival.label!r}; the trace "
                 f"has {shown}")]
    )  # fmt: skip


def read_empirical(path: Path, column: str | None) -> NDArray[np.int64]:
    """Token counts, one per line, or a named column of a CSV file."""
    text = read_text_file(path)
    values: list[str] = []
    lines: list[int] = []
    if column is not None:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is not None and column not in reader.fieldnames:
            header = excerpt(",".join(reader.fieldnames))
            raise ConfigError([Problem(str(path), 1, column, f"missing column; header {header}")])
        for row in reader:
            values.append(row.get(column) or "")
            lines.append(reader.line_num)
    else:
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip() and not raw.lstrip().startswith("#"):
                values.append(raw.strip())
                lines.append(line)
    if not values:
        raise ConfigError([Problem(str(path), None, "", "no token counts in file")])
    return checked_tokens(path, lines, column or "value", values, 1)


# ---------------------------------------------------------------------------------------------
# Replay shaping
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """A shaped replay: arrival times from 0 and the trace row each request replays."""

    times_s: NDArray[np.float64]
    rows: NDArray[np.int64]
    window_rows: int
    period_s: float
    """How long one pass of the window lasts once sped up (a loop repeats every period)."""
    speed: float
    """Replay rate / trace rate."""
    passes: int


def _window(arrival: Trace, trace: TraceData) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Times from the window's start (trace seconds) and their rows."""
    rows = np.arange(len(trace.times_s), dtype=np.int64)
    times = trace.times_s
    if arrival.label is not None:
        rows = rows[np.asarray([c == arrival.label for c in trace.classes], dtype=bool)]
        times = times[rows]
    if len(times) == 0:
        return times, rows
    relative = times - times[0]
    keep = relative >= arrival.start_s
    if arrival.duration_s is not None:
        keep &= relative < arrival.start_s + arrival.duration_s
    shifted: NDArray[np.float64] = relative[keep] - arrival.start_s
    return shifted, rows[keep]


def _period_s(arrival: Trace, times: NDArray[np.float64]) -> float:
    """One pass of the window in trace seconds: its duration, else the span plus one mean gap
    (so that looping keeps the trace's mean rate)."""
    if arrival.duration_s is not None:
        return arrival.duration_s
    n = len(times)
    span = float(times[-1]) if n else 0.0
    return span * n / (n - 1) if n > 1 and span > 0 else 1.0


def replay(arrival: Trace, trace: TraceData, horizon_s: float) -> Replay:
    """The trace's arrivals in [0, horizon_s), shaped as the arrival says."""
    times, rows = _window(arrival, trace)
    period = _period_s(arrival, times)
    speed = 1.0 / arrival.time_scale
    if arrival.rate_scale is not None:
        speed = arrival.rate_scale
    elif arrival.target_rate_per_s is not None and len(times):
        speed = arrival.target_rate_per_s / (len(times) / period)
    scaled = times / speed
    period_scaled = period / speed
    passes = 1
    if arrival.loop and len(times) and horizon_s > period_scaled:
        passes = math.ceil(horizon_s / period_scaled)
        offsets = np.arange(passes, dtype=np.float64) * period_scaled
        scaled = (offsets[:, None] + scaled[None, :]).ravel()
        rows = np.tile(rows, passes)
    keep = scaled < horizon_s
    return Replay(scaled[keep], rows[keep], len(times), period_scaled, speed, passes)


def replay_rate_per_s(arrival: Trace, trace: TraceData) -> float:
    """The replay's mean rate: the window's requests per (sped-up) period."""
    times, _ = _window(arrival, trace)
    if len(times) == 0:
        return 0.0
    period = _period_s(arrival, times)
    speed = 1.0 / arrival.time_scale
    if arrival.rate_scale is not None:
        speed = arrival.rate_scale
    elif arrival.target_rate_per_s is not None:
        return float(arrival.target_rate_per_s) * arrival.sample_share
    return len(times) / period * speed * arrival.sample_share


def describe_replay(arrival: Trace, trace: TraceData, horizon_s: float) -> str:
    """What the replay did, in one line (for the output)."""
    shaped = replay(arrival, trace, horizon_s)
    parts = [f"{trace.format} trace, {len(trace.times_s):,} rows"]
    if trace.rows_out_of_order:
        parts.append(f"{trace.rows_out_of_order:,} rows out of time order (sorted)")
    if trace.dropped_zero_token_rows:
        parts.append(f"{trace.dropped_zero_token_rows:,} zero-token rows dropped")
    if arrival.label is not None:
        parts.append(f"label {arrival.label!r}")
    if arrival.start_s or arrival.duration_s is not None:
        end = "end" if arrival.duration_s is None else f"{arrival.start_s + arrival.duration_s:g}"
        parts.append(f"window {arrival.start_s:g}-{end} s: {shaped.window_rows:,} rows")
    if shaped.speed != 1.0:
        parts.append(f"rate x{shaped.speed:.4g}")
    if shaped.passes > 1:
        parts.append(f"looped x{shaped.passes:,} (period {shaped.period_s:,.0f} s)")
    if arrival.sample_share < 1.0:
        parts.append(f"sampled {arrival.sample_share:.0%}")
    parts.append(f"{len(shaped.times_s):,} requests in {horizon_s:,.0f} s")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# A class's lengths, from its distributions or its trace
# ---------------------------------------------------------------------------------------------


def _trace_lengths(cls: RequestClass, kind: str, data: ExternalData) -> NDArray[np.int64] | None:
    if not isinstance(cls.arrival, Trace):
        return None
    trace = data.traces[cls.arrival.path]
    values: NDArray[np.int64] = getattr(trace, kind)
    if cls.arrival.label is not None:
        values = values[np.asarray([c == cls.arrival.label for c in trace.classes], dtype=bool)]
    return values


def class_mean_tokens(cls: RequestClass, kind: str, data: ExternalData) -> float:
    """A class's mean prompt or output tokens (`kind`): its distribution's, or its trace's;
    a session class's prompt carries the context so far (`session_mean_prompt_tokens`)."""
    values = _trace_lengths(cls, kind, data)
    if values is not None:
        return float(values.mean()) if len(values) else 0.0
    dist = getattr(cls, kind)
    assert dist is not None  # validated: a class without a trace has both distributions
    if kind == "prompt_tokens" and cls.sessions is not None and cls.output_tokens is not None:
        output = mean_tokens(cls.output_tokens, data.empirical)
        return session_mean_prompt_tokens(mean_tokens(dist, data.empirical), output, cls.sessions)
    return mean_tokens(dist, data.empirical)


def class_share_of_prompt_above(cls: RequestClass, threshold: int, data: ExternalData) -> float:
    """Share of a class's prompt tokens that come from prompts longer than `threshold`."""
    values = _trace_lengths(cls, "prompt_tokens", data)
    if values is not None:
        total = float(values.sum())
        return float(values[values > threshold].sum()) / total if total else 0.0
    assert cls.prompt_tokens is not None
    if cls.sessions is not None and cls.output_tokens is not None:  # turns carry the context
        return session_share_of_prompt_above(
            cls.prompt_tokens, cls.output_tokens, cls.sessions, threshold, data.empirical
        )
    return share_of_tokens_above(cls.prompt_tokens, threshold, data.empirical)


def load_external_data(scenario: Scenario, base_dir: Path | None) -> ExternalData:
    """Read every trace and empirical file the scenario names (relative to base_dir, and
    within its tree)."""
    traces: dict[str, TraceData] = {}
    empirical: dict[str, NDArray[np.int64]] = {}
    if base_dir is None:
        return ExternalData()
    for cls in scenario.workload.classes.values():
        arrival = cls.arrival
        if isinstance(arrival, Trace) and arrival.path not in traces:
            path = confined(base_dir, arrival.path)
            traces[arrival.path] = read_trace(path, arrival.format, arrival)
        if isinstance(arrival, Trace):
            check_label(base_dir / arrival.path, arrival, traces[arrival.path])
        for dist in (cls.prompt_tokens, cls.output_tokens):
            if isinstance(dist, Empirical) and dist.path not in empirical:
                empirical[dist.path] = read_empirical(confined(base_dir, dist.path), dist.column)
    return ExternalData(traces, empirical)
