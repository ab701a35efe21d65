"""`infersim plan SCENARIO`: the cheapest configuration that meets the scenario's SLOs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from infersim import __version__
from infersim.cli.common import (
    FormatOption,
    OutputFormat,
    atomic_write,
    command,
    emit,
    global_options,
    info,
    progress_reporter,
    stderr_console,
)
from infersim.cli.perf import MAX_BATCH_SEQUENCES
from infersim.cli.sweep import ExecutorChoice, SchedulerOption, execution
from infersim.errors import UsageError, did_you_mean
from infersim.planner.problem import PlanProblem, prepare_problem, self_hosted_name
from infersim.planner.providers import parse_providers
from infersim.planner.search import DEFAULT_TOP_K, NoPlanError, PlanResult
from infersim.planner.search import plan as run_plan
from infersim.planner.space import (
    DEFAULT_PRECISIONS,
    PRECISIONS,
    PRICINGS,
    Constraints,
    SearchSpace,
)
from infersim.planner.verify import DaskVerifier, PoolVerifier, serial_verifier
from infersim.report.html import render_html
from infersim.report.plan import (
    frontier_chart,
    plan_document,
    plan_json,
    plan_sections,
    plan_tables,
)
from infersim.report.sections import scenario_yaml
from infersim.report.tables import terminal_width
from infersim.scenario.compose import Document
from infersim.scenario.deployment import SelfHosted
from infersim.scenario.load import load_scenario, validate_document
from infersim.scenario.plan import PlanConstraints
from infersim.workload.trace import load_external_data

SCHEMA_VERSION = 1
DEFAULT_TP = "1,2,4,8"


def _values(flag: str, text: str, allowed: Sequence[str]) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not items:
        raise UsageError(f"{flag}: give one or more of {', '.join(allowed)}")
    for item in items:
        if item not in allowed:
            raise UsageError(
                f"{flag}: {item!r} is not one of {', '.join(allowed)}{did_you_mean(item, allowed)}"
            )
    return items


def _ints(flag: str, text: str) -> tuple[int, ...]:
    values: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if not part.isdigit() or not 1 <= int(part) <= 64:
            raise UsageError(f"{flag}: {part!r} is not a whole number from 1 to 64")
        values.append(int(part))
    if not values:
        raise UsageError(f"{flag}: give one or more whole numbers, e.g. 1,2,4,8")
    return tuple(sorted(set(values)))


def _caps(flag: str, text: str) -> tuple[int | None, ...]:
    """'derived,64,256' -> (None, 64, 256): caps on running sequences, derived = the
    replica's own (its KV-cache blocks and token budget)."""
    values: list[int | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "derived":
            values.append(None)
            continue
        if not part.isdigit() or not 1 <= int(part) <= MAX_BATCH_SEQUENCES:
            raise UsageError(
                f"{flag}: {part!r} is not 'derived' or a whole number from 1 to "
                f"{MAX_BATCH_SEQUENCES:,}"
            )
        values.append(int(part))
    if not values:
        raise UsageError(f"{flag}: give 'derived' and/or whole numbers, e.g. derived,64,256")
    unique = set(values)
    return ((None,) if None in unique else ()) + tuple(sorted(v for v in unique if v is not None))


def _switch(flag: str, text: str) -> tuple[bool, ...]:
    return tuple(v == "on" for v in _values(flag, text, ("off", "on")))


FileArgument = Annotated[
    Path | None, typer.Argument(help="Scenario file; none = the built-in default.")
]
DeploymentOption = Annotated[
    str | None,
    typer.Option(help="The self-hosted deployment to plan (default: the only one)."),
]
GpusOption = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        help="GPU types allowed, e.g. h100-sxm,h200-sxm (default: the scenario's plan.gpus, "
        "else every catalog GPU).",
    ),
]
TpOption = Annotated[str, typer.Option("--tp", help="Tensor-parallel sizes to try.")]
EpOption = Annotated[str, typer.Option("--ep", help="Expert-parallel sizes to try (MoE).")]
PrecisionsOption = Annotated[
    str, typer.Option(help=f"Precision presets to try: {', '.join(PRECISIONS)}.")
]
SpeculativeOption = Annotated[
    str,
    typer.Option(
        help="Speculative decoding: off, on, or off,on (on: the deployment's, else EAGLE)."
    ),
]
ChunkedOption = Annotated[
    str | None,
    typer.Option("--chunked-prefill", help="off, on, or off,on (default: the deployment's)."),
]
MaxBatchOption = Annotated[
    str | None,
    typer.Option(
        "--max-batch",
        help="Caps on sequences running at once per replica to try, e.g. derived,64,256 "
        "(derived: from the replica's KV cache and token budget; default: the deployment's).",
    ),
]
DisaggregatedOption = Annotated[
    str | None,
    typer.Option(
        "--disaggregated",
        help="Prefill/decode disaggregation: off, on, or off,on (on: both pools sized to the "
        "SLO, so their ratio is searched; default: the scenario's fleet.disaggregated).",
    ),
]
PricingOption = Annotated[
    str | None,
    typer.Option(help=f"GPU-hours bought: {', '.join(PRICINGS)} (default: the scenario's)."),
]
ProviderOption = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="Price rented GPUs from these providers' catalog quotes only, e.g. runpod,aws "
        "(the quote's provider, first word; overrides plan.providers; default: any quote).",
    ),
]
MaxGpusOption = Annotated[
    int | None,
    typer.Option("--max-gpus", min=1, help="Most GPUs in the fleet (overrides plan.max_gpus)."),
]
BudgetOption = Annotated[
    float | None,
    typer.Option(
        "--budget",
        min=0.01,
        help="Most $/month for the fleet's GPUs (overrides plan.budget_usd_per_month).",
    ),
]
QualityOption = Annotated[
    float | None,
    typer.Option(
        "--max-quality-penalty", min=0.0, max=1.0,
        help="Largest quantization quality penalty allowed (0.02 = 2%; overrides "
        "plan.max_quality_penalty).",
    ),
]  # fmt: skip
TopKOption = Annotated[
    int, typer.Option("--top-k", min=1, max=1000, help="Candidates simulated per round.")
]
PlanJobsOption = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", min=1, max=256, help="Simulate on this many processes (same results)."
    ),
]
PlanExecutorOption = Annotated[
    ExecutorChoice,
    typer.Option(
        "--executor",
        help="Simulate on local processes, or on an existing Dask cluster "
        "(pip install 'infersim\\[dask]'); same results.",
    ),
]
PlanOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o",
        help="Write the winning deployment as a scenario that `infersim run` reproduces.",
    ),
]  # fmt: skip


