"""`infersim perf`: what one replica of a model on GPUs costs per iteration and per token.

Memory per GPU and whether it fits; the time of a prefill, a decode step and a steady mixed
iteration, and the bound that dominates each; tokens/s per replica and per GPU; cost per
million output tokens at a $/GPU-hour; and, with `--sweep batch=...`, throughput and
per-token latency against batch size, so the knee shows; with `--sweep
max_batch_sequences=...`, the steady state under each cap on running sequences (the memory
plan rebuilt for each: the logits reserve grows with the cap).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from infersim.catalog.load import Catalog
from infersim.cli.common import (
    DataTable,
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    global_options,
    prepare_format,
)
from infersim.errors import UsageError
from infersim.perf import (
    IterationBreakdown,
    PerfModel,
    ThroughputPoint,
    build_perf_model,
    largest_batch,
    prompt_prefill,
    throughput_sweep,
)
from infersim.perf.speculative import SpeculationPoint, break_even_batch, speedup_by_batch
from infersim.perf.throughput import throughput_at
from infersim.report.html import perf_report
from infersim.scenario.deployment import (
    ActivationDtype,
    KvDtype,
    RentedGpu,
    SelfHosted,
    WeightDtype,
)
from infersim.scenario.load import load_scenario

SCHEMA_VERSION = 1
_COMPUTE_FORMATS = {"fp8", "int8", "fp4"}


SWEEP_KEYS = ("batch", "max_batch_sequences")
MAX_BATCH_SEQUENCES = 65_536
"""The scenario's bound on `max_batch_sequences`."""


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """'batch=1,8,32' -> ('batch', [1, 8, 32]); also 'max_batch_sequences=64,256,1024'."""
    key, _, values = text.partition("=")
    key = key.strip()
    if key not in SWEEP_KEYS or not values.strip():
        raise UsageError(
            "--sweep takes batch=N,N,... or max_batch_sequences=N,N,... (e.g. batch=1,8,32,128), "
            f"got '{text}'"
        )
    numbers: list[int] = []
    for value in values.split(","):
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f"--sweep: '{value.strip()}' is not a whole number") from None
        if number < 1:
            raise UsageError(f"--sweep: {key} values must be >= 1, got {number}")
        if key == "max_batch_sequences" and number > MAX_BATCH_SEQUENCES:
            raise UsageError(
                f"--sweep: max_batch_sequences must be <= {MAX_BATCH_SEQUENCES:,}, got {number:,}"
            )
        numbers.append(number)
    return key, numbers


def _at_least_one(name: str, value: int) -> None:
    if value < 1:
        raise UsageError(f"{name} must be >= 1, got {value}")


def deployment_from_flags(
    model: str | None,
    gpu: str | None,
    tp: int,
    ep: int,
    weights: WeightDtype,
    kv: KvDtype,
    activations: ActivationDtype | None,
) -> SelfHosted:
    if model is None or gpu is None:
        raise UsageError("give --model and --gpu, or --scenario FILE --deployment NAME")
    _at_least_one("--tp", tp)
    _at_least_one("--ep", ep)
    if activations is None:  # W8A8 / FP8 / FP4 compute where the weights allow it
        fmt = weights.value if weights.value in _COMPUTE_FORMATS else "bf16"
        activations = ActivationDtype(fmt)
    fields = {
        "model": model,
        "gpu": gpu,
        "tensor_parallel": tp,
        "expert_parallel": ep,
        "precision": {"weights": weights, "kv_cache": kv, "activations": activations},
    }
    try:
        return SelfHosted.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UsageError(f"{where}: {error['msg']}") from None


