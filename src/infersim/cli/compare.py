"""`infersim compare A.yaml B.yaml [C.yaml ...]`: runs side by side, each against the first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from infersim import __version__
from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    global_options,
    prepare_format,
)
from infersim.cli.run import SCHEMA_VERSION, simulate_run
from infersim.errors import UsageError
from infersim.report.compare import compare_runs, comparison_json, comparison_tables
from infersim.report.html import compare_report
from infersim.report.sections import scenario_yaml
from infersim.scenario.load import LoadedScenario, load_scenario


def parse_spec(text: str) -> tuple[Path, str | None]:
    """`FILE` or `FILE@VARIANT` (a FILE whose own name holds '@' is taken whole when it
    exists)."""
    path = Path(text)
    if "@" not in text or path.exists():
        return path, None
    file, _, variant = text.rpartition("@")
    if not file or not variant:
        raise UsageError(f"'{text}': give FILE or FILE@VARIANT")
    return Path(file), variant


def run_label(loaded: LoadedScenario) -> str:
    """A run's name in comparisons: `scenario` or `scenario@variant` (no brackets, which
    Rich would read as markup)."""
    s = loaded.scenario
    return f"{s.name}@{s.variant}" if s.variant else s.name


def _labels(specs: list[str], runs: list[LoadedScenario]) -> list[str]:
    """`scenario[@variant]`; the arguments as given where only they tell the runs apart (the
    same run twice is numbered later)."""
    labels = [run_label(loaded) for loaded in runs]
    if len(set(labels)) < len(labels) and len(set(specs)) == len(specs):
        return list(specs)
    return labels


@command
def compare(
    ctx: typer.Context,
    scenarios: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE[@VARIANT]...",
            help="Two or more scenarios; the first is the baseline. FILE@VARIANT applies a "
            "named variant of FILE, e.g. 'chat.yaml chat.yaml@h200'.",
            show_default=False,
        ),
    ],
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Run scenarios and compare each with the first: key figures, margins per segment, and
    per deployment GPU-hours, $/GPU-hour, latency and throughput.

    Every other run shows its value, the delta (absolute and %) and whether it is better or
    worse than the baseline (lower cost and latency, higher margin are better).
    """
    if len(scenarios) < 2:
        raise UsageError(
            "give two or more scenarios to compare (FILE or FILE@VARIANT), the baseline first"
        )
    prepare_format(fmt)
    catalog = global_options(ctx).catalog()
    loaded = [load_scenario(*parse_spec(spec), catalog=catalog) for spec in scenarios]
    results = [simulate_run(ctx, one) for one in loaded]
    comparison = compare_runs(list(zip(_labels(scenarios, loaded), results, strict=True)))
    runs: list[dict[str, Any]] = [
        {
            "label": label,
            "scenario": one.scenario.name,
            "variant": one.scenario.variant,
            "source": one.source,
            "seed": result.serving.seed,
        }
        for label, one, result in zip(comparison.labels, loaded, results, strict=True)
    ]
    data = {
        "schema_version": SCHEMA_VERSION,
        "infersim_version": __version__,
        "runs": runs,
        "comparison": comparison_json(comparison),
    }
    tables = comparison_tables(comparison)
    resolved = "---\n".join(scenario_yaml(one.scenario) for one in loaded)
    emit(ctx, fmt, output, data, tables, html=lambda: compare_report(data, tables, resolved))
