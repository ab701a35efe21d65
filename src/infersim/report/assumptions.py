"""The inputs that drive a run's result, as one table: each with its value, its unit and where
it comes from (the scenario field, or the catalog entry with its source and the day it was
checked). The HTML report shows it near the top, instead of only the collapsed YAML."""

from __future__ import annotations

from typing import Any

from infersim.catalog.types import GpuSpec, ModelArch, Sourced
from infersim.economics.inputs import FleetCost
from infersim.pipeline.run import RunResult
from infersim.report.formats import money
from infersim.report.tables import DataTable
from infersim.scenario.deployment import ApiModel, OwnedGpu, RentedGpu, SelfHosted
from infersim.scenario.load import LoadedScenario
from infersim.scenario.model import Scenario
from infersim.scenario.references import reached_deployments

COLUMNS = ["input", "value", "unit", "source"]


def _catalog_source(entry: Sourced, kind: str, ref: Any) -> str:
    if not isinstance(ref, str):
        return "scenario (inline)"
    first = entry.sources[0]
    return f"catalog {kind} '{ref}', checked {entry.checked.isoformat()}: {first.url}"


def _gpu_price_source(
    loaded: LoadedScenario, name: str, dep: SelfHosted, gpu: GpuSpec, usd_per_gpu_hour: float
) -> str:
    cost = dep.cost or loaded.scenario.costs.gpu
    where = f"deployments.{name}.cost" if dep.cost is not None else "costs.gpu"
    if isinstance(cost, OwnedGpu):
        return f"scenario {where}: owned (amortized purchase, power, hosting)"
    assert isinstance(cost, RentedGpu)
    if cost.usd_per_gpu_hour is not None:
        return f"scenario {where}.usd_per_gpu_hour ({cost.pricing})"
    # the catalog quote the ledger billed at
    quotes = [q for q in gpu.rental if abs(q.usd_per_hour - usd_per_gpu_hour) < 0.005]
    if not quotes:
        return f"scenario {where} ({cost.pricing}), from the catalog's GPU '{gpu.id}'"
    quote = quotes[0]
    return (
        f"catalog rental quote ({quote.pricing.value}): {quote.provider}, "
        f"{quote.date.isoformat()}: {quote.source.url}"
    )


def _pool_rows(
    loaded: LoadedScenario, name: str, dep: SelfHosted, fleet: FleetCost | None
) -> list[list[Any]]:
    """A mixed fleet's pools: each one's GPU, replicas, price as billed (its bill parts: one,
    or one per kind with reserved or spot capacity) and its own grid, if it gives one."""
    assert dep.pools is not None
    parts = () if fleet is None else fleet.parts
    rows: list[list[Any]] = []
    for pool in dep.pools:
        spec = loaded.catalog.gpu_of(pool.gpu)
        here = f"{name}: pool {pool.name}"
        rows.append([f"{here} GPU", spec.id, "-", _catalog_source(spec, "GPU", pool.gpu)])
        rows.append(
            [f"{here} replicas", f"{pool.replicas:,} x {pool.tensor_parallel} GPUs",
             "replicas x GPUs", f"scenario deployments.{name}.pools"]
        )  # fmt: skip
        key = f"pool:{pool.name}"
        for part in parts:
            if part.kind != key and not part.kind.startswith(f"{key}:"):
                continue
            kind = part.kind[len(key) + 1 :]
            rows.append(
                [f"{here} GPU price" + (f" ({kind})" if kind else ""),
                 f"${part.usd_per_gpu_hour:,.2f}", "USD per GPU-hour",
                 "ledger: the pool's cost, else the deployment's, else costs.gpu"]
            )  # fmt: skip
        if pool.grid is not None:
            grid = loaded.catalog.grid(pool.grid)
            rows.append(
                [f"{here} grid", f"{grid.gco2e_per_kwh:,.0f}", "gCO2e per kWh",
                 f"catalog grid '{grid.id}' ({grid.year}): {grid.sources[0].url}"]
            )  # fmt: skip
        elif pool.gco2e_per_kwh is not None:
            rows.append(
                [f"{here} grid", f"{pool.gco2e_per_kwh:,.0f}", "gCO2e per kWh",
                 f"scenario deployments.{name}.pools"]
            )  # fmt: skip
    return rows