@command
def plan(
    ctx: typer.Context,
    file: FileArgument = None,
    deployment: DeploymentOption = None,
    variant: Annotated[str | None, typer.Option(help="Apply this named variant first.")] = None,
    gpus: GpusOption = None,
    tp: TpOption = DEFAULT_TP,
    ep: EpOption = "1",
    precisions: PrecisionsOption = ",".join(DEFAULT_PRECISIONS),
    speculative: SpeculativeOption = "off,on",
    chunked_prefill: ChunkedOption = None,
    max_batch: MaxBatchOption = None,
    disaggregated: DisaggregatedOption = None,
    pricing: PricingOption = None,
    provider: ProviderOption = None,
    max_gpus: MaxGpusOption = None,
    budget: BudgetOption = None,
    max_quality_penalty: QualityOption = None,
    top_k: TopKOption = DEFAULT_TOP_K,
    jobs: PlanJobsOption = 1,
    executor: PlanExecutorOption = ExecutorChoice.LOCAL,
    scheduler: SchedulerOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: PlanOutputOption = None,
) -> None:
    """Find the cheapest configuration that meets the scenario's SLOs.

    Keeps the scenario's workload and fleet.slo; searches GPU type, tensor (and expert)
    parallelism, precision, speculative decoding, chunked prefill, the cap on running
    sequences, prefill/decode disaggregation (both pools sized) and pricing; screens every
    candidate with the performance model and a queueing estimate, then sizes the promising
    ones by simulation (fleet.mode size_to_slo, on the very runs reported), here, on --jobs
    local processes or on a Dask cluster (same results). Exit 1 when no
    configuration meets the SLO (the closest miss is named).
    """
    if output is not None and (output.is_dir() or not output.resolve().parent.is_dir()):
        raise UsageError(f"--output {output}: not a file in an existing directory")
    _check_executor(jobs, executor, scheduler)
    options = global_options(ctx)
    catalog = options.catalog()
    loaded = load_scenario(file, variant, catalog, options.catalog_dirs)
    scenario = loaded.scenario
    name = self_hosted_name(scenario, deployment)
    base = scenario.deployments[name]
    assert isinstance(base, SelfHosted)
    all_gpus = sorted(loaded.catalog.gpus)
    base_gpu = base.gpu if isinstance(base.gpu, str) else base.gpu.id
    if base_gpu not in all_gpus:
        all_gpus.append(base_gpu)
    base_cost = base.cost or scenario.costs.gpu
    default_pricing = "owned" if base_cost.kind == "owned" else str(base_cost.pricing)
    section = scenario.plan or PlanConstraints()
    allowed = tuple(all_gpus)
    if gpus is not None:
        allowed = _values("--gpus", gpus, all_gpus)
    elif section.gpus is not None:  # names checked when the scenario loaded
        allowed = tuple(dict.fromkeys(section.gpus))
    space = SearchSpace(
        gpus=allowed,
        tensor_parallel=_ints("--tp", tp),
        expert_parallel=_ints("--ep", ep),
        precisions=_values("--precisions", precisions, tuple(PRECISIONS)),
        speculative=_switch("--speculative", speculative),
        chunked_prefill=(
            _switch("--chunked-prefill", chunked_prefill)
            if chunked_prefill is not None
            else (base.chunked_prefill,)
        ),
        max_batch_sequences=(
            _caps("--max-batch", max_batch)
            if max_batch is not None
            else (base.max_batch_sequences,)
        ),
        disaggregated=(
            _switch("--disaggregated", disaggregated)
            if disaggregated is not None
            else (scenario.fleet.disaggregated,)
        ),
        pricing=_values("--pricing", pricing, PRICINGS)
        if pricing is not None
        else (default_pricing,),
    )
    constraints = _constraints(section, max_gpus, budget, max_quality_penalty, provider)
    providers = None
    if provider is not None:
        providers = parse_providers("--provider", provider, loaded.catalog.gpus.values())
    elif section.providers is not None:  # names checked when the scenario loaded
        providers = tuple(sorted({p.lower() for p in section.providers}))
    data = load_external_data(scenario, loaded.base_dir)
    problem = prepare_problem(scenario, loaded.catalog, data, name, providers)
    pool = _verifier(problem, constraints, jobs, executor, scheduler)
    try:
        with progress_reporter(ctx, f"planning {loaded.label}") as report:
            result = run_plan(
                problem, space, constraints, pool or serial_verifier(problem, constraints),
                top_k, report,
            )  # fmt: skip
    except NoPlanError as exc:
        stderr_console().print(f"error: {loaded.label}: {exc}", markup=False)
        raise typer.Exit(1) from None
    finally:
        if pool is not None:
            pool.close()
    winner = result.winner
    assert winner is not None and winner.replicas is not None
    chosen = problem.scenario_for(winner.candidate).deployments[name]
    assert isinstance(chosen, SelfHosted)
    document = plan_document(
        loaded.document.data, name, chosen, winner.replicas, winner.prefill_replicas
    )
    if output is not None:
        # the plan must load as it is written: validated before anything is written
        validate_document(Document(document), loaded.base_dir, loaded.catalog)
        atomic_write(output, scenario_yaml(document))
        info(ctx, f"wrote {output}: {winner.candidate.label} x {winner.replicas}")
    data_out = _envelope(loaded.label, name, result)
    tables = plan_tables(result, loaded.label)
    width = terminal_width()

    def chart(plain: bool) -> str:
        return frontier_chart(result, width, plain=plain)

    def html() -> str:
        title = f"infersim plan: {loaded.label}"
        return render_html(
            title, plan_sections(result, tables), scenario_yaml(document), __version__
        )

    emit(ctx, fmt, None, data_out, tables, html=html, trailer=chart)


