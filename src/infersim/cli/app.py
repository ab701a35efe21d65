"""The `infersim` command line: one module per command, composed here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from infersim import __version__
from infersim.cli import baseline as baseline_cmd
from infersim.cli import breakeven as breakeven_cmd
from infersim.cli import catalog, compare, perf, run, schema, validate
from infersim.cli import check as check_cmd
from infersim.cli import diff as diff_cmd
from infersim.cli import sensitivity as sensitivity_cmd
from infersim.cli import sweep as sweep_cmd
from infersim.cli.common import GlobalOptions, stderr_console

#: click's UsageError, which Typer may vendor: the public BadParameter's base class.
USAGE_ERROR: type[Exception] = typer.BadParameter.__bases__[0]

app = typer.Typer(
    name="infersim",
    help="Simulate what LLM inference really costs, and what it earns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"infersim {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks of internal errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No diagnostics on stderr.")] = False,
    catalog_dirs: Annotated[
        list[Path] | None,
        typer.Option("--catalog", help="Extra catalog directory (gpus/models/prices.yaml)."),
    ] = None,
) -> None:
    """infersim: from GPU physics to tokens to GPU-hours to margins."""
    del version
    ctx.obj = GlobalOptions(debug=debug, quiet=quiet, catalog_dirs=list(catalog_dirs or []))


app.command("run")(run.run)
app.command("compare")(compare.compare)
app.command("validate")(validate.validate)
app.command("schema")(schema.schema)
app.command("perf")(perf.perf)
app.command("check")(check_cmd.check)
app.command("baseline")(baseline_cmd.baseline)
app.command("diff")(diff_cmd.diff)
app.command("sweep")(sweep_cmd.sweep)
app.command("sensitivity")(sensitivity_cmd.sensitivity)
app.command("breakeven")(breakeven_cmd.breakeven)
app.add_typer(catalog.catalog_app, name="catalog")


def main() -> None:
    """Console entry point: usage errors are one line too, like every other error."""
    try:
        code = app(standalone_mode=False)
    except USAGE_ERROR as exc:
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "infersim"
        message = exc.format_message()  # type: ignore[attr-defined]
        if message.strip():  # empty after `infersim` alone, which printed the help
            stderr_console().print(f"error: {message} (see '{where} --help')", markup=False)
        code = 2
    except typer.Abort:
        stderr_console().print("error: interrupted; nothing was written", markup=False)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
