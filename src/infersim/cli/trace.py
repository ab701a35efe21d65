"""`infersim trace stats FILE` and `infersim trace fit FILE -o class.yaml`: look at a trace in
its published format, and turn it into a request class a scenario can scale."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from infersim.cli.common import (
    DataTable,
    FormatOption,
    OutputFormat,
    OutputOption,
    atomic_write,
    command,
    emit,
    info,
)
from infersim.errors import UsageError
from infersim.workload.trace import read_trace
from infersim.workload.trace_fit import fit_class, trace_stats

trace_app = typer.Typer(
    help="Look at a request trace (Azure, Mooncake, BurstGPT, infersim) and fit a class to it.",
    no_args_is_help=True,
)


class TraceFormatChoice(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    AZURE = "azure"
    MOONCAKE = "mooncake"
    BURSTGPT = "burstgpt"


class Lengths(StrEnum):
    LOGNORMAL = "lognormal"
    EMPIRICAL = "empirical"


FileArgument = Annotated[Path, typer.Argument(help="The trace file, as published.")]
TraceFormatOption = Annotated[
    TraceFormatChoice | None,
    typer.Option("--trace-format", help="The trace's format; none = detected from its header."),
]
BlockOption = Annotated[
    int, typer.Option("--block-tokens", min=1, help="Tokens per prefix block hash.")
]


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}g}"


def _tokens(value: float | None) -> str:
    """Token counts as whole tokens (percentiles interpolate between them)."""
    return "-" if value is None else f"{value:,.0f}"


def _stats_tables(path: Path, stats: dict[str, Any], plain: bool) -> list[DataTable]:
    from infersim.report.terminal_charts import sparkline

    rates = stats["rate_per_s"]
    summary = [
        ["format", stats["format"]],
        ["requests", f"{stats['requests']:,}"],
        ["span", f"{stats['span_s']:,.1f} s ({stats['span_s'] / 3600:,.3g} h)"],
        ["mean rate", f"{_fmt(stats['mean_rate_per_s'])} req/s"],
        ["inter-arrival cv", _fmt(stats["interarrival_cv"], 3)],
        [
            f"rate over time ({stats['rate_bin_s']:,.0f} s bins)",
            f"{sparkline(rates, plain=plain)}  {min(rates):,.3g}..{max(rates):,.3g} req/s",
        ],
        ["rows out of time order (sorted)", f"{stats['rows_out_of_order']:,}"],
        ["zero-token rows dropped", f"{stats['dropped_zero_token_rows']:,}"],
    ]
    reuse = stats["prefix_reuse"]
    if reuse is not None:
        summary.append(["prefix reuse (unbounded cache)", f"{reuse['input_token_share']:.1%} of "
                        f"input tokens; {reuse['request_share']:.1%} of requests"])  # fmt: skip
    if stats["labels"]:
        summary.append(["labels", ", ".join(f"{k}: {v:,}" for k, v in stats["labels"].items())])
    lengths = [
        [kind, *(_tokens(stats[kind][k]) for k in ("p50", "p90", "p99", "mean", "max"))]
        for kind in ("prompt_tokens", "output_tokens")
    ]
    return [
        DataTable(f"trace {path}", ["figure", "value"], summary),
        DataTable("lengths (tokens)", ["", "p50", "p90", "p99", "mean", "max"], lengths),
    ]


@trace_app.command("stats")
@command
def stats(
    ctx: typer.Context,
    file: FileArgument,
    trace_format: TraceFormatOption = None,
    block_tokens: BlockOption = 512,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Requests, span, rate over time, length percentiles and, with block hashes, the share of
    input tokens an unbounded prefix cache would reuse."""
    if fmt is OutputFormat.HTML:
        raise UsageError("trace stats: --format html is not available; use table, json, csv")
    fmt_name = None if trace_format is None else trace_format.value
    trace = read_trace(file, fmt_name, block_tokens=block_tokens)
    figures = trace_stats(trace, block_tokens)
    data = {"file": str(file), **figures}
    from infersim.report.terminal_charts import plain_output

    plain = output is not None or fmt is not OutputFormat.TABLE or plain_output(sys.stdout)
    emit(ctx, fmt, output, data, _stats_tables(file, figures, plain))


@trace_app.command("fit")
@command
def fit(
    ctx: typer.Context,
    file: FileArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The class file to write.")],
    name: Annotated[str, typer.Option(help="The class's name in the file.")] = "fitted",
    lengths: Annotated[
        Lengths, typer.Option(help="lognormal fits, or the trace's own values (files).")
    ] = Lengths.LOGNORMAL,
    trace_format: TraceFormatOption = None,
) -> None:
    """Write a scenario fragment with one request class fitted to the trace: arrivals
    (Poisson, bursty with the trace's inter-arrival cv, or a 24-hour profile when it spans a
    day) and lengths (lognormal, or empirical files beside the output). A scenario takes it
    with `extends:` and scales it like any class."""
    if output.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"{output}: the class file must end in .yaml or .yml")
    fmt_name = None if trace_format is None else trace_format.value
    trace = read_trace(file, fmt_name)
    cls = fit_class(trace, lengths.value)
    files: dict[Path, str] = {}
    if lengths is Lengths.EMPIRICAL:
        for kind in ("prompt_tokens", "output_tokens"):
            target = output.with_name(f"{output.stem}-{kind}.txt")
            files[target] = "".join(f"{v}\n" for v in getattr(trace, kind).tolist())
            cls[kind] = {"dist": "empirical", "path": target.name}
    header = (
        f"# A request class fitted by `infersim trace fit` to {file.name} ({trace.format} "
        f"format, {len(trace.times_s):,} requests).\n# Use it with `extends: {output.name}` "
        "and add deployments; scale it by its rate.\n"
    )
    document = {"workload": {"classes": {name: cls}}}
    for target, text in files.items():
        atomic_write(target, text)
        info(ctx, f"wrote {target}")
    atomic_write(output, header + yaml.safe_dump(document, sort_keys=False))
    info(ctx, f"wrote {output}")
