"""The tail of a histogram: the first bin of a margin histogram gathers every user below it
(`economics.margins.margin_histogram` clips the long tail of heavy users into it), so charts
draw it as a tail (`<= -$52`), not as a closed range, and fold into it the sparse bins that
would spend most of the chart's width on a few users."""

from __future__ import annotations

from collections.abc import Sequence

#: The leading bins holding at most this share of the users are drawn as one tail bin.
TAIL_SHARE = 0.02


def with_tail(
    edges: Sequence[float], counts: Sequence[float], mark: float | None = None
) -> tuple[list[float], list[float]]:
    """The bins with the leading ones merged into the first (the tail): as many as together
    hold at most `TAIL_SHARE` of the users (at least the first), never across `mark` (the
    tail stays all on one side of breakeven). The tail's upper edge is `edges[1]` of the
    result; `edges[0]` stays the input's first edge."""
    if len(edges) != len(counts) + 1:
        raise ValueError(f"need len(edges) == len(counts) + 1, got {len(edges)} and {len(counts)}")
    if len(counts) < 3:
        return list(edges), list(counts)
    total = sum(counts)
    merged = 1
    held = counts[0]
    # keep at least two bins beside the tail
    while merged < len(counts) - 2:
        upper = edges[merged + 1]
        if mark is not None and (
            edges[merged] < mark < upper or (edges[1] <= mark and upper > mark)
        ):
            break
        if total <= 0 or held + counts[merged] > TAIL_SHARE * total:
            break
        held += counts[merged]
        merged += 1
    return [edges[0], *edges[merged:]], [held, *counts[merged:]]


def tail_label(upper: str) -> str:
    """The label of the tail bin, from its formatted upper edge."""
    return f"<= {upper}"
