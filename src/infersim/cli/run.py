"""`infersim run [FILE]`: run a scenario (the built-in default when no file is given)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from infersim import __version__
from infersim.analysis.montecarlo import montecarlo, montecarlo_json, montecarlo_tables
from infersim.cli.common import (
    DataTable,
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
from infersim.cli.sweep import (
    ExecutorChoice,
    ExecutorOption,
    JobsOption,
    SchedulerOption,
    execution,
)
from infersim.economics.errors import InvalidEconomicsInputError
from infersim.economics.windows import WINDOW_HELP, Window, parse_window
from infersim.errors import ConfigError, UsageError
from infersim.pipeline.run import RunResult, run_loaded
from infersim.report.assumptions import assumptions_table
from infersim.report.compare import compare_runs, comparison_json, comparison_tables
from infersim.report.document import run_document
from infersim.report.economics import economics_tables, window_table, windows_json
from infersim.report.headline import headline, headline_text
from infersim.report.html import run_report
from infersim.report.levers import lever_tables
from infersim.report.routing import routing_tables
from infersim.report.sections import scenario_yaml
from infersim.report.serving import serving_tables
from infersim.report.tables import terminal_width as _terminal_width
from infersim.report.terminal_charts import margin_histograms
from infersim.scenario.deployment import ApiModel, SelfHosted
from infersim.scenario.load import LoadedScenario, load_scenario, validate_file
from infersim.serving.result import ServingResult
from infersim.workload.trace import load_external_data

SCHEMA_VERSION = 1


def _ref(value: Any) -> str:
    return value if isinstance(value, str) else f"{value.id} (inline)"


def _catalog_rate(usd_per_hour: float | None) -> str | None:
    """A GPU's catalog rental rate as shown; None (an empty cell) for a GPU with no rental
    quote (a local or owned-only GPU)."""
    return None if usd_per_hour is None else f"${usd_per_hour:,.2f}"


def summary_tables(loaded: LoadedScenario) -> list[DataTable]:
    """The resolved scenario as tables: what will be simulated, with what."""
    s = loaded.scenario
    deployments: list[list[Any]] = []
    for name, dep in s.deployments.items():
        if isinstance(dep, SelfHosted) and dep.pools is not None:  # a mixed fleet
            p = dep.precision
            for pool in dep.pools:
                spec = loaded.catalog.gpu_of(pool.gpu)
                deployments.append(
                    [
                        f"{name} ({pool.name})",
                        _ref(dep.model),
                        pool.gpu,
                        f"tp{pool.tensor_parallel} ep1",
                        pool.replicas,
                        f"w:{p.weights.value} kv:{p.kv_cache.value} a:{p.activations.value}",
                        _catalog_rate(spec.default_rental_usd_per_hour),
                    ]
                )
        elif isinstance(dep, SelfHosted):
            gpu = loaded.catalog.gpu_of(dep.gpu)
            p = dep.precision
            deployments.append(
                [
                    name,
                    _ref(dep.model),
                    _ref(dep.gpu),
                    f"tp{dep.tensor_parallel} ep{dep.expert_parallel}",
                    dep.replicas,
                    f"w:{p.weights.value} kv:{p.kv_cache.value} a:{p.activations.value}",
                    _catalog_rate(gpu.default_rental_usd_per_hour),
                ]
            )
        elif isinstance(dep, ApiModel):
            deployments.append(
                [name, dep.list_price or "explicit prices", "api", None, None, None, None]
            )
    tables = [
        DataTable(
            f"{loaded.label}: deployments",
            ["deployment", "model", "gpu", "parallel", "replicas", "precision", "catalog $/GPU-h"],
            deployments,
        )
    ]
    classes = [
        [
            name,
            c.arrival.process,
            c.prompt_tokens.dist if c.prompt_tokens else "trace",
            c.output_tokens.dist if c.output_tokens else "trace",
            c.deployment,
        ]
        for name, c in s.workload.classes.items()
    ]
    if classes:
        tables.append(
            DataTable(
                "request classes", ["class", "arrivals", "prompt", "output", "deployment"], classes
            )
        )
    users = [
        [
            name,
            u.plan,
            f"{u.users:,.0f}",
            f"{u.active_share:.1%}".replace(".0%", "%"),
            u.requests_per_user_per_month.dist,
        ]
        for name, u in s.workload.users.items()
    ]
    if users:
        tables.append(
            DataTable(
                "user populations",
                ["population", "plan", "users", "active", "requests per user"],
                users,
            )
        )
    return tables


def simulate_run(
    ctx: typer.Context,
    loaded: LoadedScenario,
    serving_cache: dict[str, ServingResult] | None = None,
) -> RunResult:
    """Read the files the scenario names (the edge), then run the pure pipeline
    (`serving_cache`: the engine's results shared with other runs, see `run_scenario`, and
    kept for Monte Carlo samples to reuse)."""
    data = load_external_data(loaded.scenario, loaded.base_dir)
    with progress_reporter(ctx, f"simulating {loaded.label}") as report:
        result = run_loaded(loaded, data, progress=report, serving_cache=serving_cache)
    for line in result.capacity_warnings():
        stderr_console().print(f"warning: {loaded.label}: {line}", markup=False)
    return result


def run_json(loaded: LoadedScenario, result: RunResult) -> dict[str, Any]:
    """One run's output (`infersim.report.document`): margins first, then routing, levers and
    serving; stable keys, money in cents."""
    return run_document(loaded, result)


def _windows(texts: list[str]) -> list[Window]:
    try:
        return [parse_window(text) for text in texts]
    except InvalidEconomicsInputError as exc:
        raise UsageError(f"--window: {exc}") from None


def run_tables(loaded: LoadedScenario, result: RunResult) -> list[DataTable]:
    """One run's tables: margins, routing, serving, then the resolved scenario."""
    report = result.routing
    return [
        *economics_tables(result, loaded.label),
        *lever_tables(result, loaded.label),
        *([] if report is None else routing_tables(report, loaded.label)),
        *serving_tables(result.serving, loaded.label),
        *summary_tables(loaded),
    ]


