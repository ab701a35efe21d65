"""Tables and JSON as plain data, rendered as Rich text, CSV or Markdown.

Commands build `DataTable`s and a JSON-able object; the CLI decides where they go.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infersim.report.text_safety import csv_cell, markdown_text


@dataclass(frozen=True)
class DataTable:
    """A titled table of plain values: rendered as Rich, CSV or Markdown."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    footer: Sequence[Any] | None = None
    caption: str | None = None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


#: Bounds of the width used when stdout is not a terminal and `COLUMNS` is not set: the
#: width of the terminal the command runs from (on stderr), kept readable in a pager or a log.
PIPE_WIDTH_BOUNDS = (80, 120)
#: The width when no terminal can be found at all (a CI log, a cron job).
PIPE_WIDTH_DEFAULT = 120
#: The narrowest width rendered: below it a table cannot show one figure per line.
MIN_WIDTH = 40

#: A cell that reads as a figure: digits with money, percent, ranges, ratios and short units.
_FIGURE = re.compile(
    r"[<>=≤≥~]*\s?[-+]?\$?[\d,]*\.?\d+(\s?(%|pp|pts|[kMBT]|ms|s|h|x))?"
    r"(\s?(/|-|\.\.|to)\s?[-+]?\$?[\d,]*\.?\d+(\s?(%|[kMBT]|ms|s|h))?)?"
    r"(\s\([-+]?\$?[\d,.]+(%|pp| pp)?(\s?(-|to)\s?[-+]?\$?[\d,.]+%?)?\))?"
)


def is_figure(text: str) -> bool:
    """Whether a cell's text is a figure (`$2,000,000`, `99.6%`, `36.2 / 8,192`,
    `286.3 (246.7-325.3)`): right-aligned and never split across lines."""
    stripped = text.strip()
    return (
        bool(stripped) and any(c.isdigit() for c in stripped) and bool(_FIGURE.fullmatch(stripped))
    )


def _is_numeric_column(cells: Sequence[str]) -> bool:
    """Right-aligned: most of the column's cells are figures (a turned table mixes kinds)."""
    shown = [c for c in cells if c.strip() not in ("", "-")]
    return bool(shown) and 2 * sum(is_figure(c) for c in shown) > len(shown)


def _rich_table(
    table: DataTable,
    rows: Sequence[Sequence[str]],
    footer: Sequence[str] | None,
    numeric: Sequence[bool],
    widths: Sequence[int] | None,
) -> Table:
    # every text is literal: '[h200]' in a name must not be read as Rich markup
    rich_table = Table(
        title=escape(table.title),
        caption=escape(table.caption) if table.caption else None,
        show_footer=footer is not None,
    )
    for index, column in enumerate(table.columns):
        rich_table.add_column(
            escape(column),
            footer=escape(footer[index]) if footer is not None else "",
            justify="right" if numeric[index] else "left",
            overflow="fold",
            width=None if widths is None else widths[index],
        )
    for row in rows:
        rich_table.add_row(*(escape(v) for v in row))
    return rich_table


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


