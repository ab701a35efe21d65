"""Self-hosting against buying the same tokens from an API: the monthly volume where it pays.

For a self-hosted deployment (its fleet as provisioned in the run) and an API deployment of
the same scenario, in USD and millions of tokens (Mtok), tokens being prompt + output tokens:

    fixed      $/month    = GPUs x 730 h x what a GPU-hour costs idle: the rental, or
                            amortization + server share + hosting + idle power
    marginal   $/Mtok     = the power drawn above idle by a busy GPU-hour, over the tokens a
                            busy GPU-hour serves at steady state (0 for rented GPUs)
    api        $/Mtok     = the API's list price at the workload's mix of uncached prompt,
                            cached prompt and output tokens
    breakeven  Mtok/month = fixed / (api - marginal)
    capacity   Mtok/month = replicas x steady-state tokens/s of one replica x 730 h

Self-hosting wins above the breakeven volume if that volume is within capacity. Fixed cost
and capacity both scale with the replicas, so "never within capacity" holds at any fleet
size. `costs.serving_overhead_share` is added to both GPU costs; the flat
`serving_overhead_usd_per_month` is left out (it is not a cost of the GPUs). The steady state
is the performance model's (`steady_state_throughput`) at the workload's mean prompt and
output lengths; the mix is the run's monthly class volumes (`ledger.volumes`), or its served
tokens where the workload is only user populations.

A mixed fleet (pools of GPU types or regions) breaks even as one fleet: its fixed cost and
its capacity are its pools' sums, each pool at its own GPU's price and steady state; its
marginal cost is the fleet's at full load (every pool's power above idle over every pool's
tokens), the mean of its pools' weighted by their capacity. For rented pools (marginal 0)
this is exact; for owned ones the cheapest pool's marginal token may cost less or more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from infersim.catalog.load import Catalog
from infersim.economics import HOURS_PER_MONTH, ClassVolume, TokenCost, api_token_cost
from infersim.economics.gpu_cost import gpu_usd_per_hour
from infersim.perf import DoesNotFit, build_perf_model, steady_state_throughput
from infersim.pipeline.ledger import Ledger
from infersim.scenario.deployment import ApiModel, SelfHosted
from infersim.scenario.model import Scenario
from infersim.serving.result import ServingResult

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0

Outcome = Literal["wins_above", "beyond_capacity", "never"]


@dataclass(frozen=True)
class TokenMix:
    """A workload's tokens per request: prompt (of which a cached share) and output."""

    prompt_tokens: float
    output_tokens: float
    cached_prompt_share: float = 0.0

    def __post_init__(self) -> None:
        if self.prompt_tokens < 0 or self.output_tokens <= 0:
            raise ValueError(
                f"a token mix needs prompt_tokens >= 0 and output_tokens > 0, got "
                f"{self.prompt_tokens!r} and {self.output_tokens!r}"
            )
        if not 0.0 <= self.cached_prompt_share <= 1.0:
            raise ValueError(
                f"cached_prompt_share must be within [0, 1], got {self.cached_prompt_share!r}"
            )

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.output_tokens

    def usd_per_mtok(self, cost: TokenCost) -> float:
        """`cost`'s price of one million tokens (prompt + output) at this mix."""
        cached = self.prompt_tokens * self.cached_prompt_share
        return cost.usd(self.prompt_tokens, cached, self.output_tokens) / self.tokens * 1e6


@dataclass(frozen=True)
class Breakeven:
    """One self-hosted deployment against one API deployment (see the module doc)."""

    self_hosted: str
    api: str
    gpus: float
    fixed_usd_per_month: float
    marginal_usd_per_mtok: float
    api_usd_per_mtok: float
    capacity_mtok_per_month: float
    volume_mtok_per_month: float
    """The scenario's own workload, prompt + output tokens a month."""
    breakeven_mtok_per_month: float | None
    """None when the API costs no more per token than the power alone."""

    @property
    def outcome(self) -> Outcome:
        if self.breakeven_mtok_per_month is None:
            return "never"
        if self.breakeven_mtok_per_month > self.capacity_mtok_per_month:
            return "beyond_capacity"
        return "wins_above"

    @property
    def verdict(self) -> str:
        capacity = f"{self.capacity_mtok_per_month:,.0f} Mtok/month"
        if self.breakeven_mtok_per_month is None:
            return (
                f"never: the API's ${self.api_usd_per_mtok:,.3g}/Mtok is at or below the "
                f"power alone (${self.marginal_usd_per_mtok:,.3g}/Mtok)"
            )
        volume = f"{self.breakeven_mtok_per_month:,.0f} Mtok/month"
        if self.outcome == "beyond_capacity":
            return f"never within capacity: breakeven {volume} exceeds the fleet's {capacity}"
        return f"self-hosting wins above {volume} (capacity {capacity})"

    def self_hosted_usd(self, mtok_per_month: float) -> float:
        """What the fleet costs a month serving this volume (up to its capacity)."""
        if mtok_per_month <= 0:
            return self.fixed_usd_per_month
        return self.fixed_usd_per_month + self.marginal_usd_per_mtok * mtok_per_month

    def api_usd(self, mtok_per_month: float) -> float:
        """What the API charges for this volume."""
        return self.api_usd_per_mtok * mtok_per_month