@command
def run(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Scenario file; none = the built-in default.")
    ] = None,
    variant: Annotated[str | None, typer.Option(help="Apply this named variant.")] = None,
    all_variants: Annotated[
        bool,
        typer.Option(
            "--all-variants",
            help="Run the base and every variant, then compare each variant with the base.",
        ),
    ] = False,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=1,
            max=1_000_000,
            help="Monte Carlo: draw the scenario's uncertain inputs this many times and report "
            "p5/p50/p95 of every output and P(margin < 0).",
        ),
    ] = None,
    jobs: JobsOption = 1,
    executor: ExecutorOption = ExecutorChoice.LOCAL,
    scheduler: SchedulerOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    window: Annotated[
        list[str] | None,
        typer.Option(
            "--window",
            help=f"Also report the P&L per window: {WINDOW_HELP}. Repeatable.",
        ),
    ] = None,
) -> None:
    """Run a scenario: margin tables first, then routing and serving figures below them.

    With --all-variants, comparison tables follow (every variant against the base: value,
    delta, delta %, better/worse), and the JSON gets a `comparison` key.
    """
    if variant is not None and all_variants:
        raise UsageError("give --variant NAME or --all-variants, not both")
    prepare_format(fmt)
    windows = _windows(window or [])
    chosen = execution(jobs, executor, scheduler) if samples is not None else None
    options = global_options(ctx)
    catalog = options.catalog()
    # the file and every variant it defines must be valid, whichever of them runs
    checked = validate_file(file, catalog)
    if checked.problems:
        raise ConfigError(checked.problems)
    names: list[str | None] = list(checked.loaded) if all_variants else [variant]
    runs = [
        checked.loaded[name] if name in checked.loaded else load_scenario(file, name, catalog)
        for name in names
    ]
    # with --samples, each run's serving results go on to its samples
    caches: list[dict[str, ServingResult] | None] = [
        {} if samples is not None else None for _ in runs
    ]
    results = [
        (loaded, simulate_run(ctx, loaded, cache))
        for loaded, cache in zip(runs, caches, strict=True)
    ]
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "infersim_version": __version__,
        "runs": [run_json(loaded, result) for loaded, result in results],
    }
    tables = [table for loaded, result in results for table in run_tables(loaded, result)]
    if windows:
        for index, (loaded, result) in enumerate(results):
            data["runs"][index]["windows"] = windows_json(result, windows)
            tables.append(window_table(result, windows, loaded.label))
    if samples is not None and chosen is not None:
        for index, (loaded, _) in enumerate(results):
            data_files = load_external_data(loaded.scenario, loaded.base_dir)
            with progress_reporter(ctx, f"Monte Carlo {loaded.label}") as report:
                drawn = montecarlo(
                    loaded, data_files, samples, progress=report, execution=chosen,
                    catalog_dirs=options.catalog_dirs, serving=caches[index],
                )  # fmt: skip
            data["runs"][index]["montecarlo"] = montecarlo_json(drawn)
            tables += montecarlo_tables(drawn, loaded.label)
    if all_variants and len(results) > 1:
        # the base by its scenario name, each variant by its own: short, side-by-side columns
        labelled = [(loaded.scenario.variant or loaded.label, r) for loaded, r in results]
        comparison = compare_runs(labelled)
        data["comparison"] = comparison_json(comparison)
        tables += comparison_tables(comparison, f"{results[0][0].label} variants vs base")
    headlines = [(loaded.label, headline(result)) for loaded, result in results]
    assumptions = [assumptions_table(loaded, result) for loaded, result in results]
    resolved = "---\n".join(scenario_yaml(loaded.scenario) for loaded, _ in results)
    width = _terminal_width()

    def histograms(plain: bool) -> str:
        charts = "".join(margin_histograms(run, width, plain=plain) for run in data["runs"])
        return charts + headline_text(headlines, width)

    emit(
        ctx, fmt, output, data, tables,
        html=lambda: run_report(data, tables, resolved, headlines, assumptions),
        trailer=histograms,
    )  # fmt: skip
