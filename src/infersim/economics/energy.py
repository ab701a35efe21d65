"""Energy and carbon of a self-hosted fleet, month by month: reported, not billed.

    GPU power (W)  = TDP x (idle_share + (1 - idle_share) x busy_share)
    kWh per month  = paid GPU-hours x GPU power / 1000 x (1 + host_overhead_share) x PUE
    tCO2e          = kWh x grid gCO2e/kWh / 10^6
    gCO2e per 1,000 tokens = tCO2e x 10^6 / (tokens served / 1,000)

Rented GPUs draw power too: the same figures are reported for them (the cloud bills it inside
the rent). Owned GPUs use their cost block's idle share and PUE, the figures that price their
power in the bill; rented ones `costs.energy`'s. At zero load, kWh = idle power x hours x PUE.
"""

from __future__ import annotations

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

    @property
    def tco2e_per_month(self) -> float | None:
        if self.gco2e_per_kwh is None:
            return None
        return self.kwh_per_month * self.gco2e_per_kwh / 1e6

    @property
    def gco2e_per_ktok(self) -> float | None:
        """Grams of CO2e per 1,000 tokens served (input and output)."""
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
