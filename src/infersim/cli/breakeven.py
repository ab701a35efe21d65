"""`infersim breakeven FILE --vary PATH --range LOW,HIGH --target METRIC=VALUE`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from infersim.analysis.breakeven import breakeven as solve
from infersim.analysis.breakeven import breakeven_json, breakeven_rows
from infersim.analysis.overrides import OverrideSpec, parse_override
from infersim.cli.common import (
    DataTable,
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    prepare_format,
    progress_reporter,
)
from infersim.cli.sweep import VariantOption, envelope, load
from infersim.errors import UsageError
from infersim.report.html import breakeven_report


def _number(text: str, option: str) -> float:
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        raise UsageError(f"{option} {text}: '{text.strip()}' is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{option} {text}: must be a finite number")
    return value


def parse_range(text: str) -> tuple[float, float]:
    parts = text.replace("..", ",").split(",")
    if len(parts) != 2:
        raise UsageError(f"--range {text}: expected LOW,HIGH, e.g. --range 10,40")
    low, high = (_number(p, "--range") for p in parts)
    if low >= high:
        raise UsageError(f"--range {text}: LOW must be below HIGH")
    return low, high


def parse_target(text: str) -> tuple[str, float]:
    metric, eq, value = text.partition("=")
    if not eq or not metric.strip():
        raise UsageError(f"--target {text}: expected METRIC=VALUE, e.g. pnl.gross_margin_pct=30")
    return metric.strip(), _number(value, "--target")


@command
def breakeven(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Scenario file; none = the built-in default.")
    ] = None,
    vary: Annotated[
        str,
        typer.Option(
            "--vary",
            help="The input to solve for (a dotted path; a pattern moves every match).",
            show_default=False,
        ),
    ] = "",
    range_: Annotated[
        str,
        typer.Option("--range", help="LOW,HIGH: where to look.", show_default=False),
    ] = "",
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="METRIC=VALUE, e.g. pnl.gross_margin_pct=30.",
            show_default=False,
        ),
    ] = "",
    scale: Annotated[
        bool,
        typer.Option("--scale", help="The range is a factor on the base value(s): 1.3 = +30%."),
    ] = False,
    xtol: Annotated[
        float | None,
        typer.Option("--xtol", help="Tolerance on the input (default: 1e-6 of the range)."),
    ] = None,
    variant: VariantOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Solve for the input value at which an output hits a target.

    E.g. the subscription price at which the gross margin is 30%:
    --vary pricing.plans.plus.price_usd_per_month --range 5,100
    --target pnl.gross_margin_pct=30. Exit 2, saying so, when the output does not cross the
    target within the range.
    """
    prepare_format(fmt)
    for option, given in (("--vary", vary), ("--range", range_), ("--target", target)):
        if not given:
            raise UsageError(f"missing {option} (see 'infersim breakeven --help')")
    parsed = parse_override(vary, "--vary", values_required=False)
    if parsed.values:
        raise UsageError(f"--vary {vary}: give the path only; the values come from --range")
    low, high = parse_range(range_)
    metric, value = parse_target(target)
    spec = OverrideSpec(vary, parsed.pattern, "scale" if scale else "set", (low, high))
    source = load(ctx, file, variant)
    with progress_reporter(ctx, f"breakeven of {source.base.label}") as report:
        result = solve(source, spec, low, high, metric, value, xtol, report)
    table = DataTable(f"{result.label}: breakeven", ["", "value"], breakeven_rows(result))
    data = envelope(breakeven_json(result))
    emit(
        ctx, fmt, output, data, [table],
        html=lambda: breakeven_report(data, [table], result.evaluations),
    )  # fmt: skip