def deployment_from_scenario(
    path: Path, name: str | None, variant: str | None, catalog: Catalog
) -> tuple[SelfHosted, Catalog, float | None]:
    """The named self-hosted deployment, the scenario's catalog, and its $/GPU-hour if set."""
    loaded = load_scenario(path, variant, catalog=catalog)
    scenario = loaded.scenario
    hosted = {k: d for k, d in scenario.deployments.items() if isinstance(d, SelfHosted)}
    if name is None:
        if len(hosted) != 1:
            names = ", ".join(sorted(hosted)) or "none"
            raise UsageError(f"--deployment NAME is needed; self-hosted deployments: {names}")
        name = next(iter(hosted))
    if name not in scenario.deployments:
        known = ", ".join(sorted(scenario.deployments))
        raise UsageError(f"no deployment '{name}' in {path}; deployments: {known}")
    deployment = hosted.get(name)
    if deployment is None:
        raise UsageError(f"deployment '{name}' is an API model: it has no performance model")
    cost = deployment.cost if deployment.cost is not None else scenario.costs.gpu
    price = cost.usd_per_gpu_hour if isinstance(cost, RentedGpu) else None
    return deployment, loaded.catalog, price


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def _gb(value: float) -> float:
    return round(value / 1e9, 2)


def iteration_row(name: str, tokens: float, b: IterationBreakdown) -> list[Any]:
    return [
        name,
        round(tokens),
        _ms(b.total_s),
        _ms(b.compute_s),
        _ms(b.memory_s),
        _ms(b.communication_s),
        _ms(b.overhead_s),
        b.bound.value,
    ]


ITERATION_COLUMNS = [
    "iteration", "tokens", "time ms", "compute ms", "memory ms", "comm ms", "overhead ms", "bound",
]  # fmt: skip


def throughput_row(p: ThroughputPoint, usd_per_gpu_hour: float | None) -> list[Any]:
    cost = p.usd_per_mtok(usd_per_gpu_hour) if usd_per_gpu_hour is not None else None
    return [
        p.batch_sequences,
        round(p.output_tokens_per_s),
        round(p.output_tokens_per_s_per_gpu),
        _ms(p.time_per_output_token_s),
        round(cost, 3) if cost is not None else None,
        p.breakdown.bound.value,
        p.limited_by,
        p.fits,
    ]


THROUGHPUT_COLUMNS = [
    "batch", "tok/s replica", "tok/s GPU", "ms/token", "$/Mtok out", "bound", "limited by", "fits",
]  # fmt: skip


def _breakdown_json(b: IterationBreakdown) -> dict[str, Any]:
    return {
        "total_s": b.total_s,
        "compute_s": b.compute_s,
        "memory_s": b.memory_s,
        "communication_s": b.communication_s,
        "overhead_s": b.overhead_s,
        "draft_s": b.draft_s,
        "bound": b.bound.value,
    }


def _point_json(p: ThroughputPoint, usd_per_gpu_hour: float | None) -> dict[str, Any]:
    return {
        "batch_sequences": p.batch_sequences,
        "limited_by": p.limited_by,
        "fits": p.fits,
        "iteration_s": p.iteration_s,
        "prefill_tokens_per_iteration": p.prefill_tokens_per_iteration,
        "output_tokens_per_s": p.output_tokens_per_s,
        "output_tokens_per_s_per_gpu": p.output_tokens_per_s_per_gpu,
        "time_per_output_token_s": p.time_per_output_token_s,
        "usd_per_mtok_output": (
            p.usd_per_mtok(usd_per_gpu_hour) if usd_per_gpu_hour is not None else None
        ),
        "bound": p.breakdown.bound.value,
    }


_CAP_SOURCES = {
    "scenario": "as set",
    "kv_blocks": "derived: KV blocks",
    "token_budget": "derived: token budget",
}


def cap_sweep(
    perfs: Sequence[tuple[int, PerfModel]], prompt: int, output_tokens: int
) -> list[tuple[int, ThroughputPoint]]:
    """The steady state at the largest batch under each cap on running sequences."""
    points = []
    for cap, perf in perfs:
        best, reason = largest_batch(perf, prompt, output_tokens)
        if best >= 1:
            points.append((cap, throughput_at(perf, prompt, output_tokens, best, reason)))
    return points


SPECULATION_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
"""Decode batches at which speculation is compared with plain decoding (up to the largest
batch that fits), unless a batch sweep is given."""


def speculation(
    plain: PerfModel, perf: PerfModel, context_tokens: float, batches: Sequence[int], most: int
) -> tuple[list[SpeculationPoint], int | None]:
    """Speculative against plain decoding at each batch up to `most`, and the break-even."""
    chosen = [b for b in batches if 1 <= b <= most] or [1]
    points = speedup_by_batch(plain, perf, chosen, context_tokens)
    return points, break_even_batch(plain, perf, context_tokens, max(most, 1))


