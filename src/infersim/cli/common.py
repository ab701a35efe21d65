"""What every command shares: output formats, atomic writes, error handling, global options.

Commands compute plain data (a JSON-able object plus `DataTable`s), then call `emit`, which
renders it as a Rich table, JSON, CSV or Markdown to stdout or atomically to `-o FILE`.
Diagnostics go to stderr. User errors print one line each and exit 2; an unexpected error
prints one line too (the traceback only with `--debug`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from infersim.catalog.load import Catalog, load_builtin, load_dirs
from infersim.errors import ConfigError, InfersimError, UsageError


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="How to print the data.")
]


def _check_output(path: Path | None) -> Path | None:
    """Fail before any work when the output cannot be written there."""
    if path is not None:
        if path.is_dir():
            raise typer.BadParameter(f"{path} is a directory")
        if not path.resolve().parent.is_dir():
            raise typer.BadParameter(f"directory {path.resolve().parent} does not exist")
    return path


OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (atomically) instead of stdout.",
        callback=_check_output,
    ),
]


@dataclass
class GlobalOptions:
    """Options given before the command name, kept on the Typer context."""

    debug: bool = False
    quiet: bool = False
    catalog_dirs: list[Path] = field(default_factory=list)

    def catalog(self) -> Catalog:
        base = load_builtin()
        return load_dirs(base, self.catalog_dirs) if self.catalog_dirs else base


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def info(ctx: typer.Context, message: str) -> None:
    """A diagnostic line on stderr, silenced by --quiet."""
    if not global_options(ctx).quiet:
        stderr_console().print(message, markup=False)


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
        width=width or _terminal_width(),
        force_terminal=False,
        no_color=True,
        highlight=False,
    )
    for table in tables:
        rich_table = Table(
            title=table.title, caption=table.caption, show_footer=table.footer is not None
        )
        for index, column in enumerate(table.columns):
            footer = _cell(table.footer[index]) if table.footer is not None else ""
            rich_table.add_column(column, footer=footer, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*(_cell(v) for v in row))
        console.print(rich_table)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def _terminal_width() -> int:
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
        writer.writerow(table.columns)
        writer.writerows([["" if v is None else v for v in row] for row in table.rows])
        if table.footer is not None:
            writer.writerow(["" if v is None else v for v in table.footer])
    return buffer.getvalue()


def render_markdown(tables: Sequence[DataTable]) -> str:
    parts: list[str] = []
    for table in tables:
        lines = [f"### {table.title}", ""]
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "|".join("---" for _ in table.columns) + "|")
        rows = [*table.rows, *([table.footer] if table.footer is not None else [])]
        for row in rows:
            cells = [_cell(v).replace("|", "\\|") for v in row]
            lines.append("| " + " | ".join(cells) + " |")
        if table.caption:
            lines += ["", table.caption]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render(fmt: OutputFormat, data: Any, tables: Sequence[DataTable]) -> str:
    if fmt is OutputFormat.JSON:
        return render_json(data)
    if fmt is OutputFormat.CSV:
        return render_csv(tables)
    if fmt is OutputFormat.MARKDOWN:
        return render_markdown(tables)
    return render_rich(tables)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and a rename: never half a file."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise UsageError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as a plain open() would have made it
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit(
    ctx: typer.Context,
    fmt: OutputFormat,
    output: Path | None,
    data: Any,
    tables: Sequence[DataTable],
) -> None:
    """Render and deliver a command's result (stdout, or `-o` atomically)."""
    text = render(fmt, data, tables)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(output, text)
        info(ctx, f"wrote {output}")


def fail(message: str) -> NoReturn:
    raise UsageError(message)


def _print_error_lines(lines: Sequence[str]) -> None:
    console = stderr_console()
    for line in lines:
        console.print(f"error: {line}", markup=False)


@contextmanager
def user_errors(ctx: typer.Context) -> Iterator[None]:
    """Turn every failure into one line per problem on stderr and exit code 2."""
    try:
        yield
    except typer.Exit:
        raise
    except ConfigError as exc:
        _print_error_lines([p.format() for p in exc.problems])
        raise typer.Exit(2) from None
    except InfersimError as exc:
        _print_error_lines([str(exc)])
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        _print_error_lines(["interrupted; nothing was written"])
        raise typer.Exit(130) from None
    except Exception as exc:
        if global_options(ctx).debug:
            raise
        _print_error_lines(
            [f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"]
        )
        raise typer.Exit(2) from None


def command(func: Callable[..., None]) -> Callable[..., None]:
    """Decorator for command bodies whose first parameter is the Typer context."""
    import functools

    @functools.wraps(func)
    def wrapper(ctx: typer.Context, *args: Any, **kwargs: Any) -> None:
        with user_errors(ctx):
            func(ctx, *args, **kwargs)

    return wrapper
