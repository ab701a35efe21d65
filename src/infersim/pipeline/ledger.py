"""The ledger: from the engine's GPU-hours and tokens to what economics prices.

- `FleetCost` per self-hosted deployment: its provisioned GPU-hours scaled to a month
  (730 h), at the $/GPU-hour of its rented or owned GPUs at the busy share it ran at.
- `TokenCost` per self-hosted deployment: that bill spread over the tokens it served
  (prefill's share of busy time over prompt tokens, the rest over output tokens), so idle
  capacity is in the price of every token.
- `ClassVolume` per request class and deployment: monthly requests and tokens, for API
  products (from the engine where it served them, from the class's rate and mean lengths
  for deployments bought from an API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infersim.catalog.load import Catalog
from infersim.economics import (
    ClassVolume,
    FleetCost,
    GpuHourCost,
    TokenCost,
    gpu_usd_per_hour,
    token_cost_from_fleet,
)
from infersim.scenario.deployment import ApiModel, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Diurnal, Trace
from infersim.serving.result import ServingResult
from infersim.workload.lengths import mean_tokens, share_of_tokens_above
from infersim.workload.stream import class_share
from infersim.workload.trace import ExternalData

SECONDS_PER_MONTH = 730.0 * 3600.0


@dataclass(frozen=True)
class Ledger:
    gpu_costs: Mapping[str, GpuHourCost]
    fleets: tuple[FleetCost, ...]
    token_costs: Mapping[str, TokenCost]
    volumes: tuple[ClassVolume, ...]


def _long_context_share(
    scenario: Scenario, class_name: str, deployment: str, data: ExternalData
) -> float:
    """Share of the class's prompt tokens above its API product's long-context threshold."""
    products = [p for p in scenario.pricing.api.values() if p.deployment == deployment]
    cls = scenario.workload.classes[class_name]
    thresholds = [p.long_context_threshold_tokens for p in products]
    if not thresholds or thresholds[0] is None:
        return 0.0
    return share_of_tokens_above(cls.prompt_tokens, thresholds[0], data.empirical)


def build_ledger(
    scenario: Scenario,
    catalog: Catalog,
    serving: ServingResult,
    data: ExternalData,
    derived: tuple[str, ...] = (),
) -> Ledger:
    """Fleet bills, per-token costs and monthly class volumes (see the module doc)."""
    to_month = SECONDS_PER_MONTH / serving.horizon_s
    served = {d.name: d for d in serving.deployments}
    gpu_costs: dict[str, GpuHourCost] = {}
    fleets: list[FleetCost] = []
    token_costs: dict[str, TokenCost] = {}
    volumes: list[ClassVolume] = []
    for name, dep in scenario.deployments.items():
        if isinstance(dep, ApiModel):
            volumes += _api_volumes(scenario, name, data)
            continue
        assert isinstance(dep, SelfHosted)
        gpu = catalog.gpu(dep.gpu) if isinstance(dep.gpu, str) else dep.gpu
        result = served.get(name)
        gpus = dep.tensor_parallel * dep.expert_parallel
        if result is None:  # provisioned, but no traffic: all idle
            hours, busy = dep.replicas * gpus * 730.0, 0.0
        else:
            # a steady month bills the scheduled fleet: the drain after a finite simulation
            # overlaps the next window's arrivals in reality
            hours, busy = result.gpu_hours_scheduled * to_month, min(result.busy_share, 1.0)
        hour_cost = gpu_usd_per_hour(dep.cost or scenario.costs.gpu, gpu, busy)
        gpu_costs[name] = hour_cost
        fleets.append(FleetCost(name, hours, min(max(busy, 0.0), 1.0), hour_cost.usd_per_hour))
        if result is None:
            token_costs[name] = TokenCost(name, 0.0, 0.0, 0.0, "engine")
            continue
        token_costs[name] = token_cost_from_fleet(
            name,
            result.gpu_hours_scheduled * hour_cost.usd_per_hour,
            result.input_tokens,
            result.cached_input_tokens,
            result.output_tokens,
            result.prefill_share,
        )
        for cls in result.classes:
            if cls.name in derived:
                continue  # populations are priced per user, not as a class
            volumes.append(
                ClassVolume(
                    name=cls.name,
                    deployment=name,
                    requests_per_month=cls.requests * to_month,
                    input_tokens_per_month=cls.input_tokens * to_month,
                    cached_input_tokens_per_month=cls.cached_input_tokens * to_month,
                    output_tokens_per_month=cls.output_tokens * to_month,
                    batch_api=scenario.workload.classes[cls.name].batch_api,
                    long_context_input_share=_long_context_share(scenario, cls.name, name, data),
                )
            )
    return Ledger(gpu_costs, tuple(fleets), token_costs, tuple(volumes))


def _api_volumes(scenario: Scenario, deployment: str, data: ExternalData) -> list[ClassVolume]:
    """Monthly volumes of classes sent to an API deployment, from rates and mean lengths."""
    out = []
    for name, cls in scenario.workload.classes.items():
        share = class_share(scenario, name, deployment)
        if share <= 0:
            continue
        arrival = cls.arrival
        if isinstance(arrival, Trace):
            trace = data.traces[arrival.path]
            span = max(float(trace.times_s[-1] - trace.times_s[0]) * arrival.time_scale, 1.0)
            rate = len(trace.times_s) / span
        elif isinstance(arrival, Diurnal):
            rate = arrival.mean_rate_per_s
        else:
            rate = arrival.rate_per_s
        requests = rate * share * SECONDS_PER_MONTH
        prompt = mean_tokens(cls.prompt_tokens, data.empirical)
        out.append(
            ClassVolume(
                name=name,
                deployment=deployment,
                requests_per_month=requests,
                input_tokens_per_month=requests * prompt,
                cached_input_tokens_per_month=requests * prompt * cls.cached_prefix_share,
                output_tokens_per_month=requests * mean_tokens(cls.output_tokens, data.empirical),
                batch_api=cls.batch_api,
                long_context_input_share=_long_context_share(scenario, name, deployment, data),
            )
        )
    return out
