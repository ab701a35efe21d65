"""Inter-token latency (ITL) from a run's records: the gap between consecutive tokens of a
request, over every token after a request's first, as vLLM's benchmark_serving reports it.

A replica records no gap one by one (`serving.replica`): each record that decodes gives its
`n` sequences one gap per step. A one-step record (an iteration) lasts its duration; a
segment's steps are recomputed here as the segment planned them (context `ctx0 + n e k` at
step k). Tokens whose previous one came before their step began (a stall) have that much more
on their first step's gap; gaps outside decode steps (a preempted sequence's next token)
count one token each.

There are about as many gaps as decode steps, millions in a long run. The percentiles are
exact without holding them all: a first pass counts the tokens per narrow bin of the gap's
logarithm, a second keeps only the gaps in the bins the percentiles fall in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infersim.perf import PerfModel
from infersim.serving.replica import ReplicaStats
from infersim.serving.result import Percentiles

#: Records (and segment steps) handled at once: bounds the memory the gaps take.
BLOCK = 1 << 16
#: Bins per doubling of the gap, over gaps from 2**LOWEST_OCTAVE s to 2**HIGHEST_OCTAVE s.
OCTAVE_BINS = 1024
LOWEST_OCTAVE, HIGHEST_OCTAVE = -40, 40
BINS = (HIGHEST_OCTAVE - LOWEST_OCTAVE) * OCTAVE_BINS
QUANTILES = (0.5, 0.9, 0.99)

Block = tuple[NDArray[np.float64], NDArray[np.float64]]


@dataclass(frozen=True)
class ItlSource:
    """What one run's inter-token gaps are computed from: its replicas' records."""

    perf: PerfModel
    stats: tuple[ReplicaStats, ...]


def gap_blocks(source: ItlSource, wanted: NDArray[np.int64] | None = None) -> Iterator[Block]:
    """Every gap of the measured window, in blocks: (gaps in seconds, tokens that had each).
    With `wanted` bins, a segment none of whose steps can fall in one is left out (a step
    takes longer as the context grows, so its steps lie between its first and its last)."""
    for s in source.stats:
        gaps = np.frombuffer(s.itl_gap_s, dtype=np.float64)
        if gaps.size:
            yield gaps, np.ones(gaps.size)
        if s.itl_from_record >= 0:
            yield from _record_blocks(source.perf, s, wanted)


def _record_blocks(
    perf: PerfModel, s: ReplicaStats, wanted: NDArray[np.int64] | None
) -> Iterator[Block]:
    sizes = np.frombuffer(s.batch_sizes, dtype=np.int64)
    work = np.frombuffer(s.batch_work, dtype=np.int32)
    durations = np.frombuffer(s.batch_durations_s, dtype=np.float64)
    contexts = np.frombuffer(s.segment_context, dtype=np.float64)
    late_record = np.frombuffer(s.itl_late_record, dtype=np.int64)
    late_s = np.frombuffer(s.itl_late_s, dtype=np.float64)
    late_tokens = np.frombuffer(s.itl_late_tokens, dtype=np.int64).astype(np.float64)
    start = s.itl_from_record
    # segments (more than one step, decoding) have a context each, in record order
    segments_before = int(np.count_nonzero((work[:start] < -1) & (sizes[:start] > 0)))
    for a in range(start, sizes.size, BLOCK):
        b = min(a + BLOCK, sizes.size)
        seqs = sizes[a:b].astype(np.float64)
        steps = np.where(work[a:b] < 0, -work[a:b].astype(np.int64), 1)
        first = durations[a:b].copy()
        multi = np.flatnonzero((steps > 1) & (seqs > 0))
        ctx0 = contexts[segments_before : segments_before + multi.size]
        segments_before += multi.size
        seg_seqs, seg_steps = seqs[multi], steps[multi]
        if wanted is not None and multi.size:
            growth = seg_seqs * perf.decode_tokens_per_step
            first[multi] = perf.iteration_times_s(0.0, 0.0, seg_seqs, ctx0)
            last = perf.iteration_times_s(0.0, 0.0, seg_seqs, ctx0 + growth * (seg_steps - 1))
            low = np.searchsorted(wanted, _bins(first[multi]))
            high = np.searchsorted(wanted, _bins(last), side="right")
            keep = high > low  # a wanted bin lies within the segment's range
            multi, seg_seqs, seg_steps, ctx0 = (
                multi[keep],
                seg_seqs[keep],
                seg_steps[keep],
                ctx0[keep],
            )
        yield from _segment_steps(perf, seg_seqs, seg_steps, ctx0, first, multi)
        lo, hi = np.searchsorted(late_record, [a, b])
        late = late_record[lo:hi] - a
        moved = np.bincount(late, weights=late_tokens[lo:hi], minlength=b - a)
        decoding = seqs > 0
        yield first[decoding], (seqs - moved)[decoding]
        if hi > lo:
            yield first[late] + late_s[lo:hi], late_tokens[lo:hi]


def _segment_steps(
    perf: PerfModel,
    seqs: NDArray[np.float64],
    steps: NDArray[np.int64],
    ctx0: NDArray[np.float64],
    first: NDArray[np.float64],
    where: NDArray[np.intp],
) -> Iterator[Block]:
    """The steps after each segment's first (yielded), and each first step's time (written
    into `first` at `where`), recomputed in bounded blocks."""
    ends = np.cumsum(steps)
    done = 0
    while done < steps.size:
        stop = max(done + 1, int(np.searchsorted(ends, ends[done] + BLOCK)))
        counts = steps[done:stop]
        offsets = np.repeat(np.cumsum(counts) - counts, counts)
        k = np.arange(int(counts.sum()), dtype=np.float64) - offsets
        n = np.repeat(seqs[done:stop], counts)
        growth = n * perf.decode_tokens_per_step
        step_s = perf.iteration_times_s(
            0.0, 0.0, n, np.repeat(ctx0[done:stop], counts) + growth * k
        )
        later = k > 0
        first[where[done:stop]] = step_s[~later]
        yield step_s[later], n[later]
        done = stop


def _bins(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """A bin per gap, in the order of the gaps (a larger gap never has a smaller bin)."""
    logs = np.log2(np.maximum(values, 2.0**LOWEST_OCTAVE))
    index = np.floor((logs - LOWEST_OCTAVE) * OCTAVE_BINS).astype(np.int64)
    clipped: NDArray[np.int64] = np.clip(index, 0, BINS - 1)
    return clipped


def itl_percentiles(sources: Sequence[ItlSource]) -> Percentiles:
    """p50/p90/p99 and mean of the gaps over every token, as `Percentiles.weighted` takes
    them (the smallest gap at which the share of tokens reaches the quantile)."""
    counts = np.zeros(BINS)
    total = 0.0
    weighted_sum = 0.0
    for source in sources:
        for values, weights in gap_blocks(source):
            counts += np.bincount(_bins(values), weights=weights, minlength=BINS)
            total += float(weights.sum())
            weighted_sum += float((values * weights).sum())
    if total <= 0:
        return Percentiles(None, None, None, None)
    cum = np.cumsum(counts)
    targets = [q * total for q in QUANTILES]
    last = int(np.flatnonzero(counts > 0)[-1])  # rounding never picks past the largest gap
    picked = [min(int(np.searchsorted(cum, t)), last) for t in targets]
    wanted = sorted(set(picked))
    kept: dict[int, list[Block]] = {b: [] for b in wanted}
    for source in sources:
        for values, weights in gap_blocks(source, np.asarray(wanted, dtype=np.int64)):
            bins = _bins(values)
            for b in wanted:
                mask = (bins == b) & (weights > 0)
                if mask.any():
                    kept[b].append((values[mask], weights[mask]))
    picks = []
    for target, b in zip(targets, picked, strict=True):
        values = np.concatenate([v for v, _ in kept[b]])
        weights = np.concatenate([w for _, w in kept[b]])
        order = np.argsort(values)
        below = float(cum[b - 1]) if b > 0 else 0.0
        within = below + np.cumsum(weights[order])
        index = min(int(np.searchsorted(within, target)), values.size - 1)
        picks.append(float(values[order][index]))
    return Percentiles(picks[0], picks[1], picks[2], weighted_sum / total)