def _speculation_json(
    points: Sequence[SpeculationPoint], break_even: int | None, context_tokens: float
) -> dict[str, Any]:
    return {
        "context_tokens": context_tokens,
        "break_even_batch": break_even,
        "points": [
            {
                "batch_sequences": p.batch_sequences,
                "plain_step_s": p.plain_step_s,
                "speculative_step_s": p.speculative_step_s,
                "tokens_per_step": p.tokens_per_step,
                "speedup": p.speedup,
            }
            for p in points
        ],
    }


def report(
    perf: PerfModel,
    prompt: int,
    output_tokens: int,
    batch: int | None,
    sweep: list[int],
    usd_per_gpu_hour: float | None,
    caps: Sequence[tuple[int, PerfModel]] = (),
    plain: PerfModel | None = None,
) -> tuple[dict[str, Any], list[DataTable]]:
    """The command's data (JSON) and tables, computed from the performance model; `caps`
    are the models rebuilt for each swept `max_batch_sequences`; `plain`, the deployment
    without speculative decoding when it has it."""
    best, reason = largest_batch(perf, prompt, output_tokens)
    if best < 1 and batch is None:
        raise UsageError(
            f"one {prompt + output_tokens:,}-token sequence does not fit in the KV cache "
            f"({perf.kv_capacity_tokens_per_group:,} tokens); use fewer tokens or more GPUs"
        )
    points = [throughput_at(perf, prompt, output_tokens, best, reason)] if best >= 1 else []
    if batch is not None and batch != best:
        points.insert(0, throughput_at(perf, prompt, output_tokens, batch, "requested"))
    at = points[0]
    decode_ctx = at.batch_sequences * (prompt + output_tokens / 2)
    iterations = [
        (f"prefill one {prompt}-token prompt", perf.computed_prompt_tokens(prompt),
         prompt_prefill(perf, prompt)),
        (f"decode, batch {at.batch_sequences}", at.batch_sequences * perf.verify_tokens,
         perf.breakdown(0, 0, at.batch_sequences, decode_ctx)),
        (f"steady mix, batch {at.batch_sequences}",
         at.prefill_tokens_per_iteration + at.batch_sequences * perf.verify_tokens, at.breakdown),
    ]  # fmt: skip
    swept = throughput_sweep(perf, prompt, output_tokens, sweep) if sweep else []
    capped = cap_sweep(caps, prompt, output_tokens)
    gpus = perf.gpus_per_replica
    memory_rows: list[list[Any]] = [
        ["weights GB", _gb(perf.weight_bytes_per_gpu), _gb(perf.weight_bytes_per_gpu * gpus)],
        ["activations + workspace GB", _gb(perf.reserve_bytes_per_gpu),
         _gb(perf.reserve_bytes_per_gpu * gpus)],
        ["KV cache GB", _gb(perf.kv_free_bytes_per_gpu), _gb(perf.kv_free_bytes_per_gpu * gpus)],
        ["usable GB", _gb(perf.usable_bytes_per_gpu), _gb(perf.usable_bytes_per_gpu * gpus)],
        ["KV per token KB", round(perf.kv_bytes_per_token_per_gpu / 1e3, 2),
         round(perf.kv_bytes_per_token / 1e3, 2)],
        ["KV capacity tokens", None, perf.kv_capacity_tokens],
        [f"sequences of {prompt + output_tokens} tokens", None, max(best, 0)],
        ["running sequences cap", None,
         f"{perf.max_batch_sequences:,} ({_CAP_SOURCES[perf.max_batch_sequences_source]})"],
        ["fits", True, True],
    ]  # fmt: skip
    title = (
        f"{perf.model_id} on {gpus} x {perf.gpu_id} (tp {perf.tensor_parallel}, "
        f"ep {perf.expert_parallel}), {perf.precision_label}"
    )
    price = f"${usd_per_gpu_hour:g}/GPU-hour" if usd_per_gpu_hour is not None else "no GPU price"
    tables = [
        DataTable(f"{title}: memory", ["", "per GPU", "per replica"], memory_rows),
        DataTable(
            f"iterations ({prompt} in / {output_tokens} out)",
            ITERATION_COLUMNS,
            [iteration_row(*item) for item in iterations],
        ),
        DataTable(
            "throughput per replica",
            THROUGHPUT_COLUMNS,
            [throughput_row(p, usd_per_gpu_hour) for p in points],
            caption=f"cost at {price}; tokens are output tokens",
        ),
    ]
    if swept:
        tables.append(
            DataTable(
                "sweep over batch size",
                THROUGHPUT_COLUMNS,
                [throughput_row(p, usd_per_gpu_hour) for p in swept],
            )
        )
    if capped:
        tables.append(
            DataTable(
                "sweep over max_batch_sequences",
                ["max_batch_sequences", *THROUGHPUT_COLUMNS],
                [[cap, *throughput_row(p, usd_per_gpu_hour)] for cap, p in capped],
            )
        )
    speculative: dict[str, Any] | None = None
    if plain is not None:
        context = prompt + output_tokens / 2
        most = max(best, batch or 1)
        points_s, break_even = speculation(plain, perf, context, sweep or SPECULATION_BATCHES, most)
        speculative = _speculation_json(points_s, break_even, context)
        where = f"batch {break_even}" if break_even is not None else f"none up to batch {most}"
        rows = [
            [p.batch_sequences, _ms(p.plain_step_s), _ms(p.speculative_step_s),
             round(p.tokens_per_step, 3), round(p.speedup, 3)]
            for p in points_s
        ]  # fmt: skip
        tables.append(
            DataTable(
                "speculative decoding against plain decoding (decode steps)",
                ["batch", "plain ms", "speculative ms", "tokens/step", "speedup"],
                rows,
                caption=f"contexts of {context:g} tokens; speedup = time per output token, "
                f"plain over speculative (also their GPU cost per output token); "
                f"break-even at {where}",
            )
        )
    data = {
        "schema_version": SCHEMA_VERSION,
        "deployment": {
            "model": perf.model_id,
            "gpu": perf.gpu_id,
            "tensor_parallel": perf.tensor_parallel,
            "expert_parallel": perf.expert_parallel,
            "gpus_per_replica": gpus,
            "precision": perf.precision_label,
            "quality_penalty": perf.quality_penalty,
            "decode_tokens_per_step": perf.decode_tokens_per_step,
            "max_batch_sequences": perf.max_batch_sequences,
            "max_batch_sequences_source": perf.max_batch_sequences_source,
            "usd_per_gpu_hour": usd_per_gpu_hour,
        },
        "workload": {"prompt_tokens": prompt, "output_tokens": output_tokens},
        "memory": {
            "fits": True,
            "usable_bytes_per_gpu": perf.usable_bytes_per_gpu,
            "weight_bytes_per_gpu": perf.weight_bytes_per_gpu,
            "reserve_bytes_per_gpu": perf.reserve_bytes_per_gpu,
            "kv_free_bytes_per_gpu": perf.kv_free_bytes_per_gpu,
            "kv_bytes_per_token": perf.kv_bytes_per_token,
            "kv_capacity_tokens": perf.kv_capacity_tokens,
            "max_sequences": max(best, 0),
        },
        "iterations": [
            {"iteration": name, "tokens": tokens, **_breakdown_json(b)}
            for name, tokens, b in iterations
        ],
        "throughput": [_point_json(p, usd_per_gpu_hour) for p in points],
        "sweep": [_point_json(p, usd_per_gpu_hour) for p in swept],
        "sweep_max_batch_sequences": [
            {"max_batch_sequences": cap, **_point_json(p, usd_per_gpu_hour)} for cap, p in capped
        ],
        "speculative": speculative,
    }
    return data, tables