def breakeven_mtok_per_month(
    fixed_usd_per_month: float, marginal_usd_per_mtok: float, api_usd_per_mtok: float
) -> float | None:
    """fixed / (api - marginal): the volume where both cost the same; None if never."""
    if min(fixed_usd_per_month, marginal_usd_per_mtok, api_usd_per_mtok) < 0:
        raise ValueError("costs and prices must be >= 0")
    margin = api_usd_per_mtok - marginal_usd_per_mtok
    if margin <= 0:
        return None
    return fixed_usd_per_month / margin


def self_hosting_breakeven(
    self_hosted: str,
    api: str,
    *,
    gpus: float,
    gpus_per_replica: int,
    fixed_usd_per_gpu_hour: float,
    busy_extra_usd_per_gpu_hour: float,
    replica_tokens_per_s: float,
    api_usd_per_mtok: float,
    volume_mtok_per_month: float = 0.0,
) -> Breakeven:
    """The breakeven from per-GPU-hour costs and one replica's steady-state throughput
    (prompt + output tokens per second)."""
    if gpus < 0 or gpus_per_replica < 1 or replica_tokens_per_s < 0:
        raise ValueError("need gpus >= 0, gpus_per_replica >= 1, replica_tokens_per_s >= 0")
    fixed = gpus * HOURS_PER_MONTH * fixed_usd_per_gpu_hour
    replicas = gpus / gpus_per_replica
    if replica_tokens_per_s > 0:
        mtok_per_busy_replica_hour = replica_tokens_per_s * 3600.0 / 1e6
        marginal = busy_extra_usd_per_gpu_hour * gpus_per_replica / mtok_per_busy_replica_hour
    else:
        marginal = math.inf
    capacity = replicas * replica_tokens_per_s * SECONDS_PER_MONTH / 1e6
    point = None
    if math.isfinite(marginal):
        point = breakeven_mtok_per_month(fixed, marginal, api_usd_per_mtok)
    return Breakeven(
        self_hosted=self_hosted,
        api=api,
        gpus=gpus,
        fixed_usd_per_month=fixed,
        marginal_usd_per_mtok=marginal,
        api_usd_per_mtok=api_usd_per_mtok,
        capacity_mtok_per_month=capacity,
        volume_mtok_per_month=volume_mtok_per_month,
        breakeven_mtok_per_month=point,
    )


def workload_mix(ledger: Ledger, serving: ServingResult) -> tuple[TokenMix, float] | None:
    """The run's mean tokens per request and its monthly volume in Mtok (None: no tokens)."""
    volumes: Sequence[ClassVolume] = ledger.volumes
    requests = sum(v.requests_per_month for v in volumes)
    prompt = sum(v.input_tokens_per_month for v in volumes)
    cached = sum(v.cached_input_tokens_per_month for v in volumes)
    output = sum(v.output_tokens_per_month for v in volumes)
    if requests <= 0 or output <= 0:  # only user populations: what the engine served
        scale = SECONDS_PER_MONTH / serving.horizon_s
        served = serving.deployments
        requests = sum(d.requests for d in served) * scale
        prompt = sum(d.input_tokens for d in served) * scale
        cached = sum(d.cached_input_tokens for d in served) * scale
        output = sum(d.output_tokens for d in served) * scale
    if requests <= 0 or output <= 0:
        return None
    mix = TokenMix(prompt / requests, output / requests, cached / prompt if prompt > 0 else 0.0)
    return mix, (prompt + output) / 1e6


def _replica_tokens_per_s(dep: SelfHosted, catalog: Catalog, mix: TokenMix) -> float:
    perf = build_perf_model(dep, catalog)
    prompt = max(0, round(mix.prompt_tokens))
    output = max(1, round(mix.output_tokens))
    try:
        point = steady_state_throughput(perf, prompt, output)
    except DoesNotFit:
        return 0.0
    return point.output_tokens_per_s * (prompt + output) / output


