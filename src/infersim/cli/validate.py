"""`infersim validate FILE...`: check scenario files and every variant they define."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    command,
    global_options,
    info,
    render_json,
)
from infersim.errors import ConfigError, Problem
from infersim.scenario.compose import apply_variant, load_document, variant_names
from infersim.scenario.load import validate_document


def problems_in(path: Path, catalog_dirs: list[Path]) -> tuple[list[Problem], int]:
    """All problems in a file and its variants, and how many variants it has."""
    try:
        document = load_document(path)
    except ConfigError as exc:
        return exc.problems, 0
    base_dir = path.resolve().parent
    problems: list[Problem] = []
    try:
        validate_document(document, base_dir, catalog_dirs=catalog_dirs)
    except ConfigError as exc:
        problems.extend(exc.problems)
    names = variant_names(document)
    for name in names:
        try:
            validate_document(apply_variant(document, name), base_dir, catalog_dirs=catalog_dirs)
        except ConfigError as exc:
            problems.extend(
                Problem(p.file, p.line, p.path, f"{p.message} (in variant '{name}')")
                for p in exc.problems
                if p not in problems
            )
    return problems, len(names)


@command
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Check scenario files: schema, references, variants. Exit 0 when valid, 2 when not."""
    options = global_options(ctx)
    report: list[dict[str, object]] = []
    failed = 0
    for path in files:
        problems, variants = problems_in(path, options.catalog_dirs)
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
    if fmt is OutputFormat.JSON:
        typer.echo(render_json(report), nl=False)
    if failed:
        info(ctx, f"{failed} of {len(files)} file(s) invalid")
        raise typer.Exit(2)