def _constraints(
    section: PlanConstraints,
    max_gpus: int | None,
    budget: float | None,
    max_quality_penalty: float | None,
    provider: str | None,
) -> Constraints:
    """The flags' constraints, else the scenario's `plan:` section's (named by its field)."""
    given: list[tuple[str, str]] = []
    if max_gpus is None and section.max_gpus is not None:
        max_gpus = section.max_gpus
        given.append(("max_gpus", "plan.max_gpus"))
    if budget is None and section.budget_usd_per_month is not None:
        budget = section.budget_usd_per_month
        given.append(("budget", "plan.budget_usd_per_month"))
    if max_quality_penalty is None and section.max_quality_penalty is not None:
        max_quality_penalty = section.max_quality_penalty
        given.append(("quality", "plan.max_quality_penalty"))
    if provider is None and section.providers is not None:
        given.append(("provider", "plan.providers"))
    return Constraints(max_gpus, budget, max_quality_penalty, tuple(given))


def _verifier(
    problem: PlanProblem,
    constraints: Constraints,
    jobs: int,
    executor: ExecutorChoice,
    scheduler: str | None,
) -> PoolVerifier | DaskVerifier | None:
    """Where stage 2 simulates: this process (None), local processes, or a Dask cluster
    (the flags checked by `_check_executor`)."""
    if executor is ExecutorChoice.DASK:
        return DaskVerifier(problem, constraints, scheduler or "")
    return PoolVerifier(problem, constraints, jobs) if jobs > 1 else None


def _check_executor(jobs: int, executor: ExecutorChoice, scheduler: str | None) -> None:
    """The execution flags, before any work: as the analyses check them (`execution`), and
    --jobs only with local processes."""
    if executor is ExecutorChoice.DASK and jobs > 1:
        raise UsageError(
            f"--jobs {jobs} goes with local processes: --executor dask simulates on the "
            "cluster's workers"
        )
    execution(1, executor, scheduler)


def _envelope(label: str, name: str, result: PlanResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "infersim_version": __version__,
        "scenario": label,
        "deployment": name,
        **plan_json(result),
    }