@command
def perf(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Catalog model id, e.g. llama-3.1-70b.")] = None,
    gpu: Annotated[str | None, typer.Option(help="Catalog GPU id, e.g. h100-sxm.")] = None,
    tp: Annotated[int, typer.Option("--tp", help="Tensor-parallel GPUs per replica.")] = 1,
    ep: Annotated[int, typer.Option("--ep", help="Expert-parallel groups per replica.")] = 1,
    weights: Annotated[WeightDtype, typer.Option(help="Weight format.")] = WeightDtype.BF16,
    kv: Annotated[KvDtype, typer.Option("--kv", help="KV-cache format.")] = KvDtype.BF16,
    activations: Annotated[
        ActivationDtype | None,
        typer.Option(help="Compute format; default: the weights' for fp8/int8/fp4, else bf16."),
    ] = None,
    batch: Annotated[
        int | None, typer.Option(help="Sequences in flight; default: the largest that fits.")
    ] = None,
    prompt_tokens: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1000,
    output_tokens: Annotated[int, typer.Option(help="Output tokens per request.")] = 1000,
    usd_per_gpu_hour: Annotated[
        float | None,
        typer.Option(help="GPU price; default: the scenario's, else the catalog's rental quote."),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            help="Throughput and latency against batch (batch=1,8,32,...) or against the cap "
            "on running sequences (max_batch_sequences=64,256,1024)."
        ),
    ] = None,
    scenario: Annotated[
        Path | None, typer.Option(help="Take the deployment from this scenario file.")
    ] = None,
    deployment: Annotated[str | None, typer.Option(help="Deployment name in --scenario.")] = None,
    variant: Annotated[str | None, typer.Option(help="Scenario variant to apply.")] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Per-iteration time, memory fit, tokens/s and $/Mtok for a model on GPUs."""
    prepare_format(fmt)
    options = global_options(ctx)
    catalog = options.catalog()
    _at_least_one("--prompt-tokens", prompt_tokens)
    _at_least_one("--output-tokens", output_tokens)
    if batch is not None:
        _at_least_one("--batch", batch)
    if usd_per_gpu_hour is not None and usd_per_gpu_hour < 0:
        raise UsageError(f"--usd-per-gpu-hour must be >= 0, got {usd_per_gpu_hour:g}")
    key, values = parse_sweep(sweep) if sweep is not None else ("batch", [])
    price = usd_per_gpu_hour
    if scenario is not None:
        if model is not None or gpu is not None:
            raise UsageError("give --model/--gpu or --scenario, not both")
        chosen, catalog, scenario_price = deployment_from_scenario(
            scenario, deployment, variant, catalog
        )
        price = price if price is not None else scenario_price
    else:
        if deployment is not None or variant is not None:
            raise UsageError("--deployment and --variant go with --scenario FILE")
        chosen = deployment_from_flags(model, gpu, tp, ep, weights, kv, activations)
    perf_model = build_perf_model(chosen, catalog)
    caps = [
        (cap, build_perf_model(chosen.model_copy(update={"max_batch_sequences": cap}), catalog))
        for cap in (values if key == "max_batch_sequences" else [])
    ]
    batches = values if key == "batch" else []
    if price is None:
        spec = catalog.gpu_of(chosen.gpu)
        price = spec.default_rental_usd_per_hour
    plain = None
    if chosen.speculative is not None:
        plain = build_perf_model(chosen.model_copy(update={"speculative": None}), catalog)
    data, tables = report(
        perf_model, prompt_tokens, output_tokens, batch, batches, price, caps, plain
    )
    command_line = ["infersim", *(a for d in options.catalog_dirs for a in ("--catalog", str(d)))]
    command_line.append("perf")
    if scenario is not None:
        command_line += ["--scenario", str(scenario)]
        command_line += [] if deployment is None else ["--deployment", deployment]
        command_line += [] if variant is None else ["--variant", variant]
    else:
        command_line += ["--model", str(model), "--gpu", str(gpu), "--tp", str(tp)]
        command_line += ["--ep", str(ep), "--weights", weights.value, "--kv", kv.value]
        command_line += [] if activations is None else ["--activations", activations.value]
    command_line += ["--prompt-tokens", str(prompt_tokens), "--output-tokens", str(output_tokens)]
    command_line += [] if batch is None else ["--batch", str(batch)]
    command_line += [] if usd_per_gpu_hour is None else ["--usd-per-gpu-hour", f"{price:g}"]
    command_line += [] if sweep is None else ["--sweep", sweep]
    reproduce = shlex.join(command_line)
    emit(ctx, fmt, output, data, tables, html=lambda: perf_report(data, tables, reproduce))
