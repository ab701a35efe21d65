"""What a trace holds (`trace_stats`) and a request class fitted to it (`fit_class`): the
figures `infersim trace stats` shows and the class `infersim trace fit` writes. Pure: takes a
`TraceData`, returns plain data.

The fit: arrivals are a 24-hour diurnal profile when the trace spans a day (hourly weights
from its requests per hour of day, counted from its first request), else Poisson when the
inter-arrival coefficient of variation is within the sampling noise of 1, else bursty (Gamma
inter-arrivals with that cv). Lengths are lognormal (median and sigma of the log, from the
log-lengths' mean and standard deviation, truncated at the longest seen) or the empirical
values themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infersim.workload.trace import TraceData

SECONDS_PER_HOUR = 3600.0
DAY_S = 24 * SECONDS_PER_HOUR
#: Bins of the rate-over-time chart.
RATE_BINS = 48
PERCENTILES = (50, 90, 99)


def leading_reuse_tokens(
    blocks_per_request: Iterable[Sequence[int]], prompt_tokens: Iterable[int], block_tokens: int
) -> int:
    """The ideal reuse of a request sequence: for each request in order, the tokens of the
    longest run of its first blocks that some earlier request had (an unbounded cache); the
    last block may be partial."""
    seen: set[int] = set()
    total = 0
    for blocks, prompt in zip(blocks_per_request, prompt_tokens, strict=True):
        run = 0
        for block in blocks:
            if block not in seen:
                break
            run += 1
        total += min(run * block_tokens, prompt)
        seen.update(blocks)
    return total


def _percentiles(values: NDArray[np.int64]) -> dict[str, float]:
    out = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    out["mean"] = float(values.mean())
    out["max"] = float(values.max())
    return out


def interarrival_cv(times_s: NDArray[np.float64]) -> float | None:
    """Coefficient of variation of the gaps between arrivals (1 for Poisson)."""
    gaps = np.diff(times_s)
    if len(gaps) < 2 or gaps.mean() <= 0:
        return None
    return float(gaps.std() / gaps.mean())


def span_s(trace: TraceData) -> float:
    return float(trace.times_s[-1] - trace.times_s[0])


def rate_over_time(trace: TraceData, bins: int = RATE_BINS) -> tuple[float, list[float]]:
    """The bin width (s) and the requests per second in each bin, over the trace's span."""
    span = max(span_s(trace), 1e-9)
    width = span / bins
    counts, _ = np.histogram(trace.times_s - trace.times_s[0], bins=bins, range=(0.0, span))
    return width, [float(c) / width for c in counts]


def prefix_reuse(trace: TraceData, block_tokens: int) -> dict[str, float] | None:
    """With block hashes: the share of input tokens in leading blocks an earlier request had
    (an unbounded cache's hit ratio), and the share of requests reusing any."""
    if not trace.has_hashes:
        return None
    rows = range(len(trace.times_s))
    blocks = [trace.blocks_of(i).tolist() for i in rows]
    prompts = trace.prompt_tokens.tolist()
    reused = leading_reuse_tokens(blocks, prompts, block_tokens)
    seen: set[int] = set()
    reusing = 0
    for row in blocks:
        reusing += bool(row) and row[0] in seen
        seen.update(row)
    return {
        "input_token_share": reused / float(trace.prompt_tokens.sum()),
        "request_share": reusing / len(blocks),
    }


def trace_stats(trace: TraceData, block_tokens: int = 512) -> dict[str, Any]:
    """Requests, span, rate over time, length percentiles and prefix reuse of a trace."""
    span = span_s(trace)
    width, rates = rate_over_time(trace)
    return {
        "format": trace.format,
        "requests": len(trace.times_s),
        "span_s": span,
        "mean_rate_per_s": len(trace.times_s) / span if span > 0 else None,
        "interarrival_cv": interarrival_cv(trace.times_s),
        "rows_out_of_order": trace.rows_out_of_order,
        "dropped_zero_token_rows": trace.dropped_zero_token_rows,
        "rate_bin_s": width,
        "rate_per_s": rates,
        "prompt_tokens": _percentiles(trace.prompt_tokens),
        "output_tokens": _percentiles(trace.output_tokens),
        "labels": _label_counts(trace),
        "prefix_reuse": prefix_reuse(trace, block_tokens),
    }


def _label_counts(trace: TraceData) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in trace.classes:
        if label is not None:
            counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def _lognormal(values: NDArray[np.int64]) -> dict[str, Any]:
    logs = np.log(values.astype(np.float64))
    sigma = float(logs.std())
    fit: dict[str, Any] = {"dist": "lognormal", "p50_tokens": round(math.exp(logs.mean()), 1)}
    if sigma > 0:
        fit["sigma"] = round(min(sigma, 5.0), 4)
        fit["max_tokens"] = int(values.max())
        return fit
    return {"dist": "fixed", "tokens": int(values[0])}  # every request the same length


def _arrival(trace: TraceData) -> dict[str, Any]:
    span = span_s(trace)
    n = len(trace.times_s)
    rate = n / span if span > 0 else float(n)
    if span >= DAY_S:
        hours = ((trace.times_s - trace.times_s[0]) // SECONDS_PER_HOUR).astype(np.int64) % 24
        counts = np.bincount(hours, minlength=24).astype(np.float64)
        days = np.bincount(
            np.arange(math.floor(span / SECONDS_PER_HOUR) + 1) % 24, minlength=24
        ).astype(np.float64)  # how many times each hour of day occurs in the span
        weights = counts / np.maximum(days, 1.0)
        weights = weights / weights.mean()
        return {
            "process": "diurnal",
            "mean_rate_per_s": round(rate, 6),
            "hourly_weights": [round(float(w), 4) for w in weights],
        }
    cv = interarrival_cv(trace.times_s)
    # the sample cv of n exponential gaps has a standard error of about 1/sqrt(n)
    if cv is None or abs(cv - 1.0) <= 2.0 / math.sqrt(max(n - 1, 1)):
        return {"process": "poisson", "rate_per_s": round(rate, 6)}
    return {"process": "bursty", "rate_per_s": round(rate, 6), "cv": round(min(cv, 100.0), 4)}


def fit_class(trace: TraceData, lengths: str = "lognormal") -> dict[str, Any]:
    """A request class (plain data for `workload.classes.<name>`) fitted to the trace;
    `lengths` 'empirical' leaves the length distributions for the caller to point at files."""
    cls: dict[str, Any] = {"arrival": _arrival(trace)}
    if lengths == "lognormal":
        cls["prompt_tokens"] = _lognormal(trace.prompt_tokens)
        cls["output_tokens"] = _lognormal(trace.output_tokens)
    share = float(trace.cached_prefix_tokens.sum()) / float(trace.prompt_tokens.sum())
    if share > 0:
        cls["cached_prefix_share"] = round(share, 4)
    return cls
