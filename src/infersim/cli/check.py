"""`infersim check [PATHS...]`: run scenarios, check their expectations and the baseline.

Exit 0 when everything passes (warnings included), 1 on a fail-level finding, 2 on bad input
or an internal error (then nothing is written). Also home of what `baseline` and `diff` share:
finding the scenarios under the paths, running them (`--jobs`), reading the baseline.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from infersim import __version__
from infersim.checks.baseline import (
    SCHEMA_VERSION,
    Baseline,
    ScenarioDiff,
    ScenarioRecord,
    Tolerance,
    baseline_data,
    diff_metrics,
    merge_tolerances,
    parse_baseline,
    parse_tolerance,
    updated,
)
from infersim.checks.expectations import ExpectationResult, evaluate_all
from infersim.checks.inputs import diff_inputs, resolved_inputs
from infersim.checks.metrics import MetricError, key_metrics
from infersim.checks.outcome import CheckOutcome, ScenarioCheck
from infersim.cli.common import (
    FormatOption,
    GlobalOptions,
    OutputFormat,
    OutputOption,
    atomic_write,
    command,
    emit,
    global_options,
    info,
    prepare_format,
    refuse_document_on_terminal,
    render,
    render_json,
    writable_target,
)
from infersim.cli.run import run_json, simulate_run
from infersim.errors import ConfigError, InfersimError, Problem, UsageError
from infersim.pipeline.run import run_loaded
from infersim.report.check import (
    check_json,
    check_markdown,
    check_tables,
    check_text,
    junit_xml,
)
from infersim.report.html import check_report
from infersim.scenario.compose import load_document, variant_names
from infersim.scenario.load import LoadedScenario, load_scenario
from infersim.serving.result import ServingResult
from infersim.workload.trace import load_external_data

SCENARIO_SUFFIXES = (".yaml", ".yml")

# Shared options -------------------------------------------------------------------------------

PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Scenario files and directories (searched recursively for *.yaml, *.yml); "
        "none = the built-in default scenario.",
        show_default=False,
    ),
]
AllVariantsOption = Annotated[
    bool, typer.Option("--all-variants", help="Also run every variant of each file.")
]
JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", help="Scenarios run in parallel (0: one per CPU).")
]
ToleranceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tolerance",
        "-t",
        help="[PATTERN=]SPEC, SPEC a comma list of N% (relative), N (absolute), warn|fail; "
        "e.g. '1%' or 'margins.*.gross_margin_pct=0.5,warn'. Repeatable; overrides the "
        "baseline's tolerance for the same pattern.",
        show_default=False,
    ),
]


def check_jobs(jobs: int) -> int:
    if jobs < 0:
        raise UsageError(f"--jobs must be >= 0 (0: one per CPU), got {jobs}")
    return jobs or os.cpu_count() or 1


def check_writable(path: Path | None, flag: str) -> None:
    """Fail before any work when an output cannot be written there."""
    if path is not None:
        writable_target(path, flag)


# Scenarios under the paths --------------------------------------------------------------------


def display(path: Path) -> str:
    """The path as the baseline keys it: relative to the working directory when below it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    """The files given, and every *.yaml / *.yml below the directories given (sorted; hidden
    directories such as .git skipped). Missing paths and empty directories are errors."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            below = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SCENARIO_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not below:
                raise UsageError(f"{path}: no scenario files (*.yaml, *.yml) below it")
            found.extend(below)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def run_name(loaded: LoadedScenario) -> str:
    """`name`, or `name@variant` (no brackets: Rich would read them as markup)."""
    s = loaded.scenario
    return f"{s.name}@{s.variant}" if s.variant else s.name


@dataclass(frozen=True)
class Target:
    """One run: a scenario file (None: the built-in default), maybe a variant."""

    path: Path | None
    variant: str | None
    key: str


def targets(paths: Sequence[Path], all_variants: bool) -> list[Target]:
    """What to run; every file's problems are collected before raising (exit 2)."""
    if not paths:
        return [Target(None, None, "<builtin>/default.yaml")]
    out: list[Target] = []
    problems: list[Problem] = []
    for path in scenario_files(paths):
        base = display(path)
        out.append(Target(path, None, base))
        if all_variants:
            try:
                names = variant_names(load_document(path))
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            out.extend(Target(path, name, f"{base}#{name}") for name in names)
    if problems:
        raise ConfigError(problems)
    return out


