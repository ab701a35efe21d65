"""Tables and JSON as plain data, rendered as Rich text, CSV or Markdown.

Commands build `DataTable`s and a JSON-able object; the CLI decides where they go.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def render_rich(tables: Sequence[DataTable], width: int | None = None) -> str:
    console = Console(
        file=io.StringIO(),
        width=width or terminal_width(),
        force_terminal=False,
        no_color=True,
        highlight=False,
    )
    for table in tables:
        # every text is literal: '[h200]' in a name must not be read as Rich markup
        rich_table = Table(
            title=escape(table.title),
            caption=escape(table.caption) if table.caption else None,
            show_footer=table.footer is not None,
        )
        for index, column in enumerate(table.columns):
            footer = escape(_cell(table.footer[index])) if table.footer is not None else ""
            rich_table.add_column(escape(column), footer=footer, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*(escape(_cell(v)) for v in row))
        console.print(rich_table)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def terminal_width() -> int:
    try:
        return max(60, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 120


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
