"""Charts as SVG strings, drawn with matplotlib (the optional `report` extra).

One function per kind of chart, each taking plain lists and dicts and returning an `<svg>`
element ready to inline in HTML (no XML prolog, no metadata, no external references). The
output is deterministic: the same input gives byte-identical SVG (a fixed `svg.hashsalt` for
the ids, no date, text kept as text rather than glyph paths).

matplotlib is imported lazily and without pyplot (no global figure registry, no GUI backend);
without it, `ReportExtraMissingError` says which extra to install.

Units name how values are shown on an axis: `usd`, `usd_per_mtok`, `pct` (already in
percent), `share` (a fraction shown in percent), `s` (seconds), `count`.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infersim.errors import InfersimError
from infersim.report.bins import tail_label, with_tail

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "--format html needs the 'report' extra: pip install 'infersim[report]'"

#: Colours (colour-blind safe where they must be told apart).
BLUE = "#2b6cb0"
ORANGE = "#dd6b20"
GREEN = "#2f855a"
RED = "#c53030"
GREY = "#718096"
PALETTE = (BLUE, ORANGE, GREEN, "#805ad5", "#d53f8c", "#319795", GREY, "#b7791f")
VERDICT_COLOURS = {"better": GREEN, "worse": RED, "same": GREY}

STYLE: dict[Any, Any] = {  # keys: matplotlib rcParams
    "svg.hashsalt": "infersim",
    "svg.fonttype": "none",
    "text.parse_math": False,  # "$ spent per $" is money, not TeX
    "font.family": "sans-serif",  # DejaVu Sans ships with matplotlib: no font lookup fails
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#a0aec0",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.8,
    "xtick.color": "#4a5568",
    "ytick.color": "#4a5568",
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "figure.dpi": 100.0,
}

WIDTH_IN = 8.0


class ReportExtraMissingError(InfersimError):
    """matplotlib is not installed: HTML reports need the `report` extra."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


@dataclass(frozen=True)
class Panel:
    """One small chart of lines sharing the x axis with its neighbours: `series` maps a
    legend label to its values (None: no value there)."""

    title: str
    unit: str
    series: Mapping[str, Sequence[float | None]]
    log_y: bool = False


@dataclass(frozen=True)
class BarPanel:
    """One metric across runs: values, the change of each against the first (in %, or in
    percentage points for a `pct` or `share` unit; None for the first run or where
    undefined) and each run's verdict (better / worse / same)."""

    title: str
    unit: str
    values: Sequence[float | None]
    deltas_pct: Sequence[float | None]
    verdicts: Sequence[str | None]


def require_matplotlib() -> None:
    """Raise `ReportExtraMissingError` now (before any work) when matplotlib is not installed."""
    _figure_class()


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ReportExtraMissingError() from exc
    return Figure


@contextmanager
def _style() -> Iterator[None]:
    try:
        import matplotlib
    except ImportError as exc:
        raise ReportExtraMissingError() from exc
    with matplotlib.rc_context(STYLE):
        yield


def _new_figure(height_in: float, rows: int = 1, cols: int = 1) -> tuple[Figure, list[Axes]]:
    figure = _figure_class()(figsize=(WIDTH_IN, height_in), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, [ax for row in axes for ax in row]


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


def _to_svg(figure: Figure, label: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue()))
    aria = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    # sized by the page's CSS from the viewBox, so it fits any width
    return _SIZE.sub(rf'<svg\1 class="chart" role="img" aria-label="{aria}"', text, count=1)


def _render(title: str, draw: Callable[[], Figure]) -> str:
    with _style():
        return _to_svg(draw(), title)


# --- number formats ---------------------------------------------------------------------


def _compact(value: float) -> str:
    magnitude = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_value(value: float, unit: str) -> str:
    """A value as a person reads it: `$1.2M`, `45.2%`, `12.5 ms`, `3.4k`."""
    if not math.isfinite(value):
        return "-"
    sign = "-" if value < 0 else ""
    if value == 0 and unit in ("usd", "usd_per_mtok", "usd_per_gpu_hour"):
        return "$0"
    if unit == "usd":
        magnitude = abs(value)
        return f"{sign}${_compact(magnitude) if magnitude >= 1000 else f'{magnitude:,.2f}'}"
    if unit in ("usd_per_mtok", "usd_per_gpu_hour"):
        return f"{sign}${abs(value):.3g}"
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "s":
        magnitude = abs(value)
        if magnitude == 0:
            return "0 s"
        if magnitude < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if magnitude < 1:
            return f"{value * 1e3:.3g} ms"
        return f"{value:.3g} s"
    return _compact(value)


