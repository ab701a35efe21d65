"""`infersim diff --compare-to BASELINE [PATHS...]`: per metric, old -> new.

Shows the metrics that changed beyond their tolerance (all of them with `--all`): old and new
values, the absolute and percent change, `+` for a metric or scenario that is new, `-` for one
that is gone. A report, not a gate: it exits 0 (2 on bad input); `infersim check` gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infersim import __version__
from infersim.checks.baseline import SCHEMA_VERSION
from infersim.cli.check import (
    AllVariantsOption,
    JobsOption,
    PathsArgument,
    ToleranceOption,
    check_jobs,
    evaluate,
    load_all,
    read_baseline,
    records,
    removed_keys,
    run_all,
    scenario_diff,
    targets,
    tolerances,
)
from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    global_options,
)
from infersim.report.check import diff_json, diff_tables


@command
def diff(
    ctx: typer.Context,
    compare_to: Annotated[
        Path, typer.Option("--compare-to", help="The baseline JSON to compare with.")
    ],
    paths: PathsArgument = None,
    tolerance: ToleranceOption = None,
    all_variants: AllVariantsOption = False,
    jobs: JobsOption = 1,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also show the metrics within tolerance.")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Compare the scenarios under PATHS with a baseline: old -> new, per metric."""
    workers = check_jobs(jobs)
    baseline = read_baseline(compare_to)
    limits = tolerances(baseline, tolerance)
    paths = paths or []
    items = targets(paths, all_variants)
    loaded = load_all(items, global_options(ctx))
    runs = run_all(ctx, items, loaded, workers)
    found = [evaluate(ctx, t, s, r) for t, s, r in zip(items, loaded, runs, strict=True)]
    new = records(items, loaded, runs, [[e.path for e in results] for results in found])
    diffs = []
    for key, record in new.items():
        diffs.append(scenario_diff(key, baseline.scenarios.get(key), record, limits))
    for key in removed_keys(baseline, paths, list(new), all_variants):
        diffs.append(scenario_diff(key, baseline.scenarios[key], None, limits))
    data = {
        "schema_version": SCHEMA_VERSION,
        "infersim_version": __version__,
        "baseline": str(compare_to),
        "scenarios": [{"key": d.key, **diff_json(d, show_all)} for d in diffs],
    }
    emit(ctx, fmt, output, data, diff_tables(diffs, str(compare_to), show_all))