def _batch_rule_row(scenario: Scenario, name: str, dep: SelfHosted) -> list[Any] | None:
    """The rule batch classes run under beside interactive ones, where a batch class is
    served (None elsewhere)."""
    if not any(
        cls.deadline_s is not None and name in reached_deployments(scenario, cls.deployment)
        for cls in scenario.workload.classes.values()
    ):
        return None
    cap = None if dep.scheduler is None else dep.scheduler.batch_slowdown_max
    where = f"deployments.{name}.scheduler.batch_slowdown_max"
    return [
        f"{name}: batch slowdown cap",
        "none" if cap is None else f"{cap:.1%}",
        "share by which batch work may lengthen an iteration with interactive work",
        f"default: no cap ({where} not given)" if cap is None else f"scenario {where}",
    ]


def assumptions_table(loaded: LoadedScenario, result: RunResult) -> DataTable:
    """The inputs behind the figures: per self-hosted deployment its model, GPUs and GPU
    price (as billed, from the ledger), per API deployment its prices, per plan its price,
    per population its users and activity."""
    s = loaded.scenario
    rows: list[list[Any]] = []
    fleets = {f.deployment: f for f in result.ledger.fleets}
    for name, dep in s.deployments.items():
        if isinstance(dep, SelfHosted):
            model: ModelArch = loaded.catalog.model_of(dep.model)
            gpu = loaded.catalog.gpu_of(dep.gpu)
            rows.append(
                [f"{name}: model", model.id, "-", _catalog_source(model, "model", dep.model)]
            )
            if dep.pools is not None:
                rows += _pool_rows(loaded, name, dep, fleets.get(name))
            else:
                rows.append([f"{name}: GPU", gpu.id, "-", _catalog_source(gpu, "GPU", dep.gpu)])
                gpus = dep.tensor_parallel * dep.expert_parallel
                rows.append(
                    [
                        f"{name}: replicas",
                        f"{dep.replicas:,} x {gpus} GPUs",
                        "replicas x GPUs",
                        f"scenario deployments.{name}",
                    ]
                )
            p = dep.precision
            rows.append(
                [
                    f"{name}: precision",
                    f"w:{p.weights.value} kv:{p.kv_cache.value} a:{p.activations.value}",
                    "-",
                    f"scenario deployments.{name}.precision",
                ]
            )
            batch_rule = _batch_rule_row(s, name, dep)
            if batch_rule is not None:
                rows.append(batch_rule)
            fleet = fleets.get(name)
            if fleet is not None and dep.pools is None:
                rows.append(
                    [
                        f"{name}: GPU price",
                        f"${fleet.usd_per_gpu_hour:,.2f}",
                        "USD per GPU-hour",
                        _gpu_price_source(loaded, name, dep, gpu, fleet.usd_per_gpu_hour),
                    ]
                )
        elif isinstance(dep, ApiModel):
            rows.append(
                [
                    f"{name}: bought from an API",
                    dep.list_price or "explicit prices",
                    "USD per million tokens",
                    f"scenario deployments.{name}",
                ]
            )
    for plan, spec in s.pricing.plans.items():
        rows.append(
            [
                f"plan {plan}: price",
                money(spec.price_usd_per_month) if spec.price_usd_per_month >= 100 else
                f"${spec.price_usd_per_month:,.2f}",
                "USD per subscriber per month",
                f"scenario pricing.plans.{plan}.price_usd_per_month",
            ]
        )  # fmt: skip
    for product, api in s.pricing.api.items():
        rows.append(
            [
                f"API {product}: list price",
                api.list_price or "explicit prices",
                "USD per million tokens",
                f"scenario pricing.api.{product}",
            ]
        )
    for population, users in s.workload.users.items():
        where = f"scenario workload.users.{population}"
        rows.append([f"{population}: users", f"{users.users:,.0f}", "users", where])
        rows.append(
            [
                f"{population}: active",
                f"{users.active_share:.1%}".replace(".0%", "%"),
                "share of users per month",
                where,
            ]
        )
        rows.append(
            [
                f"{population}: usage",
                users.requests_per_user_per_month.dist,
                "requests per active user per month (distribution)",
                where,
            ]
        )
    if s.costs.serving_overhead_share:
        rows.append(
            [
                "serving overhead",
                f"{s.costs.serving_overhead_share:.1%}",
                "share of GPU cost",
                "scenario costs.serving_overhead_share",
            ]
        )
    for item, usd in s.costs.operating_usd_per_month.items():
        rows.append([f"operating cost: {item}", money(usd), "USD per month", "scenario costs"])
    return DataTable(f"{loaded.label}: assumptions", COLUMNS, rows)
