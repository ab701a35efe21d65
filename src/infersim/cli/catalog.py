"""`infersim catalog`: list and show GPUs, model architectures and API list prices."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from infersim.catalog.load import Catalog
from infersim.catalog.prices import PriceLookupError, genai_provider_prices, resolve_price
from infersim.catalog.types import ApiPrice, GpuSpec, ModelArch
from infersim.cli.common import (
    DataTable,
    FormatOption,
    OutputFormat,
    OutputOption,
    command,
    emit,
    global_options,
)
from infersim.errors import UsageError

catalog_app = typer.Typer(
    help="List and show catalog entries (GPUs, models, API prices) with their sources.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    GPUS = "gpus"
    MODELS = "models"
    PRICES = "prices"


def gpu_row(g: GpuSpec) -> list[Any]:
    return [
        g.id,
        g.name,
        g.bf16_tflops,
        g.fp8_tflops,
        g.fp4_tflops,
        g.memory_gb,
        g.memory_bandwidth_gb_per_s,
        g.interconnect_gb_per_s,
        g.tdp_w,
        g.default_rental_usd_per_hour,
        g.checked.isoformat(),
    ]


GPU_COLUMNS = [
    "id", "name", "bf16 TFLOPS", "fp8 TFLOPS", "fp4 TFLOPS", "memory GB",
    "bandwidth GB/s", "interconnect GB/s", "TDP W", "rental $/h", "checked",
]  # fmt: skip


def model_row(m: ModelArch) -> list[Any]:
    experts = f"{m.moe.experts_per_token}/{m.moe.num_experts}" if m.moe else None
    return [
        m.id,
        m.name,
        m.total_params_b,
        m.active_params_b,
        m.num_layers,
        m.hidden_size,
        f"{m.num_attention_heads}/{m.num_kv_heads}",
        m.attention.value,
        experts,
        m.max_context_tokens,
        m.checked.isoformat(),
    ]


MODEL_COLUMNS = [
    "id", "name", "params B", "active B", "layers", "hidden", "heads/kv", "attention",
    "experts k/n", "context", "checked",
]  # fmt: skip


def price_row(p: ApiPrice) -> list[Any]:
    return [
        p.id,
        p.provider,
        p.input_usd_per_mtok,
        p.cached_input_usd_per_mtok,
        p.output_usd_per_mtok,
        p.as_of.isoformat(),
        p.source_kind,
    ]


PRICE_COLUMNS = [
    "id",
    "provider",
    "input $/Mtok",
    "cached $/Mtok",
    "output $/Mtok",
    "as of",
    "source",
]


def _entries(catalog: Catalog, kind: Kind) -> list[BaseModel]:
    mapping: dict[Kind, Any] = {
        Kind.GPUS: catalog.gpus,
        Kind.MODELS: catalog.models,
        Kind.PRICES: catalog.prices,
    }
    return list(mapping[kind].values())


def _list(
    ctx: typer.Context, kind: Kind, fmt: OutputFormat, output: Any, entries: list[Any]
) -> None:
    layouts: dict[Kind, tuple[list[str], Callable[[Any], list[Any]]]] = {
        Kind.GPUS: (GPU_COLUMNS, gpu_row),
        Kind.MODELS: (MODEL_COLUMNS, model_row),
        Kind.PRICES: (PRICE_COLUMNS, price_row),
    }
    columns, row = layouts[kind]
    data = [e.model_dump(mode="json") for e in entries]
    table = DataTable(f"{kind.value} ({len(entries)})", columns, [row(e) for e in entries])
    emit(ctx, fmt, output, data, [table])


@catalog_app.command("gpus")
@command
def gpus(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE, output: OutputOption = None
) -> None:
    """List GPUs and accelerators: dense peak throughput, memory, bandwidth, rental price."""
    _list(ctx, Kind.GPUS, fmt, output, _entries(global_options(ctx).catalog(), Kind.GPUS))


@catalog_app.command("models")
@command
def models(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE, output: OutputOption = None
) -> None:
    """List model architectures: parameters, layers, attention, experts."""
    _list(ctx, Kind.MODELS, fmt, output, _entries(global_options(ctx).catalog(), Kind.MODELS))


@catalog_app.command("prices")
@command
def prices(
    ctx: typer.Context,
    provider: Annotated[
        str | None,
        typer.Option(help="List a genai-prices provider's models instead (e.g. openai)."),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """List API list prices: the article's table and your own, or a genai-prices provider's."""
    if provider is None:
        entries = _entries(global_options(ctx).catalog(), Kind.PRICES)
    else:
        try:
            entries = list(genai_provider_prices(provider))
        except PriceLookupError as exc:
            raise UsageError(str(exc)) from None
    _list(ctx, Kind.PRICES, fmt, output, entries)


@catalog_app.command("show")
@command
def show(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Argument(help="gpus, models or prices")],
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. h100-sxm, openai:gpt-4o")],
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
) -> None:
    """Show one entry with all its figures and sources."""
    catalog = global_options(ctx).catalog()
    entry: BaseModel
    try:
        if kind is Kind.PRICES:
            entry = resolve_price(entry_id, catalog)
        elif kind is Kind.GPUS:
            entry = catalog.gpu(entry_id)
        else:
            entry = catalog.model(entry_id)
    except (KeyError, PriceLookupError) as exc:
        raise UsageError(exc.args[0]) from None
    data = entry.model_dump(mode="json")
    rows = [[key, _flat(value)] for key, value in data.items() if key not in ("sources", "rental")]
    tables = [DataTable(f"{kind.value[:-1]} {entry_id}", ["field", "value"], rows)]
    rental = data.get("rental") or []
    if rental:
        tables.append(
            DataTable(
                "rental quotes",
                ["pricing", "$/GPU-hour", "provider", "date", "source"],
                [
                    [q["pricing"], q["usd_per_hour"], q["provider"], q["date"], q["source"]["url"]]
                    for q in rental
                ],
            )
        )
    tables.append(
        DataTable(
            "sources", ["url", "title"], [[s["url"], s.get("title")] for s in data["sources"]]
        )
    )
    emit(ctx, fmt, output, data, tables)


def _flat(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return value