@dataclass(frozen=True)
class _Layout:
    """A table's cells as text, which columns are figures, and its column widths: the widest
    (nothing wraps) and the narrowest (figures whole, words whole)."""

    rows: list[list[str]]
    footer: list[str] | None
    numeric: list[bool]
    widest: list[int]
    narrowest: list[int]

    @staticmethod
    def of(table: DataTable) -> _Layout:
        rows = [[_cell(v) for v in row] for row in table.rows]
        footer = None if table.footer is None else [_cell(v) for v in table.footer]
        everything = [*rows, *([footer] if footer is not None else [])]
        numeric: list[bool] = []
        widest: list[int] = []
        narrowest: list[int] = []
        for index, column in enumerate(table.columns):
            cells = [r[index] for r in everything]
            numeric.append(_is_numeric_column(cells))
            longest = max((cell_len(c) for c in cells), default=0)
            widest.append(max(longest, cell_len(column)))
            # a figure is never split; words are (the header's too)
            whole = [cell_len(c) if is_figure(c) else _longest_word(c) for c in cells]
            narrowest.append(max([*whole, _longest_word(column)]))
        return _Layout(rows, footer, numeric, widest, narrowest)

    @staticmethod
    def frame(columns: int) -> int:
        """The characters a table spends around its cells: padding 1 each side, borders."""
        return 3 * columns + 1

    def fits(self, width: int) -> bool:
        return sum(self.narrowest) + self.frame(len(self.numeric)) <= width

    def widths(self, width: int) -> list[int] | None:
        """None when the widest layout fits; else the narrowest widths, the room left shared
        among the columns that wrap, in proportion to what they would take unwrapped."""
        room = width - self.frame(len(self.numeric))
        if sum(self.widest) <= room:
            return None
        widths = list(self.narrowest)
        spare = room - sum(widths)
        wants = [w - n for w, n in zip(self.widest, self.narrowest, strict=True)]
        total = sum(wants)
        if spare > 0 and total > 0:
            for index, want in enumerate(wants):
                widths[index] += min(want, spare * want // total)
        return widths


def _as_rich(table: DataTable, width: int) -> Table:
    layout = _Layout.of(table)
    return _rich_table(table, layout.rows, layout.footer, layout.numeric, layout.widths(width))


def _transposed(table: DataTable) -> DataTable:
    """One row per column, one column per row (its first cell as the heading)."""
    rows = [*table.rows, *([table.footer] if table.footer is not None else [])]
    heads = [_cell(row[0]) for row in rows]
    columns = [table.columns[0], *heads]
    body = [
        [column, *(_cell(row[index]) for row in rows)]
        for index, column in enumerate(table.columns)
        if index > 0
    ]
    return DataTable(table.title, columns, body, caption=table.caption)


def _split(table: DataTable, width: int) -> list[DataTable]:
    """The columns in groups that fit, each with the first (key) column."""
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(1, len(table.columns)):
        trial = [0, *current, index]
        if current and not _Layout.of(_select(table, trial)).fits(width):
            groups.append(current)
            current = [index]
        else:
            current.append(index)
    if current:
        groups.append(current)
    count = len(groups)
    return [
        _select(table, [0, *group], f" ({part} of {count})" if count > 1 else "")
        for part, group in enumerate(groups, 1)
    ]


def _select(table: DataTable, indices: Sequence[int], suffix: str = "") -> DataTable:
    return DataTable(
        table.title + suffix,
        [table.columns[i] for i in indices],
        [[row[i] for i in indices] for row in table.rows],
        footer=None if table.footer is None else [table.footer[i] for i in indices],
        caption=table.caption,
    )


def fitted(table: DataTable, width: int) -> list[DataTable]:
    """`table` as it fits `width`: as it is; else transposed (one row per column) when it has
    few rows; else its columns split into parts that each fit (the first column in each)."""
    if _Layout.of(table).fits(width) or len(table.columns) < 2:
        return [table]
    rows = len(table.rows) + (table.footer is not None)
    if rows <= TRANSPOSE_MAX_ROWS:
        turned = _transposed(table)
        if _Layout.of(turned).fits(width):
            return [turned]
    return _split(table, width)


#: A table with at most this many rows (footer included) may be turned on its side to fit.
TRANSPOSE_MAX_ROWS = 6


def render_rich(tables: Sequence[DataTable], width: int | None = None) -> str:
    """Tables as text at `width` (the terminal's, see `terminal_width`): figures
    right-aligned and never split; a table too wide is turned or split (`fitted`)."""
    width = max(MIN_WIDTH, width or terminal_width())
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=False,
        no_color=True,
        highlight=False,
    )
    for table in tables:
        for part in fitted(table, width):
            console.print(_as_rich(part, width))
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def terminal_width(environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> int:
    """The width to render at: `COLUMNS` when set; the terminal's when stdout is one (Rich's
    detection); otherwise (a pipe, a file) the terminal the command runs from, within
    `PIPE_WIDTH_BOUNDS`, or `PIPE_WIDTH_DEFAULT` when there is none."""
    env = os.environ if environ is None else environ
    out = sys.stdout if stream is None else stream
    given = env.get("COLUMNS", "").strip()
    if given.isdigit() and int(given) > 0:
        return max(MIN_WIDTH, int(given))
    isatty = getattr(out, "isatty", None)
    try:
        on_terminal = callable(isatty) and bool(isatty())
    except (ValueError, OSError):
        on_terminal = False
    if on_terminal:
        return max(MIN_WIDTH, Console(file=out).width)
    low, high = PIPE_WIDTH_BOUNDS
    for fd in (2, 0):
        try:
            return min(high, max(low, os.get_terminal_size(fd).columns))
        except OSError:
            continue
    return PIPE_WIDTH_DEFAULT


def render_csv(tables: Sequence[DataTable]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for index, table in enumerate(tables):
        if index:
            buffer.write("\n")
        if len(tables) > 1:
            writer.writerow([f"# {table.title}"])
        writer.writerow([csv_cell(c) for c in table.columns])
        writer.writerows([["" if v is None else csv_cell(v) for v in row] for row in table.rows])
        if table.footer is not None:
            writer.writerow(["" if v is None else csv_cell(v) for v in table.footer])
    return buffer.getvalue()


def render_markdown(tables: Sequence[DataTable]) -> str:
    parts: list[str] = []
    for table in tables:
        lines = [f"### {markdown_text(table.title)}", ""]
        lines.append("| " + " | ".join(markdown_text(c) for c in table.columns) + " |")
        lines.append("|" + "|".join("---" for _ in table.columns) + "|")
        rows = [*table.rows, *([table.footer] if table.footer is not None else [])]
        for row in rows:
            cells = [markdown_text(_cell(v)) for v in row]
            lines.append("| " + " | ".join(cells) + " |")
        if table.caption:
            lines += ["", markdown_text(table.caption)]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def significant(value: float, digits: int = 6) -> float:
    """`value` rounded to `digits` significant figures (stable, diff-friendly JSON)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def cents(value: float) -> float:
    """Money in the output: rounded to cents (computations keep full precision)."""
    return round(value, 2)