def _pair(
    scenario: Scenario,
    catalog: Catalog,
    serving: ServingResult,
    name: str,
    dep: SelfHosted,
    api: tuple[str, TokenCost],
    mix: TokenMix,
    volume_mtok: float,
) -> Breakeven:
    gpu = catalog.gpu_of(dep.gpu)
    cost = dep.cost or scenario.costs.gpu
    overhead = 1.0 + scenario.costs.serving_overhead_share
    idle = gpu_usd_per_hour(cost, gpu, 0.0).usd_per_hour * overhead
    busy = gpu_usd_per_hour(cost, gpu, 1.0).usd_per_hour * overhead
    replicas = float(dep.replicas)
    for served in serving.deployments:
        if served.name == name:
            replicas = served.replicas
    return self_hosting_breakeven(
        name,
        api[0],
        gpus=replicas * dep.gpus_per_replica,
        gpus_per_replica=dep.gpus_per_replica,
        fixed_usd_per_gpu_hour=idle,
        busy_extra_usd_per_gpu_hour=busy - idle,
        replica_tokens_per_s=_replica_tokens_per_s(dep, catalog, mix),
        api_usd_per_mtok=mix.usd_per_mtok(api[1]),
        volume_mtok_per_month=volume_mtok,
    )


def _mixed_pair(
    scenario: Scenario,
    catalog: Catalog,
    name: str,
    dep: SelfHosted,
    api: tuple[str, TokenCost],
    mix: TokenMix,
    volume_mtok: float,
) -> Breakeven:
    """A mixed fleet's breakeven: its pools' fixed costs and capacities summed, its marginal
    cost at full load (see the module doc)."""
    assert dep.pools is not None
    overhead = 1.0 + scenario.costs.serving_overhead_share
    gpus, fixed, extra, tokens_per_s = [], [], [], []
    for pool in dep.pools:
        layout = dep.pool_layout(pool)
        gpu = catalog.gpu_of(pool.gpu)
        cost = layout.cost or scenario.costs.gpu
        idle = gpu_usd_per_hour(cost, gpu, 0.0).usd_per_hour * overhead
        busy = gpu_usd_per_hour(cost, gpu, 1.0).usd_per_hour * overhead
        count = pool.replicas * layout.gpus_per_replica
        gpus.append(count)
        fixed.append(count * HOURS_PER_MONTH * idle)
        extra.append(count * (busy - idle))
        tokens_per_s.append(pool.replicas * _replica_tokens_per_s(layout, catalog, mix))
    fleet_tokens_per_s = math.fsum(tokens_per_s)
    fixed_usd = math.fsum(fixed)
    marginal = math.inf
    if fleet_tokens_per_s > 0:
        marginal = math.fsum(extra) / (fleet_tokens_per_s * 3600.0 / 1e6)
    api_usd = mix.usd_per_mtok(api[1])
    point = None
    if math.isfinite(marginal):
        point = breakeven_mtok_per_month(fixed_usd, marginal, api_usd)
    return Breakeven(
        self_hosted=name,
        api=api[0],
        gpus=float(sum(gpus)),
        fixed_usd_per_month=fixed_usd,
        marginal_usd_per_mtok=marginal,
        api_usd_per_mtok=api_usd,
        capacity_mtok_per_month=fleet_tokens_per_s * SECONDS_PER_MONTH / 1e6,
        volume_mtok_per_month=volume_mtok,
        breakeven_mtok_per_month=point,
    )


def run_breakevens(
    scenario: Scenario, ledger: Ledger, serving: ServingResult, catalog: Catalog
) -> list[Breakeven]:
    """Every (self-hosted, API) pair of the run's scenario, in the scenario's order; empty
    when it lacks either kind or serves no tokens. `catalog` is the one the run used; a mixed
    fleet breaks even as one fleet (see the module doc)."""
    hosted = [(n, d) for n, d in scenario.deployments.items() if isinstance(d, SelfHosted)]
    apis = [
        (n, api_token_cost(d, n, catalog))
        for n, d in scenario.deployments.items()
        if isinstance(d, ApiModel)
    ]
    if not hosted or not apis:
        return []
    found = workload_mix(ledger, serving)
    if found is None:
        return []
    mix, volume = found
    return [
        _pair(scenario, catalog, serving, name, dep, api, mix, volume)
        if dep.pools is None
        else _mixed_pair(scenario, catalog, name, dep, api, mix, volume)
        for name, dep in hosted
        for api in apis
    ]