def load_all(items: Sequence[Target], options: GlobalOptions) -> list[LoadedScenario]:
    """Load and validate every target; all problems of all files in one error."""
    catalog = options.catalog()
    loaded: list[LoadedScenario] = []
    problems: list[Problem] = []
    for target in items:
        try:
            loaded.append(load_scenario(target.path, target.variant, catalog=catalog))
        except ConfigError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise ConfigError(problems)
    return loaded


# Running --------------------------------------------------------------------------------------

WorkerResult = tuple[str, Any, float]
ServingCache = dict[str, ServingResult]

#: The scenario fields that the engine's inputs come from (see `serving_groups`).
SERVING_INPUTS = {"seed", "deployments", "fleet", "routing", "catalog", "workload", "horizon"}


def serving_groups(loaded: Sequence[LoadedScenario]) -> list[list[int]]:
    """The scenarios (by index, in order) grouped by the inputs their serving depends on:
    scenarios that differ only in prices and costs (a file and one that `extends:` it with
    other costs) serve the same traffic, so each group runs in one process, one scenario
    after the other, and the engine simulates that traffic once (`run_scenario`'s
    `serving_cache`, keyed by everything the engine reads). A group is a schedule only: two
    scenarios grouped whose serving differs are simulated each, as apart."""
    groups: dict[str, list[int]] = {}
    for index, one in enumerate(loaded):
        scenario = one.scenario
        key = json.dumps(scenario.model_dump(mode="json", include=SERVING_INPUTS), sort_keys=True)
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def run_in_worker(
    group: Sequence[tuple[str | None, str | None]], catalog_dirs: list[str]
) -> list[WorkerResult]:
    """A group of scenarios, one after the other, sharing the engine's results (in a worker
    process, or in this one): per scenario ("ok", run JSON, seconds) or the error to re-raise."""
    catalog = GlobalOptions(catalog_dirs=[Path(d) for d in catalog_dirs]).catalog()
    cache: ServingCache = {}
    out: list[WorkerResult] = []
    for path, variant in group:
        start = time.perf_counter()
        try:
            loaded = load_scenario(None if path is None else Path(path), variant, catalog=catalog)
            data = load_external_data(loaded.scenario, loaded.base_dir)
            result = run_loaded(loaded, data, serving_cache=cache)
            out.append(("ok", run_json(loaded, result), time.perf_counter() - start))
        except ConfigError as exc:
            out.append(("config", exc.problems, 0.0))
        except InfersimError as exc:
            out.append(("error", str(exc), 0.0))
    return out


