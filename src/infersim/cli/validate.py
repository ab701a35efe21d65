"""`infersim validate FILE...`: check scenario files and every variant they define.

A file is valid when `infersim run` would run it and each of its variants: schema,
references, and the preflight (`infersim.scenario.preflight`: deployments that fit, data files
that parse, requests that fit, `expect:` metrics that exist)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from infersim.cli.common import (
    HTML_COMMANDS,
    FormatOption,
    OutputFormat,
    command,
    global_options,
    info,
    render,
    render_json,
)
from infersim.errors import ConfigError, UsageError
from infersim.scenario.load import validate_file


@command
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    fmt: FormatOption = OutputFormat.TABLE,
    list_metrics: Annotated[
        bool,
        typer.Option(
            "--list-metrics",
            help="Also list the metric paths expect: may name (nothing runs), per valid file.",
        ),
    ] = False,
) -> None:
    """Check scenario files as `run` would: schema, references, deployments, data files and
    expect: metrics, in every variant. Exit 0 when valid, 2 when not."""
    if list_metrics and fmt is OutputFormat.JSON:
        raise UsageError("--list-metrics prints tables: drop -f json (or use check --list-metrics)")
    if fmt is OutputFormat.HTML:
        raise UsageError(f"--format html is available for {HTML_COMMANDS}")
    listed = []
    options = global_options(ctx)
    try:  # parsed once for all files and variants, not once each
        catalog, catalog_dirs = options.catalog(), []
    except ConfigError:  # each file reports the catalog's problems, as it always did
        catalog, catalog_dirs = None, options.catalog_dirs
    report: list[dict[str, object]] = []
    failed = 0
    for path in files:
        checked = validate_file(path, catalog=catalog, catalog_dirs=catalog_dirs)
        problems, variants = checked.problems, checked.variants
        failed += bool(problems)
        report.append(
            {
                "file": str(path),
                "valid": not problems,
                "variants": variants,
                "problems": [
                    {"file": p.file, "line": p.line, "path": p.path, "message": p.message}
                    for p in problems
                ],
            }
        )
        if fmt is not OutputFormat.JSON:
            for problem in problems:
                typer.echo(problem.format())
            if not problems:
                suffix = f" ({variants} variants)" if variants else ""
                info(ctx, f"{path}: ok{suffix}")
                if list_metrics and None in checked.loaded:
                    listed.append((str(path), checked.loaded[None].scenario))
    if fmt is OutputFormat.JSON:
        typer.echo(render_json(report), nl=False)
    if listed:
        from infersim.report.metric_list import metric_listing

        data, tables = metric_listing(listed)
        sys.stdout.write(render(fmt, data, tables))
        sys.stdout.flush()
    if failed:
        sys.stdout.flush()  # every problem's line ends before the summary on stderr
        info(ctx, f"{failed} of {len(files)} file(s) invalid")
        raise typer.Exit(2)
