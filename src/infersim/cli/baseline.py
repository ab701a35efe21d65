"""`infersim baseline [PATHS...] -o FILE`: record the key outputs of scenarios as a baseline.

The file (JSON, keys sorted) is what `infersim diff` and `infersim check --compare-to` compare
new runs with. Writing over an existing baseline keeps its tolerances.
"""

from __future__ import annotations

from pathlib import Path

import typer

from infersim import __version__
from infersim.checks.baseline import Tolerance, baseline_data, updated
from infersim.cli.check import (
    AllVariantsOption,
    JobsOption,
    PathsArgument,
    ToleranceOption,
    check_jobs,
    deliver,
    evaluate,
    load_all,
    read_baseline,
    records,
    run_all,
    targets,
    tolerances,
)
from infersim.cli.common import OutputOption, command, global_options, info, render_json
from infersim.errors import InfersimError


def _kept_tolerances(ctx: typer.Context, output: Path | None) -> dict[str, Tolerance]:
    """The tolerances of the baseline being replaced, if it is one."""
    if output is None or not output.is_file():
        return {}
    try:
        old = read_baseline(output)
    except InfersimError:
        info(ctx, f"{output} is not a baseline this infersim reads: replacing it")
        return {}
    if old.tolerances:
        info(ctx, f"keeping the {len(old.tolerances)} tolerances of {output}")
    return dict(old.tolerances)


@command
def baseline(
    ctx: typer.Context,
    paths: PathsArgument = None,
    all_variants: AllVariantsOption = False,
    jobs: JobsOption = 1,
    tolerance: ToleranceOption = None,
    output: OutputOption = None,
) -> None:
    """Run the scenarios under PATHS and record their key metrics as a baseline (JSON)."""
    workers = check_jobs(jobs)
    given = tolerances(None, tolerance)
    kept = {**_kept_tolerances(ctx, output), **given}
    items = targets(paths or [], all_variants)
    loaded = load_all(items, global_options(ctx))
    runs = run_all(ctx, items, loaded, workers)
    found = [evaluate(ctx, t, s, r) for t, s, r in zip(items, loaded, runs, strict=True)]
    new = records(items, loaded, runs, [[e.path for e in results] for results in found])
    result = updated(None, new, [], __version__, kept)
    deliver(ctx, output, render_json(baseline_data(result)))
