"""`infersim sweep FILE --set PATH=VALUES ...`: run a scenario over a grid of inputs.

Also home of the options every analysis command shares (`--jobs`, `--executor`,
`--scheduler`, `--metric`), for `sensitivity`, `breakeven` and `run --samples`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from infersim import __version__
from infersim.analysis.execute import Execution, ExecutorKind
from infersim.analysis.overrides import parse_override
from infersim.analysis.runs import Source, load_source
from infersim.analysis.sweep import DEFAULT_METRICS, sweep_json, sweep_tables
from infersim.analysis.sweep import sweep as run_sweep
from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    global_options,
    prepare_format,
    progress_reporter,
    stderr_console,
)
from infersim.report.html import sweep_report
from infersim.report.sections import scenario_yaml

SCHEMA_VERSION = 1


class ExecutorChoice(StrEnum):
    LOCAL = "local"
    DASK = "dask"


FileArgument = Annotated[
    Path | None, typer.Argument(help="Scenario file; none = the built-in default.")
]
VariantOption = Annotated[str | None, typer.Option(help="Apply this named variant first.")]
JobsOption = Annotated[
    int,
    typer.Option("--jobs", "-j", help="Run points on this many local processes (0: one per CPU)."),
]
ExecutorOption = Annotated[
    ExecutorChoice,
    typer.Option(
        "--executor",
        help="local processes, or an existing Dask cluster (pip install 'infersim\\[dask]').",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786."),
]


def execution(jobs: int, executor: ExecutorChoice, scheduler: str | None) -> Execution:
    """The `Execution` the shared options describe (checked before any work); its notices
    (the estimate of the total time) go to stderr."""
    kind: ExecutorKind = "dask" if executor is ExecutorChoice.DASK else "local"
    chosen = Execution(jobs, kind, scheduler, notice=_notice)
    chosen.check()
    return chosen


def _notice(line: str) -> None:
    stderr_console().print(line, markup=False)


def load(ctx: typer.Context, file: Path | None, variant: str | None) -> Source:
    options = global_options(ctx)
    return load_source(file, variant, options.catalog(), options.catalog_dirs)


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "infersim_version": __version__, **data}


@command
def sweep(
    ctx: typer.Context,
    file: FileArgument = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="PATH=V1,V2 | PATH=LOW..HIGH[:STEP] | PATH=linspace(A,B,N) | "
            "PATH=geomspace(A,B,N); PATH*=... multiplies the base value. Repeat for a grid.",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Output metric path, e.g. margins.plus.gross_margin_pct (repeatable; default: "
            "revenue, serving cost, gross margin %, operating margin, cumulative cash).",
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
    """Run a scenario at every point of a grid of inputs: one row per point.

    Each --set names a dotted path of the scenario and its values; several form a grid (the
    first varies slowest). E.g. --set pricing.plans.plus.price_usd_per_month=10,20,30
    --set 'workload.users.plus.users=linspace(1e5,1e6,4)'. Every point runs with the
    scenario's seed; results are the same with any --jobs or executor.
    """
    specs = [parse_override(text) for text in set_ or []]
    chosen = execution(jobs, executor, scheduler)
    prepare_format(fmt)
    source = load(ctx, file, variant)
    with progress_reporter(ctx, f"sweeping {source.base.label}") as report:
        result = run_sweep(source, specs, metric or DEFAULT_METRICS, chosen, report)
    data = envelope(sweep_json(result))
    tables = sweep_tables(result)
    resolved = scenario_yaml(source.base.scenario)
    emit(ctx, fmt, output, data, tables, html=lambda: sweep_report(data, tables, resolved))
