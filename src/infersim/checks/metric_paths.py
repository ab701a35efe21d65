"""Which metric paths a scenario's run will have, known before it runs: for `expect:`.

A run's metrics are the numbers of its JSON (`infersim.checks.metrics`), produced by the
report layer from the run's results, so no run-free list of them exists. What a run's JSON
holds is fixed by two things, though: the report's keys (the vocabularies below, which follow
`infersim.report.economics` and `infersim.report.serving`) and the scenario's names (its
deployments, classes, populations, plans, API products, contracts and months). `skeleton`
builds a run JSON of that shape with every number 0, and `unknown_metrics` resolves each
expectation on it with the same resolver `infersim check` uses, aliases included, so that a
typo fails `validate` and `run` before anything is simulated.

Two sections depend on results, not names: `routing` (present when the scenario routes) and
`levers` (self-hosting vs API breakevens). Below them nothing is checked here; `infersim
check` still checks every path on the run itself. A test runs scenarios and checks that every
metric and alias of the real JSON passes here: a key added to the report must be added to
these vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infersim.checks.metrics import MetricError, resolve
from infersim.economics.api_prices import billed_as_batch
from infersim.economics.value_chain import LABELS as VALUE_CHAIN_LABELS
from infersim.scenario.deployment import ApiModel, OwnedGpu, RentedGpu, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.references import reached_deployments

STATS = ("p50", "p90", "p99", "mean")
INTERVAL = ("mean", "low", "high")
MARGIN_ROW = (
    "users", "active_users", "requests", "capped_requests", "unserved_requests",
    "unserved_tokens", "revenue_foregone_usd", "input_tokens", "cached_input_tokens",
    "output_tokens", "revenue_usd", "gpu_cost_usd", "api_cost_usd", "overhead_usd", "cost_usd",
    "gross_margin_usd", "gross_margin_pct", "cost_usd_per_mtok", "price_usd_per_mtok",
)  # fmt: skip
USER_ROW = (
    "users", "active_users", "price_usd_per_month", "margin_p10_usd", "margin_p50_usd",
    "margin_p90_usd", "margin_p99_usd", "margin_mean_usd", "top_decile_margin_mean_usd",
    "share_losing_money", "breakeven_requests_per_user_per_month",
)  # fmt: skip
PNL = (
    "revenue_usd", "serving_cost_usd", "gpu_cost_usd", "api_cost_usd", "serving_overhead_usd",
    "gross_margin_usd", "gross_margin_pct", "cost_profit_margin_pct", "operating_cost_total_usd",
    "operating_margin_usd",
    "operating_margin_pct", "spent_per_revenue_usd", "unserved_requests", "unserved_share",
    "unserved_tokens", "revenue_foregone_usd",
)  # fmt: skip
MONTH_ROW = (
    "revenue_usd", "serving_cost_usd", "gross_margin_usd", "gross_margin_pct", "gpu_cost_usd",
    "unserved_share", "operating_margin_usd", "cumulative_cash_usd",
)  # fmt: skip
PROJECTION = (
    "months", "operating_margin_positive_from_month", "months_with_operating_loss",
    "cumulative_losses_usd", "cumulative_cash_usd",
)  # fmt: skip
FLEET_COSTS = (
    "usd_per_gpu_hour", "gpu_hours_per_month", "busy_share", "busy_gpu_hours_per_month",
    "fleet_usd_per_month", "usd_per_mtok_input", "usd_per_mtok_output",
)  # fmt: skip
SERVED = (
    "served_requests", "served_input_tokens", "served_cached_input_tokens",
    "served_output_tokens",
)  # fmt: skip
DEPLOYMENT_SERVING = (
    "gpus_per_replica", "replicas", "peak_replicas", "simulated_requests", "events",
    "load_factor", "max_batch_sequences", "requests", "completed", "rejected", "preemptions",
    "recomputed_tokens", "input_tokens", "cached_input_tokens", "output_tokens", *SERVED,
    "unserved_requests", "unserved_input_tokens", "unserved_output_tokens",
    "offered_requests_per_s", "capacity_requests_per_s_per_replica", "input_tokens_per_s",
    "output_tokens_per_s", "slo_met_share", "busy_share", "mfu", "mbu", "gpu_hours_provisioned",
    "gpu_hours_scheduled", "gpu_hours_busy", "prefill_share", "output_tokens_per_gpu_hour",
    "priority_ranks", "deadline_met_share", "batch_extra_gpu_hours", "batch_slowdown_max",
    "batch_output_tokens", "batch_served_output_tokens", "batch_preemptions",
    "batch_recomputed_tokens",
)  # fmt: skip
#: Text that is null when there is nothing to say (a null is a metric without a value).
DEPLOYMENT_NULLABLE = ("verdict",)
#: Disaggregated serving: each pool's figures (`pools.prefill`, `pools.decode`) and the KV
#: caches moved between them (`kv_transfer`, null otherwise).
POOL = (
    "replicas", "tensor_parallel", "expert_parallel", "gpus_per_replica", "gpu_hours_scheduled",
    "gpu_hours_busy", "busy_share", "tokens_per_s", "tokens_per_s_per_replica",
    "tokens_per_s_per_gpu",
)  # fmt: skip
KV_TRANSFER = ("transfers", "bytes", "seconds_per_transfer")
#: Mixed fleets: each pool's figures (`mixed_pools.<name>`).
MIXED_POOL = (
    "replicas", "tensor_parallel", "gpus_per_replica", "gpu_hours_scheduled", "gpu_hours_busy",
    "busy_share", "output_tokens_per_s", "routing_usd_per_gpu_hour", "spill_over_sequences",
)  # fmt: skip
DEPLOYMENT_PERCENTILES = (
    "ttft_s", "tpot_s", "e2e_s", "queue_s", "itl_s", "decode_batch_sequences",
    "decode_batch_sequences_per_iteration", "prefill_batch_tokens", "kv_occupancy",
)  # fmt: skip
INTERVALS = ("ttft_p99_s", "tpot_p50_s", "e2e_p50_s", "output_tokens_per_s", "gpu_hours_busy")
CLASS_SERVING = (
    "requests", "completed", "slo_met_share", "input_tokens", "cached_input_tokens",
    "output_tokens", *SERVED, "deadline_s", "deadline_missed_output_tokens",
)  # fmt: skip
CLASS_PERCENTILES = ("ttft_s", "tpot_s", "e2e_s", "queue_s")
BILL_PART = ("gpu_hours_per_month", "usd_per_gpu_hour", "usd_per_month")
CAPACITY = (
    "reserved_idle_gpu_hours_per_month", "spot_interruptions_per_month", "capacity_missing_share",
)  # fmt: skip
SPOT_SERVING = (
    "rate_per_replica_hour", "replacement_lag_s", "reclaims", "requests_recomputed",
    "requests_moved", "recomputed_tokens", "recompute_gpu_hours", "down_gpu_hours",
)  # fmt: skip
SPOT_CAPACITY = ("spot_requests_recomputed_per_month", "spot_recompute_gpu_hours_per_month")
ENERGY_FLEET = (
    "gpu_power_w", "pue", "host_overhead_share", "kwh_per_month", "gco2e_per_kwh",
    "tco2e_per_month", "gco2e_per_ktok",
)  # fmt: skip
ENERGY_TOTAL = ("kwh_per_month", "tco2e_per_month", "gco2e_per_ktok")
BATCH_TIER = (
    "usd_per_mtok_input", "usd_per_mtok_cached_input", "usd_per_mtok_output",
    "requests_per_month", "usd_per_month", "standard_usd_per_month", "saving_usd_per_month",
)  # fmt: skip
#: Sections whose contents follow the run's results: only their presence is checked.
OPEN_SECTIONS = ("routing", "levers")


def _zeros(keys: Iterable[str]) -> dict[str, Any]:
    return dict.fromkeys(keys, 0.0)


def _margins(scenario: Scenario) -> dict[str, Any]:
    """A margin row per segment the economics may name (`economics.segments`)."""
    sold = {product.deployment: key for key, product in scenario.pricing.api.items()}
    rows: dict[str, str | None] = {}  # segment -> product
    kinds: dict[str, str] = {}
    for name, pop in scenario.workload.users.items():
        rows[name] = pop.plan
        kinds[name] = "free" if pop.plan == "free" else "plan"
    for name, cls in scenario.workload.classes.items():
        reached = reached_deployments(scenario, cls.deployment)
        for deployment in reached:
            segment = name if len(reached) == 1 else f"{name}@{deployment}"
            rows[segment] = sold.get(deployment)
            kinds[segment] = "api"
    for name in scenario.pricing.contracts:
        rows[name] = name
        kinds[name] = "contract"
    for segment, kind in list(kinds.items()):  # a name two segments share gets its kind
        rows[f"{kind}:{segment}"] = rows[segment]
    for name, dep in scenario.deployments.items():
        if isinstance(dep, SelfHosted):
            rows[f"idle fleet: {name}"] = None
    rows["serving overhead"] = None
    rows["total"] = None
    return {
        segment: {**_zeros(MARGIN_ROW), "product": product} for segment, product in rows.items()
    }


def _served(scenario: Scenario, deployment: str) -> dict[str, Any]:
    classes = [
        name
        for name, cls in scenario.workload.classes.items()
        if deployment in reached_deployments(scenario, cls.deployment)
    ]
    return {
        **_zeros(DEPLOYMENT_SERVING),
        **dict.fromkeys(DEPLOYMENT_NULLABLE),
        **{key: _zeros(STATS) for key in DEPLOYMENT_PERCENTILES},
        "intervals_95": {key: _zeros(INTERVAL) for key in INTERVALS},
        "classes": {name: _class_served() for name in classes},
        **_pools(scenario),
        **_mixed_pools(scenario, deployment),
        **_spot(scenario, deployment),
    }


def _mixed_pools(scenario: Scenario, deployment: str) -> dict[str, Any]:
    dep = scenario.deployments[deployment]
    if not isinstance(dep, SelfHosted) or dep.pools is None:
        return {}
    return {
        "mixed_pools": {
            pool.name: {
                **_zeros(MIXED_POOL),
                **(
                    {"spot": _zeros(SPOT_SERVING)}
                    if _has_spot(_pool_cost(scenario, dep, i))
                    else {}
                ),
            }
            for i, pool in enumerate(dep.pools)
        }
    }


def _pool_cost(scenario: Scenario, dep: SelfHosted, index: int) -> object:
    assert dep.pools is not None
    return dep.pool_layout(dep.pools[index]).cost or scenario.costs.gpu


def _has_spot(cost: object) -> bool:
    return isinstance(cost, RentedGpu) and cost.spot is not None


def _spot(scenario: Scenario, name: str) -> dict[str, Any]:
    """Rented GPUs with spot capacity (a mixed fleet's: on any pool): the engine's reclaims
    (`serving.interruptions`)."""
    dep = scenario.deployments[name]
    assert isinstance(dep, SelfHosted)
    if dep.pools is not None:
        spot = any(_has_spot(_pool_cost(scenario, dep, i)) for i in range(len(dep.pools)))
    else:
        spot = _has_spot(dep.cost or scenario.costs.gpu)
    return {"spot": _zeros(SPOT_SERVING)} if spot else {}


def _pools(scenario: Scenario) -> dict[str, Any]:
    if not scenario.fleet.disaggregated:
        return {"pools": {}, "kv_transfer": None}
    return {
        "pools": {role: _zeros(POOL) for role in ("prefill", "decode")},
        "kv_transfer": _zeros(KV_TRANSFER),
    }


def _class_served() -> dict[str, Any]:
    return {**_zeros(CLASS_SERVING), **{key: _zeros(STATS) for key in CLASS_PERCENTILES}}


def skeleton(scenario: Scenario) -> dict[str, Any]:
    """A run JSON of the shape the scenario's run will have, every number 0."""
    hosted = [name for name, dep in scenario.deployments.items() if isinstance(dep, SelfHosted)]
    operating = _zeros(scenario.costs.operating_usd_per_month)
    return {
        "margins": _margins(scenario),
        "users": {name: _zeros(USER_ROW) for name in scenario.workload.users},
        "pnl": {**_zeros(PNL), "operating_costs_usd": operating},
        "months": [
            {"month": month, **_zeros(MONTH_ROW)} for month in range(1, scenario.horizon.months + 1)
        ],
        "projection": _zeros(PROJECTION),
        "costs": {name: {**_zeros(FLEET_COSTS), "bill": _bill(scenario, name)} for name in hosted},
        **_batch_tiers(scenario),
        **_energy(scenario, hosted),
        **_value_chain(scenario),
        "serving": {
            "seed": 0.0,
            "simulated_s": 0.0,
            "deployments": {name: _served(scenario, name) for name in hosted},
        },
    }


def _bill(scenario: Scenario, name: str) -> dict[str, Any]:
    """A fleet's bill by kind (`infersim.economics.capacity`); a mixed fleet's by pool
    (`pool:<name>`, or `pool:<name>:<kind>` for a pool with reserved or spot capacity)."""
    dep = scenario.deployments[name]
    assert isinstance(dep, SelfHosted)
    if dep.pools is None:
        cost = dep.cost or scenario.costs.gpu
        kinds = _bill_kinds(cost)
        capacity = _zeros(CAPACITY) if len(kinds) > 1 else {}
        if isinstance(cost, RentedGpu) and cost.spot is not None:
            capacity |= _zeros(SPOT_CAPACITY)
        return {**{kind: _zeros(BILL_PART) for kind in kinds}, **capacity}
    out: dict[str, Any] = {}
    split = spot = False
    for pool in dep.pools:
        cost = dep.pool_layout(pool).cost or scenario.costs.gpu
        kinds = _bill_kinds(cost)
        spot = spot or _has_spot(cost)
        if len(kinds) == 1:
            out[f"pool:{pool.name}"] = _zeros(BILL_PART)
            continue
        split = True
        out |= {f"pool:{pool.name}:{kind}": _zeros(BILL_PART) for kind in kinds}
    capacity = _zeros(CAPACITY) if split else {}
    if spot:  # the engine's reclaims of its spot pools' replicas
        capacity |= _zeros(SPOT_CAPACITY)
    return {**out, **capacity}


def _bill_kinds(cost: RentedGpu | OwnedGpu) -> list[str]:
    """How a fleet priced by `cost` is bought: one kind, or the capacity bill's parts."""
    if not isinstance(cost, RentedGpu):
        return ["owned"]
    if cost.reserved is None and cost.spot is None:
        return [cost.pricing]
    kinds = ["on_demand"]
    if cost.reserved is not None:
        kinds.append(f"reserved_{cost.reserved.term_years}y")
    if cost.spot is not None:
        kinds.append("spot")
    return kinds


def _batch_tiers(scenario: Scenario) -> dict[str, Any]:
    """API purchases and sales that batch-billed classes reach (`economics.batch_tiers`)."""
    reached = {
        deployment
        for cls in scenario.workload.classes.values()
        if billed_as_batch(cls)
        for deployment in reached_deployments(scenario, cls.deployment)
    }
    tiers = [f"purchase:{d}" for d in scenario.deployments if d in reached]
    tiers = [t for t in tiers if isinstance(scenario.deployments[t[9:]], ApiModel)]
    tiers += [f"sale:{k}" for k, p in scenario.pricing.api.items() if p.deployment in reached]
    if not tiers:
        return {}
    return {"batch_tiers": {t: {**_zeros(BATCH_TIER), "source": "none"} for t in tiers}}


def _energy(scenario: Scenario, hosted: list[str]) -> dict[str, Any]:
    if scenario.costs.energy is None:
        return {}
    fleets = {name: _zeros(ENERGY_FLEET) for name in hosted}
    for name in hosted:
        dep = scenario.deployments[name]
        if isinstance(dep, SelfHosted) and dep.pools is not None:
            fleets[name]["pools"] = {pool.name: _zeros(ENERGY_FLEET) for pool in dep.pools}
    return {"energy": {"billed": False, "deployments": fleets, **_zeros(ENERGY_TOTAL)}}


def _value_chain(scenario: Scenario) -> dict[str, Any]:
    if scenario.costs.value_chain is None:
        return {}
    shares = {who: _zeros(("usd_per_month", "share")) for who in VALUE_CHAIN_LABELS}
    return {"value_chain": {"revenue_usd": 0.0, "shares": shares}}


def _open(scenario: Scenario, parts: list[str]) -> str | None:
    """For a path into a section the scenario alone does not shape: None when it may exist,
    else why it cannot."""
    if parts[0] == "routing" and scenario.routing is None:
        return "the scenario has no routing, so its run has no routing section"
    return None


def _derived_class(scenario: Scenario, shape: dict[str, Any], parts: list[str]) -> None:
    """User populations are served as classes the run names after them ('users...'): give
    the shape the one the path asks for."""
    if len(parts) < 5 or parts[:2] != ["serving", "deployments"] or parts[3] != "classes":
        return
    served = shape["serving"]["deployments"].get(parts[2])
    if served is None or not scenario.workload.users or not parts[4].startswith("users"):
        return
    served["classes"].setdefault(parts[4], _class_served())


def unknown_metric(
    scenario: Scenario, metric: str, shape: dict[str, Any] | None = None
) -> str | None:
    """Why the scenario's run cannot have `metric` (None: it may). `shape`: its `skeleton`."""
    parts = metric.split(".")
    if parts[0] in OPEN_SECTIONS and all(parts):
        why = _open(scenario, parts)
        return None if why is None else f"metric '{metric}': {why}"
    shape = skeleton(scenario) if shape is None else shape
    _derived_class(scenario, shape, parts)
    try:
        resolve(shape, metric)
    except MetricError as exc:
        return str(exc)
    return None


def unknown_metrics(scenario: Scenario) -> list[tuple[int, str]]:
    """(index, why) of each expectation whose metric the scenario's run cannot have."""
    shape = skeleton(scenario) if scenario.expect else None
    found = [(i, unknown_metric(scenario, e.metric, shape)) for i, e in enumerate(scenario.expect)]
    return [(index, why) for index, why in found if why is not None]
