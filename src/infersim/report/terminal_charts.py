"""Small charts for the terminal: sparklines in table cells, a histogram of per-user margins.

Each function takes `plain`: True gives ASCII only (digits, `#`, `-`, `|`), for output that is
not a terminal or where NO_COLOR is set (`plain_output` decides); False gives Unicode blocks.
Nothing here writes to the terminal: the CLI puts the strings where it wants them.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from infersim.report.bins import tail_label, with_tail

#: Eight heights of a sparkline bar, lowest first.
BLOCKS = "▁▂▃▄▅▆▇█"
#: Horizontal eighths of a histogram bar, for sub-character lengths.
EIGHTHS = " ▏▎▍▌▋▊▉█"
#: The plain stand-in for a missing value.
MISSING = "-"


def plain_output(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether charts should be plain ASCII: NO_COLOR is set (to anything non-empty, as
    https://no-color.org says), TERM is `dumb`, or `stream` is not a terminal."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM") == "dumb":
        return True
    if stream is None:
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return not (callable(isatty) and bool(isatty()))
    except (ValueError, OSError):  # a closed or detached stream
        return True


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def sparkline(values: Sequence[float | None], *, plain: bool = False) -> str:
    """One character per value, scaled from the smallest to the largest: `▁▃▅█` (or the
    digits `0`..`9` when plain); a missing or non-finite value is `-` either way."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return MISSING * len(values)
    low, high = min(finite), max(finite)
    levels = "0123456789" if plain else BLOCKS
    top = len(levels) - 1
    chars: list[str] = []
    for value in values:
        if value is None or not math.isfinite(value):
            chars.append(MISSING)
        elif high == low:
            chars.append(levels[top // 2])
        else:
            chars.append(levels[round((value - low) / (high - low) * top)])
    return "".join(chars)


def bar(value: float | None, maximum: float, width: int, *, plain: bool = False) -> str:
    """A horizontal bar `width` characters wide at most, `value / maximum` of it filled (to an
    eighth of a character unless plain); for a bar column beside a number in a table."""
    if width <= 0:
        return ""
    if not _finite(value) or maximum <= 0 or not math.isfinite(maximum):
        return MISSING.ljust(width)
    assert value is not None
    share = min(max(value / maximum, 0.0), 1.0)
    if plain:
        return ("#" * round(share * width)).ljust(width)
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part else "")
    return text.ljust(width)


def _merge_bins(
    edges: Sequence[float], counts: Sequence[float], max_rows: int
) -> tuple[list[float], list[float]]:
    """Adjacent bins summed so that at most `max_rows` remain (edges kept from the input)."""
    n = len(counts)
    if n <= max_rows:
        return list(edges), list(counts)
    step = math.ceil(n / max_rows)
    merged_edges = [edges[i] for i in range(0, n, step)] + [edges[n]]
    merged_counts = [sum(counts[i : i + step]) for i in range(0, n, step)]
    return merged_edges, merged_counts


def _money(value: float) -> str:
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{sign}${magnitude / 1e6:,.1f}M"
    if magnitude >= 1e4:
        return f"{sign}${magnitude / 1e3:,.0f}k"
    return f"{sign}${magnitude:,.2f}"


def _count(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def histogram_lines(
    edges: Sequence[float],
    counts: Sequence[float],
    width: int,
    mark: float | None = None,
    *,
    plain: bool = False,
    mark_label: str = "breakeven",
    max_rows: int = 20,
) -> list[str]:
    """A histogram on its side, one line per bin: `   $12.20..$13.01 │███▌      1,234  3.1%`.

    `edges` has one more entry than `counts` (as numpy.histogram gives them); the first bin
    is a tail (`<= -$52`: every user below its upper edge) with the sparse bins after it
    folded in (`infersim.report.bins`); the others are merged so that at most `max_rows` lines
    remain. Bins whose upper edge is at or below `mark` (e.g.
    0, the breakeven margin) are drawn with `▒` (`=` when plain) so that the users losing money
    stand out, and a line marks where `mark` falls. The lines fit in `width` characters.
    """
    if len(edges) != len(counts) + 1:
        raise ValueError(f"need len(edges) == len(counts) + 1, got {len(edges)} and {len(counts)}")
    if not counts:
        return []
    edges, counts = with_tail(edges, counts, mark)
    rest_edges, rest_counts = _merge_bins(edges[1:], counts[1:], max(1, max_rows - 1))
    edges, counts = [edges[0], *rest_edges], [counts[0], *rest_counts]
    total = sum(counts)
    labels = [tail_label(_money(edges[1]))]
    labels += [f"{_money(lo)}..{_money(hi)}" for lo, hi in itertools.pairwise(edges[1:])]
    label_width = max(len(label) for label in labels)
    tails = [f"{_count(c)} {(c / total if total else 0.0):>6.1%}" for c in counts]
    tail_width = max(len(tail) for tail in tails)
    bar_width = max(4, width - label_width - tail_width - 4)
    peak = max(counts)
    rule = "|" if plain else "│"
    lines: list[str] = []
    mark_drawn = mark is None or not (edges[0] < mark < edges[-1])
    for lo, hi, label, tail, count in zip(edges, edges[1:], labels, tails, counts, strict=False):
        if not mark_drawn and mark is not None and lo >= mark:
            lines.append(_mark_line(mark, mark_label, label_width, width, plain))
            mark_drawn = True
        drawn = bar(count, peak, bar_width, plain=plain)
        if count > 0 and not drawn.strip():  # a few users still show: the tail matters
            drawn = ("." if plain else "▏") + drawn[1:]
        if mark is not None and hi <= mark:
            drawn = drawn.replace("#", "=") if plain else drawn.replace("█", "▒")
        lines.append(f"{label:>{label_width}} {rule}{drawn} {tail:>{tail_width}}".rstrip())
        if not mark_drawn and mark is not None and lo < mark < hi:
            lines.append(_mark_line(mark, mark_label, label_width, width, plain))
            mark_drawn = True
    return lines


def _mark_line(mark: float, label: str, label_width: int, width: int, plain: bool) -> str:
    text = f" {_money(mark)} {label} "
    dash = "-" if plain else "─"
    left = dash * (label_width + 1) + ("+" if plain else "┼")
    return (left + text + dash * max(0, width - len(left) - len(text)))[:width]


def bar_column(
    values: Sequence[float | None], width: int = 12, *, plain: bool = False
) -> list[str]:
    """Bars for a table column beside `values` (e.g. revenue per segment), scaled to the
    largest magnitude; a negative value's bar is drawn `-` (plain) or `░` so it stands out."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    peak = max(finite, default=0.0)
    cells: list[str] = []
    for value in values:
        drawn = bar(None if value is None else abs(value), peak, width, plain=plain)
        if value is not None and value < 0:
            drawn = drawn.replace("#", "-") if plain else drawn.replace("█", "░")
        cells.append(drawn.rstrip())
    return cells


def margin_histograms(run: Mapping[str, Any], width: int, *, plain: bool = False) -> str:
    """For `infersim run`: a histogram of the margin per subscriber of each plan in one run of
    the `-f json` object (`users.PLAN.histogram`), with the breakeven line; "" if none."""
    blocks: list[str] = []
    for plan, stats in (run.get("users") or {}).items():
        hist = stats.get("histogram") or {}
        edges, counts = hist.get("edges_usd"), hist.get("users")
        if not edges or not counts or len(edges) != len(counts) + 1:
            continue
        title = f"margin per subscriber of {plan}, month 1"
        losing = stats.get("share_losing_money")
        if isinstance(losing, int | float):
            title += f": {losing:.1%} lose money"
        lines = histogram_lines(edges, counts, width, mark=0.0, plain=plain)
        blocks.append("\n".join([title, *lines]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
