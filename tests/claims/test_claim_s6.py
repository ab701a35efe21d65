"""Claim S6, who earns: configs/claims/s6-who-earns.yaml.

Anthropic's $9B annualised revenue (Claude Code $2.5B) served on rented H100s; each dollar a
user pays split among the provider, the cloud, power and hosting, and Nvidia (gross margin
73.4%, Q3 FY2026)."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pytest

from infersim.economics.value_chain import CLOUD_MARKUP, MARGIN, VENDOR_COGS, VENDOR_MARGIN
from infersim.pipeline.run import RunResult, run_loaded
from infersim.scenario.load import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "claims" / "s6-who-earns.yaml"
ANNUALISED_REVENUE_USD = 9e9  # claims.md S6
CLAUDE_CODE_USD_PER_YEAR = 2.5e9  # claims.md S6
NVIDIA_GROSS_MARGIN = 0.734  # Nvidia Q3 FY2026 results (GAAP)


@cache
def result() -> RunResult:
    return run_loaded(load_scenario(SCENARIO))


def test_revenue_is_the_annualised_nine_billion() -> None:
    pnl = result().first_month.pnl
    assert pnl.revenue_usd * 12 == pytest.approx(ANNUALISED_REVENUE_USD, rel=0.04)
    claude_code = next(r for r in result().first_month.table.rows if r.segment == "claude-code")
    assert claude_code.revenue_usd * 12 == pytest.approx(CLAUDE_CODE_USD_PER_YEAR, rel=1e-6)


def test_every_dollar_is_accounted_for() -> None:
    chain = result().value_chain
    assert chain is not None
    shares = [s.share or 0.0 for s in chain.shares]
    assert math.fsum(shares) == pytest.approx(1.0, rel=1e-12)
    assert chain.usd(MARGIN) == pytest.approx(
        result().first_month.pnl.operating_margin_usd, rel=1e-9
    )
    # Nvidia's part of the purchase price is its gross margin
    vendor = chain.usd(VENDOR_MARGIN) + chain.usd(VENDOR_COGS)
    assert chain.usd(VENDOR_MARGIN) / vendor == pytest.approx(NVIDIA_GROSS_MARGIN)
    # the cloud rents above its cost of owning the GPUs, and the fleet serves every request
    assert chain.usd(CLOUD_MARKUP) > 0
    assert result().first_month.pnl.unserved_requests == 0
    assert all(d.verdict is None for d in result().serving.deployments)


def test_the_commitment_is_used_and_the_burst_on_demand() -> None:
    fleet = result().ledger.fleets[0]
    kinds = {p.kind: p for p in fleet.parts}
    assert set(kinds) == {"reserved_1y", "on_demand"}
    assert result().ledger.capacity["claude"].reserved_idle_gpu_hours_per_month == 0
    assert kinds["on_demand"].gpu_hours_per_month > 0
    energy = result().ledger.energy
    assert energy and all(u.gco2e_per_kwh == 367.0 for u in energy)
