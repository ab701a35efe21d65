"""`infersim sensitivity FILE --metric PATH [--vary ...]`: a tornado table of the inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infersim.analysis.overrides import parse_override
from infersim.analysis.sensitivity import sensitivity as run_sensitivity
from infersim.analysis.sensitivity import sensitivity_json, sensitivity_tables
from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    prepare_format,
    progress_reporter,
)
from infersim.cli.sweep import (
    ExecutorChoice,
    ExecutorOption,
    JobsOption,
    SchedulerOption,
    VariantOption,
    envelope,
    execution,
    load,
)
from infersim.report.html import sensitivity_report


@command
def sensitivity(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Scenario file; none = the built-in default.")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Output to rank the inputs by, e.g. pnl.gross_margin_pct (repeatable: one "
            "tornado each).",
            show_default=False,
        ),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="PATH=LOW,HIGH, PATH*=0.8,1.2 (factors), or PATH of a distribution (its p5 "
            "and p95). Repeatable; default: every distribution of the scenario.",
            show_default=False,
        ),
    ] = None,
    variant: VariantOption = None,
    jobs: JobsOption = 1,
    executor: ExecutorOption = ExecutorChoice.LOCAL,
    scheduler: SchedulerOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Tornado: move each input to its low and high value, others at base; rank by swing.

    Without --vary the inputs are the scenario's distributions, each from its p5 to its p95,
    and the base is their medians. E.g. --metric pnl.operating_margin_usd
    --vary 'costs.gpu.usd_per_gpu_hour=2,4' --vary 'workload.users.plus.users*=0.5,2'.
    """
    prepare_format(fmt)
    specs = [parse_override(text, "--vary", values_required=False) for text in vary or []]
    chosen = execution(jobs, executor, scheduler)
    source = load(ctx, file, variant)
    with progress_reporter(ctx, f"tornado of {source.base.label}") as report:
        result = run_sensitivity(source, metric or [], specs, chosen, report)
    data = envelope(sensitivity_json(result))
    tables = sensitivity_tables(result)
    emit(ctx, fmt, output, data, tables, html=lambda: sensitivity_report(data, tables))
