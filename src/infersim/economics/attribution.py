"""Who pays for what: fleet bills and serving overhead, attributed to segments.

1. Tokens are priced. Every segment's tokens on a deployment are priced at that deployment's
   `TokenCost` (for a fleet: its bill spread over the tokens it served, prompt and output
   tokens in proportion to the busy GPU time prefill and decode took; or the API list
   price, in its batch tier for a batch class's tokens): `priced_usd`.
2. A fleet is paid in full, and only its bill is charged: for a deployment with a
   `FleetCost`, the charge is the fleet's monthly bill (paid GPU-hours x $/GPU-hour), split
   over its segments in proportion to their priced cost, i.e. each segment's priced cost
   times `factor = bill / priced`. The rule for idle time: idle GPU-hours are spread over the
   segments in proportion to the busy GPU time their tokens took (the token cost already
   carries them, so `factor` is 1 to rounding when the volumes are the tokens the fleet
   served, which the pipeline guarantees). A fleet with no tokens on it goes to an 'idle
   fleet' row. Deployments without a fleet (API) are charged what their tokens cost.
3. Serving overhead = serving_overhead_share x GPU cost + serving_overhead_usd_per_month,
   allocated in proportion to each segment's serving cost (GPU + API): every serving dollar
   carries `overhead_rate` = overhead / serving cost. Without any serving cost, it goes to an
   'unallocated' row.

Every dollar thus lands in exactly one row, and the rows add up to the totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from infersim.economics.inputs import FleetCost, TokenCost, TokenCostSource


@dataclass(frozen=True)
class Usage:
    """Requests and tokens a segment had served on one deployment in the month."""

    segment: str
    deployment: str
    requests: float
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    batch: bool = False
    """A batch class's: priced in its deployment's batch tier (API deployments)."""


@dataclass(frozen=True)
class DeploymentCost:
    """One deployment's month: tokens served, their priced cost, the fleet bill, the charge."""

    deployment: str
    source: TokenCostSource
    requests: float
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    priced_usd: float
    fleet_usd: float | None
    idle_fleet_usd: float | None
    busy_share: float | None
    charged_usd: float
    factor: float

    @property
    def cost_usd_per_mtok(self) -> float | None:
        mtok = (self.input_tokens + self.output_tokens) / 1e6
        return self.charged_usd / mtok if mtok > 0 else None

    @property
    def unallocated_usd(self) -> float:
        """A fleet bill that no token was priced against."""
        return self.charged_usd if self.priced_usd <= 0 else 0.0


@dataclass(frozen=True)
class Attribution:
    deployments: Mapping[str, DeploymentCost]
    gpu_cost_usd: float
    api_cost_usd: float
    overhead_usd: float
    overhead_rate: float
    unallocated_overhead_usd: float

    def segment_costs(
        self, usages: Iterable[Usage], token_costs: Mapping[str, TokenCost]
    ) -> tuple[float, float, float]:
        """(gpu, api, overhead) USD charged to these usages."""
        gpu = api = 0.0
        for usage in usages:
            deployment = self.deployments[usage.deployment]
            usd = priced_usd(usage, token_costs[usage.deployment]) * deployment.factor
            if deployment.source == "engine":
                gpu += usd
            else:
                api += usd
        return gpu, api, (gpu + api) * self.overhead_rate


def priced_usd(usage: Usage, cost: TokenCost) -> float:
    return cost.usd(usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.batch)


def attribute(
    usages: Iterable[Usage],
    token_costs: Mapping[str, TokenCost],
    fleets: Mapping[str, FleetCost],
    overhead_share: float,
    overhead_usd_per_month: float,
) -> Attribution:
    """Deployment charges and the overhead rate (see the module doc)."""
    sums: dict[str, list[float]] = {}
    for usage in usages:
        acc = sums.setdefault(usage.deployment, [0.0] * 5)
        acc[0] += usage.requests
        acc[1] += usage.input_tokens
        acc[2] += usage.cached_input_tokens
        acc[3] += usage.output_tokens
        acc[4] += priced_usd(usage, token_costs[usage.deployment])
    deployments: dict[str, DeploymentCost] = {}
    for name in sorted(set(sums) | set(fleets)):
        requests, tokens_in, tokens_cached, tokens_out, priced = sums.get(name, [0.0] * 5)
        fleet = fleets.get(name)
        charged = priced if fleet is None else fleet.usd_per_month
        deployments[name] = DeploymentCost(
            deployment=name,
            source="engine" if fleet is not None else token_costs[name].source,
            requests=requests,
            input_tokens=tokens_in,
            cached_input_tokens=tokens_cached,
            output_tokens=tokens_out,
            priced_usd=priced,
            fleet_usd=None if fleet is None else fleet.usd_per_month,
            idle_fleet_usd=None if fleet is None else fleet.idle_usd_per_month,
            busy_share=None if fleet is None else fleet.busy_share,
            charged_usd=charged,
            factor=charged / priced if priced > 0 else 1.0,
        )
    gpu = math.fsum(d.charged_usd for d in deployments.values() if d.source == "engine")
    api = math.fsum(d.charged_usd for d in deployments.values() if d.source == "list_price")
    overhead = overhead_share * gpu + overhead_usd_per_month
    serving = gpu + api
    rate = overhead / serving if serving > 0 else 0.0
    return Attribution(
        deployments=deployments,
        gpu_cost_usd=gpu,
        api_cost_usd=api,
        overhead_usd=overhead,
        overhead_rate=rate,
        unallocated_overhead_usd=overhead if serving <= 0 else 0.0,
    )
