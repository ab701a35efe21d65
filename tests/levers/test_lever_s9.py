"""Claim S9: "when a 32B Q8 runs on a Mac Studio, why pay for an API?" The monthly token
volume at which an owned Mac Studio (amortization and power included) costs less than the
API, checked against the hand formula (configs/levers/s9-local-vs-api.yaml)."""

from __future__ import annotations

import pytest
from lever_fixtures import loaded, run, served

from infersim.levers import Breakeven, workload_mix
from infersim.perf import build_perf_model, steady_state_throughput
from infersim.scenario.deployment import SelfHosted

NAME = "s9-local-vs-api"
HOURS = 730.0


def breakeven(variant: str | None = None) -> Breakeven:
    (pair,) = run(NAME, variant).breakevens
    return pair


def test_breakeven_matches_the_hand_formula() -> None:
    """fixed = $9,499 / 36 months + 2% of 480 W idle at $0.17/kWh; power at load = the other
    98% of 480 W per busy hour over the tokens the Mac serves in it; API = GPT-4o's $2.50 /
    $10.00 at the run's prompt/output mix (no caching)."""
    result = run(NAME)
    mix, volume = workload_mix(result.ledger, result.serving) or pytest.fail("no tokens")
    assert mix.cached_prompt_share == 0.0
    assert mix.prompt_tokens == pytest.approx(1500, rel=0.1)  # ~720 requests drawn
    assert mix.output_tokens == pytest.approx(400, rel=0.1)
    mac = loaded(NAME).scenario.deployments["mac"]
    assert isinstance(mac, SelfHosted)
    prompt, output = round(mix.prompt_tokens), round(mix.output_tokens)
    point = steady_state_throughput(build_perf_model(mac, loaded(NAME).catalog), prompt, output)
    tokens_per_s = point.output_tokens_per_s * (prompt + output) / output

    fixed = 9499 / 36 + 480 * 0.02 / 1000 * HOURS * 0.17
    marginal = 480 * 0.98 / 1000 * 0.17 / (tokens_per_s * 3600 / 1e6)
    api = (mix.prompt_tokens * 2.50 + mix.output_tokens * 10.00) / mix.tokens
    capacity = tokens_per_s * HOURS * 3600 / 1e6

    b = breakeven()
    assert b.gpus == 1
    assert b.fixed_usd_per_month == pytest.approx(fixed, rel=1e-9)
    assert b.marginal_usd_per_mtok == pytest.approx(marginal, rel=1e-9)
    assert b.api_usd_per_mtok == pytest.approx(api, rel=1e-9)
    assert b.capacity_mtok_per_month == pytest.approx(capacity, rel=1e-9)
    assert b.breakeven_mtok_per_month == pytest.approx(fixed / (api - marginal), rel=1e-9)
    assert b.volume_mtok_per_month == pytest.approx(volume)
    # what those figures are: ~$265/month fixed, ~$0.11/Mtok of power, ~$4/Mtok from GPT-4o
    assert fixed == pytest.approx(265.05, abs=0.01)
    assert marginal == pytest.approx(0.11, abs=0.01)
    assert tokens_per_s == pytest.approx(200, rel=0.1)


def test_against_gpt4o_the_mac_wins_well_within_its_capacity() -> None:
    """The claim holds: above ~70M tokens a month (13% of what the Mac serves)."""
    b = breakeven()
    assert b.outcome == "wins_above"
    assert b.breakeven_mtok_per_month == pytest.approx(68, rel=0.1)
    assert b.capacity_mtok_per_month == pytest.approx(520, rel=0.1)
    assert b.verdict.startswith("self-hosting wins above ")
    assert b.verdict.endswith(f"(capacity {b.capacity_mtok_per_month:,.0f} Mtok/month)")
    # at the scenario's own ~240M tokens a month: ~$290 against ~$980
    assert b.self_hosted_usd(b.volume_mtok_per_month) < 0.35 * b.api_usd(b.volume_mtok_per_month)


def test_against_cheap_apis_the_claim_needs_a_busy_mac_or_fails() -> None:
    """Qwen3-Max ($0.46 / $1.84): breakeven ~430M tokens, over 80% of the Mac's capacity.
    DeepSeek V2 ($0.14 / $0.28): never, the breakeven is ~9x what one Mac serves."""
    qwen = breakeven("api-qwen3-max")
    assert qwen.outcome == "wins_above"
    assert qwen.breakeven_mtok_per_month is not None
    assert 0.75 < qwen.breakeven_mtok_per_month / qwen.capacity_mtok_per_month < 0.9
    deepseek = breakeven("api-deepseek-v2")
    assert deepseek.outcome == "beyond_capacity"
    assert deepseek.breakeven_mtok_per_month is not None
    assert deepseek.breakeven_mtok_per_month / deepseek.capacity_mtok_per_month > 8
    assert deepseek.verdict.startswith("never within capacity")


def test_the_base_3999_mac_halves_the_breakeven() -> None:
    small, big = breakeven("mac-96gb"), breakeven()
    assert small.fixed_usd_per_month == pytest.approx(3999 / 36 + 480 * 0.02 / 1000 * HOURS * 0.17)
    assert small.breakeven_mtok_per_month is not None and big.breakeven_mtok_per_month is not None
    assert small.breakeven_mtok_per_month < 0.5 * big.breakeven_mtok_per_month
    assert small.capacity_mtok_per_month < big.capacity_mtok_per_month  # 60 GPU cores, not 80


def test_the_engine_serves_the_workload_and_bills_what_the_formula_says() -> None:
    """The run's fleet bill is the formula's fixed cost plus power at its busy share (the
    engine's GPU-hours run a little past the horizon while the last requests finish)."""
    result = run(NAME)
    mac = served(result, "mac")
    assert mac.verdict is None
    (fleet,) = result.ledger.fleets
    b = breakeven()
    busy_power = 480 * 0.98 / 1000 * 0.17 * fleet.busy_share
    expected = (b.fixed_usd_per_month / HOURS + busy_power) * fleet.gpu_hours_per_month
    assert fleet.usd_per_month == pytest.approx(expected, rel=1e-9)
    assert fleet.gpu_hours_per_month == pytest.approx(HOURS, rel=0.05)