def run_all(
    ctx: typer.Context, items: Sequence[Target], loaded: Sequence[LoadedScenario], jobs: int
) -> list[dict[str, Any]]:
    """Every target's run JSON, in order; on `jobs` processes when more than one.

    Scenarios that serve the same traffic run together (`serving_groups`); with `jobs` > 1,
    this process runs groups too, beside `jobs` - 1 worker processes. Each scenario's line
    goes to stderr as soon as its group has run (in the order they finish); with several
    workers, errors are raised in the targets' order once all have finished.
    """
    groups = serving_groups(loaded)
    workers = min(jobs, len(groups))
    total = len(items)
    if workers <= 1:
        serial: dict[int, dict[str, Any]] = {}
        for group in groups:
            cache: ServingCache = {}
            for index in group:
                start = time.perf_counter()
                run = simulate_run(ctx, loaded[index], serving_cache=cache)
                serial[index] = run_json(loaded[index], run)
                info(ctx, ran_line(items[index], time.perf_counter() - start, len(serial), total))
        return [serial[index] for index in range(total)]
    dirs = [str(d) for d in global_options(ctx).catalog_dirs]
    results: dict[int, WorkerResult] = {}
    lock = threading.Lock()

    def record(group: list[int], outcomes: list[WorkerResult]) -> None:
        with lock:
            for index, outcome in zip(group, outcomes, strict=True):
                results[index] = outcome
                target, (status, _, seconds) = items[index], outcome
                if status == "ok":
                    info(ctx, ran_line(target, seconds, len(results), total))
                else:
                    info(ctx, f"{target.key}: failed ({len(results)}/{total})")

    def on_done(group: list[int]) -> Callable[[Future[list[WorkerResult]]], None]:
        def done(future: Future[list[WorkerResult]]) -> None:
            if not future.cancelled() and future.exception() is None:
                record(group, future.result())

        return done

    def paths(group: list[int]) -> list[tuple[str | None, str | None]]:
        return [(None if items[i].path is None else str(items[i].path), items[i].variant)
                for i in group]  # fmt: skip

    # this process is one of the workers (it has imported everything already): it takes
    # the groups no worker process has started, from the last
    spawn = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=spawn) as pool:
        futures = {pool.submit(run_in_worker, paths(group), dirs): group for group in groups}
        for future, group in futures.items():
            future.add_done_callback(on_done(group))
        for future in reversed(list(futures)):
            if future.cancel():
                record(futures[future], run_in_worker(paths(futures[future]), dirs))
        for future in as_completed(futures):
            if not future.cancelled():
                future.result()  # a worker's crash, raised here
    runs: list[dict[str, Any]] = []
    for index in range(total):
        status, payload, _ = results[index]
        if status == "config":
            raise ConfigError(payload)
        if status == "error":
            raise InfersimError(payload)
        runs.append(payload)
    return runs


def ran_line(target: Target, seconds: float, done: int, total: int) -> str:
    """The progress line of a scenario that has run: `KEY: ran in 12.3 s (2/5)`."""
    return f"{target.key}: ran in {seconds:.1f} s ({done}/{total})"


# Baseline files -------------------------------------------------------------------------------


def read_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file (exit 2 with one line per problem when it is not)."""
    where = str(path)
    if path.is_dir():
        raise UsageError(f"{where}: is a directory, expected a baseline JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{where}: baseline not found; record one with: infersim baseline PATHS... -o {where}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read the baseline: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([Problem(where, exc.lineno, "", f"not valid JSON: {exc.msg}")]) from None
    return parse_baseline(data, where, __version__)


def write_baseline(path: Path, baseline: Baseline) -> None:
    atomic_write(path, render_json(baseline_data(baseline)))


def tolerances(baseline: Baseline | None, given: Sequence[str] | None) -> dict[str, Tolerance]:
    overrides = [parse_tolerance(text) for text in given or []]
    return merge_tolerances(baseline.tolerances if baseline is not None else {}, overrides)


def records(
    items: Sequence[Target],
    loaded: Sequence[LoadedScenario],
    runs: Sequence[Mapping[str, Any]],
    also: Sequence[Sequence[str]] | None = None,
) -> dict[str, ScenarioRecord]:
    """The key metrics of each run, as the baseline records them."""
    out: dict[str, ScenarioRecord] = {}
    for index, (target, scenario, run) in enumerate(zip(items, loaded, runs, strict=True)):
        extra = also[index] if also is not None else ()
        out[target.key] = ScenarioRecord(
            name=scenario.scenario.name,
            variant=scenario.scenario.variant,
            metrics=key_metrics(run, extra),
            inputs=resolved_inputs(scenario),
        )
    return out


def scenario_diff(
    key: str,
    old: ScenarioRecord | None,
    new: ScenarioRecord | None,
    limits: Mapping[str, Tolerance],
) -> ScenarioDiff:
    """A scenario's metrics and inputs against its baseline record (None: not there)."""
    diff = diff_metrics(
        key, old.metrics if old is not None else None, new.metrics if new else None, limits
    )
    if old is None or new is None:
        return diff
    inputs = diff_inputs(old.inputs, new.inputs) if old.inputs else ()
    return replace(diff, inputs=inputs, inputs_recorded=bool(old.inputs))


