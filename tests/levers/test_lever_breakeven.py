"""The self-hosting breakeven (`infersim.levers.breakeven`) against hand-computed figures."""

from __future__ import annotations

import math

import pytest

from infersim.economics import TokenCost
from infersim.levers import TokenMix, breakeven_mtok_per_month, self_hosting_breakeven


def test_breakeven_is_fixed_over_the_price_gap() -> None:
    assert breakeven_mtok_per_month(1000.0, 0.1, 2.1) == pytest.approx(500.0)
    assert breakeven_mtok_per_month(0.0, 0.0, 1.0) == 0.0
    assert breakeven_mtok_per_month(1000.0, 2.0, 2.0) is None  # no gap: never
    assert breakeven_mtok_per_month(1000.0, 3.0, 2.0) is None
    with pytest.raises(ValueError, match=">= 0"):
        breakeven_mtok_per_month(-1.0, 0.0, 1.0)


def test_a_rented_gpu_has_no_marginal_cost() -> None:
    """8 GPUs at $2/h: $11,680 a month; one replica of 8 serves 10,000 tokens/s, i.e.
    26,280 Mtok a month; at $4/Mtok the API costs as much at 2,920 Mtok."""
    b = self_hosting_breakeven(
        "hosted",
        "api",
        gpus=8,
        gpus_per_replica=8,
        fixed_usd_per_gpu_hour=2.0,
        busy_extra_usd_per_gpu_hour=0.0,
        replica_tokens_per_s=10_000.0,
        api_usd_per_mtok=4.0,
    )
    assert b.fixed_usd_per_month == pytest.approx(8 * 730 * 2.0)
    assert b.marginal_usd_per_mtok == 0.0
    assert b.capacity_mtok_per_month == pytest.approx(10_000 * 730 * 3600 / 1e6)
    assert b.breakeven_mtok_per_month == pytest.approx(11_680 / 4.0)
    assert b.outcome == "wins_above"
    assert b.verdict == "self-hosting wins above 2,920 Mtok/month (capacity 26,280 Mtok/month)"
    assert b.self_hosted_usd(2920) == pytest.approx(b.api_usd(2920))


def test_an_owned_machine_pays_power_per_token() -> None:
    """$0.50/h idle, $0.36/h more when busy, 2 GPUs a replica, 4 GPUs, 100 tokens/s a
    replica: marginal = 0.36 x 2 / 0.36 Mtok = $2/Mtok; fixed = 4 x 730 x 0.5 = $1,460;
    against $3/Mtok: 1,460 Mtok, beyond the 2 x 262.8 Mtok the fleet serves."""
    b = self_hosting_breakeven(
        "mac",
        "api",
        gpus=4,
        gpus_per_replica=2,
        fixed_usd_per_gpu_hour=0.5,
        busy_extra_usd_per_gpu_hour=0.36,
        replica_tokens_per_s=100.0,
        api_usd_per_mtok=3.0,
        volume_mtok_per_month=100.0,
    )
    assert b.marginal_usd_per_mtok == pytest.approx(2.0)
    assert b.fixed_usd_per_month == pytest.approx(1460.0)
    assert b.capacity_mtok_per_month == pytest.approx(2 * 100 * 730 * 3600 / 1e6)
    assert b.breakeven_mtok_per_month == pytest.approx(1460.0)
    assert b.outcome == "beyond_capacity"
    assert b.verdict.startswith("never within capacity: breakeven 1,460 Mtok/month")
    assert b.self_hosted_usd(100.0) == pytest.approx(1460 + 200)
    assert b.api_usd(100.0) == pytest.approx(300.0)


def test_an_api_cheaper_than_the_power_never_loses() -> None:
    b = self_hosting_breakeven(
        "mac",
        "api",
        gpus=1,
        gpus_per_replica=1,
        fixed_usd_per_gpu_hour=0.1,
        busy_extra_usd_per_gpu_hour=0.36,
        replica_tokens_per_s=100.0,
        api_usd_per_mtok=0.5,
    )
    assert b.breakeven_mtok_per_month is None
    assert b.outcome == "never"
    assert b.verdict.startswith("never: the API's $0.5/Mtok")


def test_a_model_that_does_not_fit_serves_nothing() -> None:
    b = self_hosting_breakeven(
        "x",
        "api",
        gpus=1,
        gpus_per_replica=1,
        fixed_usd_per_gpu_hour=1.0,
        busy_extra_usd_per_gpu_hour=0.0,
        replica_tokens_per_s=0.0,
        api_usd_per_mtok=10.0,
    )
    assert b.capacity_mtok_per_month == 0.0
    assert math.isinf(b.marginal_usd_per_mtok)
    assert b.outcome == "never"


def test_api_price_at_a_token_mix() -> None:
    """1,000 prompt tokens (40% cached) + 250 output at $2.50 / $1.25 / $10.00:
    (600 x 2.5 + 400 x 1.25 + 250 x 10) / 1,250 = $3.60 per 1M tokens."""
    price = TokenCost("api", 2.5, 1.25, 10.0, "list_price")
    mix = TokenMix(1000, 250, 0.4)
    assert mix.tokens == 1250
    assert mix.usd_per_mtok(price) == pytest.approx(3.6)
    with pytest.raises(ValueError, match="output_tokens > 0"):
        TokenMix(1000, 0)
    with pytest.raises(ValueError, match="cached_prompt_share"):
        TokenMix(1000, 10, 1.5)
