"""What every command shares: output formats, atomic writes, error handling, global options.

Commands compute plain data (a JSON-able object plus `DataTable`s), then call `emit`, which
renders it as a Rich table, JSON, CSV or Markdown to stdout or atomically to `-o FILE`.
Diagnostics go to stderr. User errors print one line each and exit 2; an unexpected error
prints one line too (the traceback only with `--debug`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from infersim.errors import ConfigError, InfersimError, UsageError
from infersim.report.tables import DataTable, render_csv, render_json, render_markdown, render_rich

if TYPE_CHECKING:
    from infersim.catalog.load import Catalog

__all__ = ["DataTable", "render_json"]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


HTML_COMMANDS = "run, compare, perf, sweep and check"


def prepare_format(fmt: OutputFormat) -> None:
    """Fail before any work when the chosen format cannot be produced (html needs an extra)."""
    if fmt is OutputFormat.HTML:
        from infersim.report.charts import require_matplotlib

        require_matplotlib()


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
        # imported here: the catalog's models pull in pydantic schemas and numpy, which the
        # root options (`infersim --version`) should not pay for
        from infersim.catalog.load import load_builtin, load_dirs

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
    html: Callable[[], str] | None = None,
    trailer: Callable[[bool], str] | None = None,
) -> None:
    """Render and deliver a command's result (stdout, or `-o` atomically).

    `html` builds the self-contained HTML report of commands that have one; `trailer(plain)`
    adds text after the tables (terminal charts), plain when not writing to a terminal.
    """
    if fmt is OutputFormat.HTML:
        if html is None:
            raise UsageError(f"--format html is available for {HTML_COMMANDS}")
        text = html()
    else:
        text = render(fmt, data, tables)
    if fmt is OutputFormat.TABLE and trailer is not None:
        from infersim.report.terminal_charts import plain_output

        text += trailer(output is not None or plain_output(sys.stdout))
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(output, text)
        info(ctx, f"wrote {output}")


@contextmanager
def progress_reporter(
    ctx: typer.Context, description: str
) -> Iterator[Callable[[str, float], None] | None]:
    """A transient Rich progress bar on stderr (a terminal only, and not with --quiet).

    The bar pulses (no percentage) until a stage reports a fraction above zero, and never
    moves back: a later stage restarting at 0 (the next month's serving) only changes the text.
    """
    console = stderr_console()
    if global_options(ctx).quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=None)
        shown = 0.0

        def report(stage: str, done: float) -> None:
            nonlocal shown
            text = f"{description}: {stage}"
            if done > shown:
                shown = done
                bar.update(task, total=1.0, completed=done, description=text)
            else:
                bar.update(task, description=text)

        yield report


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