def removed_keys(
    baseline: Baseline, paths: Sequence[Path], ran: Sequence[str], all_variants: bool
) -> list[str]:
    """Baseline scenarios under the checked paths that are gone: the file was deleted, or
    (with --all-variants) the variant no longer exists. Others not run are left alone."""
    roots = [p.resolve() for p in paths]
    out: list[str] = []
    for key in baseline.scenarios:
        if key in ran:
            continue
        file, _, variant = key.partition("#")
        if file.startswith("<builtin>"):
            in_scope, exists = not paths, True
        else:
            resolved = Path(file).resolve()
            in_scope = any(resolved == r or resolved.is_relative_to(r) for r in roots)
            exists = resolved.is_file()
        if in_scope and (not exists or (variant and all_variants) or not variant):
            out.append(key)
    return out


#: Monte Carlo samples behind a probabilistic expectation (`max_probability`).
CHECK_SAMPLES = 200


def samples_for(loaded: LoadedScenario, nominal: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Monte Carlo run outputs for probabilistic expectations (None: the scenario has no
    distribution, so the nominal run is the only sample)."""
    del nominal
    if not loaded.params.uncertain:
        return None
    from infersim.analysis.montecarlo import montecarlo

    data = load_external_data(loaded.scenario, loaded.base_dir)
    result = montecarlo(loaded, data, CHECK_SAMPLES)
    return [_unflatten(result.outputs, index) for index in range(result.samples)]


def _unflatten(outputs: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One sample's outputs (dotted metric paths) as nested run JSON."""
    sample: dict[str, Any] = {}
    for path, values in outputs.items():
        value = float(values[index])
        node = sample
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = None if value != value else value  # NaN: no value
    return sample


def evaluate(
    ctx: typer.Context, target: Target, loaded: LoadedScenario, run: Mapping[str, Any]
) -> tuple[ExpectationResult, ...]:
    expectations = loaded.scenario.expect
    probabilistic = any(e.max_probability is not None for e in expectations)
    samples = samples_for(loaded, run) if probabilistic else None
    if probabilistic and samples is None and loaded.params.uncertain:
        info(ctx, f"{target.key}: no Monte Carlo samples; probabilities use the nominal run")
    try:
        return evaluate_all(expectations, run, samples)
    except MetricError:
        pass
    problems = []
    for index, expectation in enumerate(expectations):
        try:
            evaluate_all([expectation], run)
        except MetricError as exc:
            file, line = loaded.document.locate(("expect", index, "metric"))
            problems.append(Problem(file, line, f"expect.{index}.metric", str(exc)))
    raise ConfigError(problems)


# infersim check -------------------------------------------------------------------------------


def list_metrics(
    ctx: typer.Context,
    items: Sequence[Target],
    loaded: Sequence[LoadedScenario],
    fmt: OutputFormat,
    output: Path | None,
) -> None:
    """The metric paths of each scenario, known without running it."""
    from infersim.report.metric_list import metric_listing

    keyed = [(t.key, s.scenario) for t, s in zip(items, loaded, strict=True)]
    payload, tables = metric_listing(keyed)
    emit(ctx, fmt, output, payload, tables, html=lambda: check_report(payload, tables))


def deliver(ctx: typer.Context, output: Path | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(output, text)
        info(ctx, f"wrote {output}")


def accepted(diff: ScenarioDiff) -> ScenarioDiff:
    """The diff with every change accepted (recorded into the new baseline): level ok."""
    return replace(diff, metrics=tuple(replace(m, level="ok") for m in diff.metrics))


@command
def check(
    ctx: typer.Context,
    paths: PathsArgument = None,
    compare_to: Annotated[
        Path | None,
        typer.Option("--compare-to", help="Baseline JSON to compare with (its tolerances apply)."),
    ] = None,
    tolerance: ToleranceOption = None,
    update_baseline: Annotated[
        bool,
        typer.Option(
            "--update-baseline",
            help="Rewrite the --compare-to file (atomically, only when every scenario ran); "
            "its changes are accepted, expectations still count.",
        ),
    ] = False,
    all_variants: AllVariantsOption = False,
    jobs: JobsOption = 1,
    exit_zero: Annotated[
        bool, typer.Option("--exit-zero", help="Exit 0 even when a fail-level check breaks.")
    ] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML to this file.")
    ] = None,
    list_metrics_flag: Annotated[
        bool,
        typer.Option(
            "--list-metrics",
            help="List the metric paths (and aliases) of the scenarios, without running them.",
        ),
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Run every scenario under PATHS; check its expect: bounds and the baseline.

    Exit 0: everything passes; 1: a fail-level breach; 2: bad input or an internal error.
    """
    prepare_format(fmt)
    paths = paths or []
    workers = check_jobs(jobs)
    overrides = tolerance or []
    if update_baseline and compare_to is None:
        raise UsageError("--update-baseline needs --compare-to FILE: the baseline to rewrite")
    if list_metrics_flag and (compare_to or update_baseline or junit or overrides):
        raise UsageError(
            "--list-metrics only lists metrics: drop --compare-to, --tolerance, "
            "--update-baseline and --junit"
        )
    check_writable(junit, "--junit")
    check_writable(compare_to if update_baseline else None, "--compare-to")
    baseline: Baseline | None = None
    if compare_to is not None and (compare_to.exists() or not update_baseline):
        baseline = read_baseline(compare_to)
    limits = tolerances(baseline, overrides)
    items = targets(paths, all_variants)
    loaded = load_all(items, global_options(ctx))
    if list_metrics_flag:
        list_metrics(ctx, items, loaded, fmt, output)
        return
    runs = run_all(ctx, items, loaded, workers)

    results = [evaluate(ctx, t, s, r) for t, s, r in zip(items, loaded, runs, strict=True)]
    new = records(items, loaded, runs, [[e.path for e in rs] for rs in results])
    scenarios: list[ScenarioCheck] = []
    for target, scenario, found in zip(items, loaded, results, strict=True):
        diff = None
        if compare_to is not None:
            old = baseline.scenarios.get(target.key) if baseline is not None else None
            diff = scenario_diff(target.key, old, new[target.key], limits)
        scenarios.append(ScenarioCheck(target.key, run_name(scenario), found, diff))
    gone = removed_keys(baseline, paths, [t.key for t in items], all_variants) if baseline else []
    for key in gone:
        assert baseline is not None
        record = baseline.scenarios[key]
        label = f"{record.name}@{record.variant}" if record.variant else record.name
        scenarios.append(
            ScenarioCheck(key, label, (), diff_metrics(key, record.metrics, None, limits))
        )
    if update_baseline:
        scenarios = [
            s if s.diff is None else ScenarioCheck(s.key, s.name, s.expectations, accepted(s.diff))
            for s in scenarios
        ]
    source = str(compare_to) if compare_to is not None else None
    outcome = CheckOutcome(tuple(scenarios), source)

    versions = {"schema_version": SCHEMA_VERSION, "infersim_version": __version__}
    if fmt is OutputFormat.MARKDOWN:
        text = check_markdown(outcome)
    elif fmt is OutputFormat.TABLE:
        text = check_text(outcome)
    elif fmt is OutputFormat.JSON:
        text = render_json(check_json(outcome, versions))
    elif fmt is OutputFormat.HTML:
        refuse_document_on_terminal(fmt, output)
        text = check_report(check_json(outcome, versions), check_tables(outcome))
    else:
        text = render(fmt, None, check_tables(outcome))
    deliver(ctx, output, text)
    if junit is not None:
        atomic_write(junit, junit_xml(outcome))
        info(ctx, f"wrote {junit}")
    if update_baseline:
        assert compare_to is not None
        kept = None if baseline is not None else limits  # --tolerance: this run only
        write_baseline(compare_to, updated(baseline, new, gone, __version__, kept))
        info(ctx, f"updated {compare_to}: {len(new)} scenarios recorded, {len(gone)} removed")
    code = outcome.exit_code(exit_zero)
    if code:
        raise typer.Exit(code)