def _axis_formatter(ax: Axes, unit: str, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _pos: format_value(float(value), unit))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _xy(x: Sequence[float], values: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """Points with a value (a gap in the line where there is none)."""
    xs = [a for a, v in zip(x, values, strict=True) if v is not None and math.isfinite(v)]
    ys = [v for v in values if v is not None and math.isfinite(v)]
    return xs, ys


# --- the charts ---------------------------------------------------------------------------


def waterfall(title: str, steps: Sequence[tuple[str, float, str]], unit: str = "usd") -> str:
    """Revenue -> costs -> margin. `steps` are `(label, value, kind)`: kind `total` is a bar
    from zero (revenue, a margin subtotal), `delta` floats from the running total (a cost is
    negative). Totals are green when positive, red when negative; costs are orange."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.4)
        running = 0.0
        labels: list[str] = []
        for index, (label, value, kind) in enumerate(steps):
            if kind == "total":
                bottom, height = 0.0, value
                running = value
                colour = (BLUE if index == 0 else GREEN) if value >= 0 else RED
            else:
                # drawn upwards from the lower end: a bar's base is a "sticky" limit, and one
                # at the top would stop the axis from leaving room for the labels
                bottom, height = min(running, running + value), abs(value)
                running += value
                colour = ORANGE if value < 0 else BLUE
            ax.bar(index, height, bottom=bottom, color=colour, width=0.62)
            top = max(bottom, bottom + height)
            ax.annotate(
                format_value(value, unit),
                (index, top),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
            if index + 1 < len(steps):
                ax.plot([index + 0.31, index + 0.69], [running, running], color=GREY, lw=0.8)
            labels.append(label)
        ax.axhline(0, color="#4a5568", lw=0.8)
        ax.set_xticks(range(len(labels)), labels)
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.12)
        _axis_formatter(ax, unit)
        ax.set_title(title)
        return figure

    return _render(title, draw)


def histogram(
    title: str,
    edges: Sequence[float],
    counts: Sequence[float],
    *,
    mark: float | None = None,
    mark_label: str = "breakeven",
    below_label: str | None = None,
    unit: str = "usd",
    xlabel: str = "",
    ylabel: str = "",
) -> str:
    """Bars over `edges` (one more than `counts`); the first bin is a tail (everyone below its
    upper edge, `infersim.report.bins`), drawn one bin wide at the left and labelled `<= X`;
    bins at or below `mark` (e.g. a zero margin) in red, a dashed line at `mark`, and
    `below_label` (the caller's count of those below it, e.g. the table's "lose money"
    figure) beside it."""
    if len(edges) != len(counts) + 1:
        raise ValueError(f"need len(edges) == len(counts) + 1, got {len(edges)} and {len(counts)}")
    edges, counts = with_tail(edges, counts, mark)

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.2)
        widths = [hi - lo for lo, hi in itertools.pairwise(edges)]
        step = min(widths[1:]) if len(widths) > 1 else widths[0]
        # the tail one bin wide, a bin's gap left of the rest: its range is in its label
        lefts = [edges[1] - 2 * step, *edges[1:-1]]
        shown = [step, *widths[1:]]
        uppers = list(edges[1:])
        colours = [RED if mark is not None and hi <= mark else BLUE for hi in uppers]
        ax.bar(lefts, counts, width=shown, align="edge", color=colours, linewidth=0)
        ax.annotate(
            tail_label(format_value(edges[1], unit)),
            (lefts[0] + step / 2, counts[0]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
        low, high = lefts[0], edges[-1]
        if mark is not None:
            low, high = min(low, mark), max(high, mark)
        pad = (high - low) * 0.03 or 1.0
        ax.set_xlim(low - pad, high + pad)
        if mark is not None:
            ax.axvline(mark, color="#1a202c", lw=1.2, ls="--")
            ax.annotate(
                f" {mark_label} ({format_value(mark, unit)})",
                (mark, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=8,
            )
            if below_label:
                # the few below the mark are easy to miss beside the peak: shade and count them
                ax.axvspan(low - pad, mark, color=RED, alpha=0.07, linewidth=0)
                ax.annotate(
                    f"{below_label} ",
                    (mark, 0.78),
                    xycoords=("data", "axes fraction"),
                    ha="right",
                    va="top",
                    fontsize=8,
                    color=RED,
                )
        _axis_formatter(ax, unit, "x")
        _axis_formatter(ax, "count")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        return figure

    return _render(title, draw)


def line_panels(
    title: str,
    x: Sequence[float],
    panels: Sequence[Panel],
    *,
    xlabel: str = "",
    log_x: bool = False,
    x_ticks: Sequence[float] | None = None,
    marked_x: Sequence[float] = (),
    marked_label: str = "",
) -> str:
    """Small multiples of lines over one x axis (months, batch size, a swept input), two per
    row; `marked_x` are points drawn hollow with a note (e.g. batches that do not fit)."""
    cols = len(panels) if len(panels) <= 3 else 2
    rows = math.ceil(len(panels) / cols)

    def draw() -> Figure:
        figure, axes = _new_figure(0.5 + 2.6 * rows, rows, cols)
        figure.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=10.5)
        for number, (ax, panel) in enumerate(zip(axes, panels, strict=False)):
            for index, (label, values) in enumerate(panel.series.items()):
                xs, ys = _xy(x, values)
                colour = PALETTE[index % len(PALETTE)]
                named = label if len(panel.series) > 1 else "_nolegend_"  # the title says it
                ax.plot(xs, ys, color=colour, lw=1.8, marker="o", ms=3.5, label=named)
                hollow = [(a, b) for a, b in zip(xs, ys, strict=True) if a in marked_x]
                if hollow:
                    ax.plot(
                        [a for a, _ in hollow],
                        [b for _, b in hollow],
                        ls="none",
                        marker="o",
                        ms=7,
                        mfc="white",
                        mec=RED,
                        label=marked_label if index == 0 and number == 0 else "_nolegend_",
                    )
            if log_x:
                ax.set_xscale("log", base=2)
            if panel.log_y:
                from matplotlib.ticker import LogLocator, NullFormatter

                ax.set_yscale("log")
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_minor_formatter(NullFormatter())
            if x_ticks is not None:
                from matplotlib.ticker import NullFormatter, NullLocator

                ax.set_xticks(list(x_ticks), [f"{t:g}" for t in x_ticks])
                ax.xaxis.set_minor_locator(NullLocator())
                ax.xaxis.set_minor_formatter(NullFormatter())
            if any(v is not None and v < 0 for s in panel.series.values() for v in s):
                ax.axhline(0, color="#4a5568", lw=0.8)
            _axis_formatter(ax, panel.unit)
            ax.set_title(panel.title, fontsize=9.5 if cols < 3 else 8.5)
            ax.set_xlabel(xlabel)
            if ax.get_legend_handles_labels()[1]:
                ax.legend(loc="best")
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        return figure

    return _render(title, draw)


def comparison_bars(title: str, runs: Sequence[str], panels: Sequence[BarPanel]) -> str:
    """Small multiples, one per metric: a bar per run (the first is the baseline, grey) with
    its value, and the others' change in % coloured by verdict (green better, red worse)."""
    cols = min(3, len(panels)) or 1
    rows = math.ceil(len(panels) / cols)

    def draw() -> Figure:
        figure, axes = _new_figure(0.4 + 2.5 * rows, rows, cols)
        figure.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=10.5)
        for ax, panel in zip(axes, panels, strict=False):
            colours = [
                GREY if i == 0 else VERDICT_COLOURS.get(verdict or "same", GREY)
                for i, verdict in enumerate(panel.verdicts)
            ]
            heights = [0.0 if v is None else v for v in panel.values]
            ax.bar(range(len(runs)), heights, color=colours, width=0.6)
            for i, (value, delta) in enumerate(zip(panel.values, panel.deltas_pct, strict=True)):
                if value is None:
                    continue
                text = format_value(value, panel.unit)
                if i > 0 and delta is not None:
                    # a percentage changes in points, not in percent of itself
                    points = panel.unit in ("pct", "share")
                    text += f"\n{delta:+.1f}{' pp' if points else '%'}"
                ax.annotate(
                    text,
                    (i, value),
                    xytext=(0, 2 if value >= 0 else -2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if value >= 0 else "top",
                    fontsize=7.5,
                )
            ax.axhline(0, color="#4a5568", lw=0.8)
            names = [textwrap.fill(run.replace("@", " @"), 16) for run in runs]
            ax.set_xticks(range(len(runs)), names, fontsize=7.5 if len(runs) > 2 else 8.5)
            ax.grid(axis="x", visible=False)
            ax.margins(y=0.3)
            _axis_formatter(ax, panel.unit)
            ax.set_title(panel.title, fontsize=9)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        return figure

    return _render(title, draw)


def delta_bars(
    title: str,
    metrics: Sequence[str],
    runs: Sequence[str],
    deltas_pct: Sequence[Sequence[float | None]],
    verdicts: Sequence[Sequence[str | None]],
) -> str:
    """Horizontal bars of the change in % of each metric (a row) for each run against the
    baseline (a bar per run in the row, named at its end when there are several), coloured by
    verdict; `deltas_pct[m][r]`."""
    n_runs = max(1, len(runs))

    def draw() -> Figure:
        figure, (ax,) = _new_figure(0.9 + 0.28 * len(metrics) * max(1.0, n_runs * 0.6))
        height = 0.8 / n_runs
        for r, run in enumerate(runs):
            ys = [m + (r - (n_runs - 1) / 2) * height for m in range(len(metrics))]
            values = [deltas_pct[m][r] for m in range(len(metrics))]
            colours = [
                VERDICT_COLOURS.get(verdicts[m][r] or "same", GREY) for m in range(len(metrics))
            ]
            ax.barh(
                ys,
                [0.0 if v is None else v for v in values],
                height=height * 0.9,
                color=colours,
                alpha=1.0 - 0.45 * r / max(1, n_runs - 1),  # later runs lighter
                linewidth=0,
            )
            for y, value in zip(ys, values, strict=True):
                if value is not None:
                    ax.annotate(
                        f"{value:+.1f}%" + (f" {run}" if n_runs > 1 else ""),
                        (value, y),
                        xytext=(3 if value >= 0 else -3, 0),
                        textcoords="offset points",
                        ha="left" if value >= 0 else "right",
                        va="center",
                        fontsize=7,
                    )
        ax.axvline(0, color="#4a5568", lw=0.8)
        ax.set_yticks(range(len(metrics)), list(metrics))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.18)
        ax.set_xlabel("change against the baseline")
        _axis_formatter(ax, "pct", "x")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def fan(
    title: str,
    x: Sequence[float],
    p5: Sequence[float],
    p50: Sequence[float],
    p95: Sequence[float],
    *,
    unit: str,
    xlabel: str = "",
    p25: Sequence[float] | None = None,
    p75: Sequence[float] | None = None,
) -> str:
    """A fan chart: the median line, the 5-95% band (and 25-75% when given) around it."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.2)
        ax.fill_between(x, p5, p95, color=BLUE, alpha=0.18, linewidth=0, label="5-95%")
        if p25 is not None and p75 is not None:
            ax.fill_between(x, p25, p75, color=BLUE, alpha=0.3, linewidth=0, label="25-75%")
        ax.plot(x, p50, color=BLUE, lw=2, label="median")
        if min(p5) < 0 < max(p95):
            ax.axhline(0, color="#4a5568", lw=0.8)
        _axis_formatter(ax, unit)
        ax.set_xlabel(xlabel)
        ax.legend(loc="best")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def samples_histogram(
    title: str,
    samples: Sequence[float],
    *,
    unit: str,
    bins: int = 30,
    mark: float | None = None,
    mark_label: str = "",
    percentiles: Mapping[str, float] | None = None,
) -> str:
    """The distribution of Monte Carlo samples of one metric: a histogram, dotted lines at
    the given percentiles (`{"p5": ..., "p50": ..., "p95": ...}`), a dashed one at `mark`."""
    import numpy as np

    finite = np.asarray([s for s in samples if math.isfinite(s)], dtype=float)
    if finite.size == 0:
        raise ValueError(f"{title}: no finite samples to draw")
    bins = min(bins, max(5, round(1.5 * math.sqrt(finite.size))))  # ~12 bins for 64 samples
    counts, edges = np.histogram(finite, bins=bins)

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.0)
        below = [mark is not None and (lo + hi) / 2 < mark for lo, hi in itertools.pairwise(edges)]
        ax.bar(
            edges[:-1],
            counts,
            width=np.diff(edges),
            align="edge",
            color=[RED if b else BLUE for b in below],
            linewidth=0,
        )
        for name, value in (percentiles or {}).items():
            ax.axvline(value, color=GREY, lw=1, ls=":")
            ax.annotate(
                f" {name}",
                (value, 0.98),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=7.5,
                color="#4a5568",
            )
        if mark is not None:
            ax.axvline(mark, color="#1a202c", lw=1.2, ls="--")
            if mark_label:
                ax.annotate(
                    f" {mark_label}",
                    (mark, 0.88),
                    xycoords=("data", "axes fraction"),
                    va="top",
                    fontsize=8,
                )
        _axis_formatter(ax, unit, "x")
        ax.set_ylabel("samples")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def status_bars(title: str, names: Sequence[str], counts: Mapping[str, Sequence[int]]) -> str:
    """Stacked horizontal bars, one per scenario: how many checks are ok, warn and fail
    (`counts` maps each of those levels to a count per name)."""
    colours = {"ok": GREEN, "warn": "#d69e2e", "fail": RED}

    def draw() -> Figure:
        figure, (ax,) = _new_figure(0.9 + 0.3 * len(names))
        left = [0.0] * len(names)
        for level, values in counts.items():
            ax.barh(
                range(len(names)),
                list(values),
                left=left,
                color=colours.get(level, GREY),
                height=0.6,
                label=level,
            )
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(range(len(names)), list(names))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("checks (expectations and baseline metrics)")
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right", ncols=len(counts))
        ax.set_title(title)
        return figure

    return _render(title, draw)


def intervals(
    title: str, rows: Sequence[tuple[str, str, float, float, float]], *, mark: float | None = 0.0
) -> str:
    """One row per output, each on its own axis and unit: the 5-95% range as a bar and the
    median as a tick, labelled; a dashed line at `mark` (zero) where a range crosses or
    touches it, and a range reaching below it in red. `rows` are (name, unit, p5, p50, p95)."""

    def draw() -> Figure:
        figure, axes = _new_figure(0.5 + 0.62 * len(rows), len(rows), 1)
        figure.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=10.5)
        for ax, (name, unit, p5, p50, p95) in zip(axes, rows, strict=True):
            colour = RED if mark is not None and p5 < mark else BLUE
            ax.barh(0, p95 - p5, left=p5, height=0.5, color=colour, alpha=0.35, linewidth=0)
            ax.plot([p50, p50], [-0.3, 0.3], color=colour, lw=2.2)
            for value, align in ((p5, "right"), (p95, "left")):
                ax.annotate(
                    format_value(value, unit),
                    (value, 0),
                    xytext=(-4 if align == "right" else 4, 0),
                    textcoords="offset points",
                    ha=align,
                    va="center",
                    fontsize=7.5,
                )
            ax.annotate(
                format_value(p50, unit),
                (p50, 0.3),
                xytext=(0, 1),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
                fontweight="bold",
            )
            span = (p95 - p5) or abs(p50) or 1.0
            low, high = p5 - 0.35 * span, p95 + 0.35 * span
            if mark is not None and low <= mark <= high:
                ax.axvline(mark, color="#1a202c", lw=1, ls="--")
            ax.set_xlim(low, high)
            ax.set_ylim(-0.6, 0.75)
            ax.set_yticks([0], [name])
            ax.grid(axis="y", visible=False)
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="y", length=0)
            _axis_formatter(ax, unit, "x")
            ax.tick_params(axis="x", labelsize=7)
        return figure

    return _render(title, draw)


def stacked_bars(
    title: str,
    names: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    *,
    unit: str = "usd",
    ylabel: str = "",
) -> str:
    """A bar per name, its parts stacked (e.g. the cost of each segment: GPUs, API
    purchases, serving overhead), each part's colour in the legend, the total above."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.0)
        bottoms = [0.0] * len(names)
        for index, (part, values) in enumerate(stacks.items()):
            ax.bar(
                range(len(names)), values, bottom=bottoms, width=0.6,
                color=PALETTE[index % len(PALETTE)], label=part,
            )  # fmt: skip
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        for i, total in enumerate(bottoms):
            ax.annotate(
                format_value(total, unit), (i, total), xytext=(0, 2),
                textcoords="offset points", ha="center", va="bottom", fontsize=7.5,
            )  # fmt: skip
        ax.set_xticks(range(len(names)), [textwrap.fill(n, 14) for n in names])
        ax.grid(axis="x", visible=False)
        _axis_formatter(ax, unit)
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def tornado(
    title: str,
    bars: Sequence[tuple[str, float, float]],
    base: float,
    *,
    unit: str,
    xlabel: str = "",
) -> str:
    """A tornado: per input (the widest swing first), a bar from the output at its low value
    to the output at its high value, around the base output (a line)."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(0.8 + 0.34 * max(len(bars), 2))
        for row, (_, at_low, at_high) in enumerate(bars):
            for value, colour in ((at_low, ORANGE), (at_high, BLUE)):
                ax.barh(row, value - base, left=base, color=colour, height=0.6)
        from matplotlib.patches import Patch

        handles = [
            Patch(color=ORANGE, label="input at its low value"),
            Patch(color=BLUE, label="input at its high value"),
        ]
        ax.axvline(base, color="#1a202c", lw=1.0)
        ax.set_yticks(range(len(bars)), [textwrap.shorten(b[0], 48) for b in bars])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        _axis_formatter(ax, unit, "x")
        ax.set_xlabel(xlabel or f"output (base {format_value(base, unit)})")
        ax.legend(handles=handles, loc="lower right")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def percentile_curves(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    unit: str = "s",
    xlabel: str = "",
) -> str:
    """Cumulative distributions through known percentiles: per series, the points
    (value, quantile) joined, quantile on the y axis (0-100%)."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.0)
        for index, (name, points) in enumerate(series.items()):
            ordered = sorted(points)
            ax.plot(
                [p[0] for p in ordered], [p[1] * 100 for p in ordered], marker="o",
                color=PALETTE[index % len(PALETTE)], label=name, lw=1.5, ms=4,
            )  # fmt: skip
        ax.set_ylim(0, 100)
        _axis_formatter(ax, unit, "x")
        _axis_formatter(ax, "pct")
        ax.set_ylabel("requests at or below")
        ax.set_xlabel(xlabel)
        ax.legend(loc="lower right")
        ax.set_title(title)
        return figure

    return _render(title, draw)


def solve_curve(
    title: str,
    points: Sequence[tuple[float, float]],
    target: float,
    solution: float | None,
    *,
    unit: str,
    xlabel: str,
) -> str:
    """The runs of a breakeven search: output against input, the target (a dashed line)
    and the input found (a dotted line)."""

    def draw() -> Figure:
        figure, (ax,) = _new_figure(3.0)
        ordered = sorted(points)
        ax.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o", color=BLUE, ms=4)
        ax.axhline(target, color=RED, lw=1.0, ls="--", label=f"target {format_value(target, unit)}")
        if solution is not None:
            # as the breakeven table writes it (`analysis.breakeven`): 6 significant digits
            ax.axvline(
                solution, color="#1a202c", lw=1.0, ls=":", label=f"breakeven {solution + 0.0:,.6g}"
            )
        _axis_formatter(ax, unit)
        ax.set_xlabel(xlabel)
        ax.legend(loc="best")
        ax.set_title(title)
        return figure

    return _render(title, draw)
