"""Energy and carbon of a self-hosted fleet, month by month: reported, not billed.

    GPU power (W)  = TDP x (idle_share + (1 - idle_share) x busy_share)
    kWh per month  = paid GPU-hours x GPU power / 1000 x (1 + host_overhead_share) x PUE
    tCO2e          = kWh x grid gCO2e/kWh / 10^6
    gCO2e per 1,000 tokens = tCO2e x 10^6 / (tokens served / 1,000)

Rented GPUs draw power too: the same figures are reported for them (the cloud bills it inside
the rent). Owned GPUs use their cost block's idle share and PUE, the figures that price their
power in the bill; rented ones `costs.energy`'s. At zero load, kWh = idle power x hours x PUE.

A mixed fleet (pools of GPU types or regions) is the sum of its pools, each at its own GPU's
power, busy share, PUE and grid (`pooled_energy`): its kWh and tCO2e are the pools' sums; its
W per GPU the pools' mean over their paid hours, its PUE and gCO2e/kWh the means those sums
imply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infersim.catalog.types import GpuSpec
from infersim.economics.errors import MissingPowerError


@dataclass(frozen=True)
class EnergyUse:
    deployment: str
    gpu_hours_per_month: float
    gpu_power_w: float
    """Average draw of one GPU over its paid hours."""
    host_overhead_share: float
    pue: float
    kwh_per_month: float
    tokens_per_month: float
    gco2e_per_kwh: float | None
    """None: no grid given, carbon not reported."""
    pool: str | None = None
    """One pool of a mixed fleet (its `deployment` is the fleet's)."""
    pools: tuple[EnergyUse, ...] = ()
    """A mixed fleet: its pools, whose kWh and tCO2e this one's are the sums of."""

    @property
    def tco2e_per_month(self) -> float | None:
        if self.pools:
            tonnes = [p.tco2e_per_month for p in self.pools]
            if any(t is None for t in tonnes):
                return None
            return math.fsum(t for t in tonnes if t is not None)
        if self.gco2e_per_kwh is None:
            return None
        return self.kwh_per_month * self.gco2e_per_kwh / 1e6

    @property
    def gco2e_per_ktok(self) -> float | None:
        """Grams of CO2e per 1,000 tokens served (input and output)."""
        if self.pools:
            tonnes = self.tco2e_per_month
            if tonnes is None or self.tokens_per_month <= 0:
                return None
            return tonnes * 1e6 / (self.tokens_per_month / 1000.0)
        if self.gco2e_per_kwh is None or self.tokens_per_month <= 0:
            return None
        return self.kwh_per_month * self.gco2e_per_kwh / (self.tokens_per_month / 1000.0)


def gpu_power_w(gpu: GpuSpec, idle_share: float, busy_share: float) -> float:
    """One GPU's average draw at a busy share: idle draw plus the busy part up to TDP."""
    if gpu.tdp_w is None:
        raise MissingPowerError(
            f"{gpu.id} has no tdp_w in the catalog, so its energy is unknown; add tdp_w to "
            "the GPU entry, or remove costs.energy"
        )
    return gpu.tdp_w * (idle_share + (1.0 - idle_share) * busy_share)


def fleet_energy(
    deployment: str,
    gpu_hours_per_month: float,
    power_w: float,
    host_overhead_share: float,
    pue: float,
    tokens_per_month: float,
    gco2e_per_kwh: float | None,
) -> EnergyUse:
    """A fleet's month of energy (see the module doc)."""
    kwh = gpu_hours_per_month * power_w / 1000.0 * (1.0 + host_overhead_share) * pue
    return EnergyUse(
        deployment, gpu_hours_per_month, power_w, host_overhead_share, pue, kwh,
        tokens_per_month, gco2e_per_kwh,
    )  # fmt: skip


def pooled_energy(
    deployment: str, pools: tuple[EnergyUse, ...], tokens_per_month: float
) -> EnergyUse:
    """A mixed fleet's month of energy: its pools' sums (see the module doc)."""
    hours = math.fsum(p.gpu_hours_per_month for p in pools)
    kwh = math.fsum(p.kwh_per_month for p in pools)
    gpu_wh = math.fsum(p.gpu_hours_per_month * p.gpu_power_w for p in pools)
    host = pools[0].host_overhead_share  # costs.energy's, the same for every pool
    pue = kwh * 1000.0 / (gpu_wh * (1.0 + host)) if gpu_wh > 0 else pools[0].pue
    whole = EnergyUse(
        deployment, hours, gpu_wh / hours if hours > 0 else 0.0, host, pue, kwh,
        tokens_per_month, None, pools=pools,
    )  # fmt: skip
    tonnes = whole.tco2e_per_month
    intensity = None if tonnes is None else (tonnes * 1e6 / kwh if kwh > 0 else 0.0)
    return EnergyUse(
        deployment, hours, whole.gpu_power_w, host, pue, kwh, tokens_per_month, intensity,
        pools=pools,
    )  # fmt: skip
