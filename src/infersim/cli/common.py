"""What every command shares: output formats, atomic writes, error handling, global options.

Commands compute plain data (a JSON-able object plus `DataTable`s), then call `emit`, which
renders it as a Rich table, JSON, CSV or Markdown to stdout or atomically to `-o FILE`.
Diagnostics go to stderr. User errors print one line each and exit 2; an unexpected error
prints one line too (the traceback only with `--debug`).
"""

from __future__ import annotations

import errno
import os
import stat
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


HTML_COMMANDS = "run, compare, perf, sweep, sensitivity, breakeven and check"


def prepare_format(fmt: OutputFormat) -> None:
    """Fail before any work when the chosen format cannot be produced (html needs an extra)."""
    if fmt is OutputFormat.HTML:
        from infersim.report.charts import require_matplotlib

        require_matplotlib()


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="How to print the data.")
]


def writable_target(path: Path, flag: str = "-o") -> None:
    """Raise `UsageError` (one line, the fix) unless `path` can be written as a new regular
    file: checked before any work, so a long run never ends on a file it cannot write."""
    where = f"{flag} {path}".strip()
    if path.is_symlink():
        raise UsageError(
            f"{where}: is a symbolic link; give the file it points to ({path.resolve()}) "
            "or a new name"
        )
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{where}: is a directory; give a file name inside it")
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise UsageError(
                f"{where}: is {kind}, not a regular file; write to a file, "
                f"or leave out {flag} to print to stdout"
            )
        if not mode & 0o222 or not os.access(path, os.W_OK):
            raise UsageError(
                f"{where}: the file is read-only; make it writable (chmod u+w {path}) "
                "or write elsewhere"
            )
    directory = path.absolute().parent
    if not directory.is_dir():
        raise UsageError(f"{where}: directory {directory} does not exist; create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(
            f"{where}: cannot create files in {directory} (permission denied); write elsewhere"
        )


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
}

#: Formats that are one whole document, not text to read on a terminal.
DOCUMENT_FORMATS = frozenset({OutputFormat.HTML})


def refuse_document_on_terminal(fmt: OutputFormat, output: Path | None) -> None:
    """An HTML report printed to a terminal is thousands of lines of markup: ask for `-o`."""
    if fmt in DOCUMENT_FORMATS and output is None and sys.stdout.isatty():
        raise UsageError(
            f"--format {fmt.value} writes a whole document, not text for a terminal: "
            f"add -o report.{fmt.value} (or pipe it: ... > report.{fmt.value})"
        )


def _check_output(ctx: typer.Context, path: Path | None) -> Path | None:
    """Fail before any work when the output cannot be written there (or, without one, when
    the format chosen is not for a terminal)."""
    try:
        if path is not None:
            writable_target(path)
        else:
            fmt = ctx.params.get("fmt")
            if isinstance(fmt, OutputFormat):
                refuse_document_on_terminal(fmt, None)
    except UsageError as exc:
        raise CLICK_USAGE_ERROR(str(exc), ctx=ctx) from None
    return path


#: click's UsageError (Typer may vendor click): a usage error the CLI prints as one line.
CLICK_USAGE_ERROR: Any = typer.BadParameter.__bases__[0]


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
    """Write `text` to `path` via a temporary file in the same directory and a rename: never
    half a file. A file replaced keeps its mode; a new one gets what `open()` would give.
    Permission and disk errors are the user's to fix (`UsageError`, one line)."""
    writable_target(path, "")
    directory = path.absolute().parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # as a plain open() would have made it
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {_why(exc)}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {_why(exc)}; nothing was written") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _why(exc: OSError) -> str:
    """An OS error in words, with the fix where there is one."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space or write elsewhere"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded; free some space or write elsewhere"
    if isinstance(exc, PermissionError):
        return "permission denied; write elsewhere"
    return exc.strerror or str(exc)


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
        refuse_document_on_terminal(fmt, output)
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
