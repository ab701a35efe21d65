"""Claims S2, S10 and S11 through the scenarios in configs/analysis/, with the analysis tools.

- S2: prices fall fast, $20 -> $0.40 per 1M tokens in ~3.25 years (an exponential curve),
  and what three GPU generations do to the margin meanwhile;
- S10: a product built on a cloud API facing a 30-50% price rise: the rise at which it loses
  money (breakeven, against a hand calculation), and the volume where self-hosting wins;
- S11: ~$143B of cumulative losses over 2024-2029 before the operating margin turns positive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infersim.analysis.breakeven import breakeven
from infersim.analysis.overrides import OverrideSpec, parse_override
from infersim.analysis.runs import Source, load_source
from infersim.analysis.sweep import sweep
from infersim.economics import usage_params
from infersim.pipeline.run import run_loaded
from infersim.report.economics import economics_json
from infersim.scenario.load import load_scenario
from infersim.serving.result import ServingResult

ANALYSIS = Path(__file__).resolve().parents[2] / "configs" / "analysis"
S2 = ANALYSIS / "s2-price-decline.yaml"
S10 = ANALYSIS / "s10-api-price-rise.yaml"
S11 = ANALYSIS / "s11-cumulative-losses.yaml"

# ---------------------------------------------------------------------------------------------
# S2: $20 -> $0.40 per 1M tokens
# ---------------------------------------------------------------------------------------------

ServingCache = dict[str, tuple[ServingResult, tuple[str, ...]]]


@pytest.fixture(scope="module")
def s2_cache() -> ServingCache:
    return {}  # the variant re-prices the base's serving simulations


@pytest.fixture(scope="module")
def s2(s2_cache: ServingCache) -> dict[str, Any]:
    return economics_json(run_loaded(load_scenario(S2), serving_cache=s2_cache))


def price_by_month(run: dict[str, Any]) -> list[float]:
    """Price per 1M tokens each month: revenue over month 1's, times $20 (same tokens)."""
    months = run["months"]
    return [20.0 * m["revenue_usd"] / months[0]["revenue_usd"] for m in months]


def test_s2_exponential_price_reaches_40_cents_at_month_39() -> None:
    loaded = load_scenario(S2)
    curves = {c.dotted: c for c in loaded.params.curves}
    price = curves["pricing.api.gpt4-class-a100.input_usd_per_mtok"]
    assert price.value_at(0) == 20.0
    assert price.value_at(39) == pytest.approx(0.40, rel=0.01)  # 3.25 years
    assert price.value_at(12) == pytest.approx(20 * 0.3, rel=1e-9)


def test_s2_run_prices_and_hardware_generations(s2: dict[str, Any]) -> None:
    prices = price_by_month(s2)
    assert prices[39] == pytest.approx(0.40, rel=0.02)
    first_at_40_cents = next(i for i, p in enumerate(prices) if p <= 0.40 * 1.02)
    assert first_at_40_cents == 39
    cost = [m["serving_cost_usd"] for m in s2["months"]]
    a100, h100, b200 = cost[0], cost[12], cost[38]  # 2022-11, 2023-11, 2025-12
    assert a100 / h100 == pytest.approx(2.8, rel=0.1)
    assert h100 / b200 == pytest.approx(1.5, rel=0.1)
    margins = [m["gross_margin_pct"] for m in s2["months"]]
    assert margins[0] > 95
    assert 55 < margins[-1] < 70  # squeezed, still positive at ~3.3x a year
    assert s2["projection"]["operating_margin_positive_from_month"] == 1


def test_s2_fifty_x_a_year(s2_cache: ServingCache) -> None:
    loaded = load_scenario(S2, "fifty-x-per-year")
    run = economics_json(run_loaded(loaded, serving_cache=s2_cache))
    prices = price_by_month(run)
    assert prices[12] == pytest.approx(0.40, rel=0.02)  # 50x in one year
    negative = [m["month"] for m in run["months"] if m["gross_margin_usd"] < 0]
    assert negative[0] == 15  # the price passes below the H100 cost per token
    assert run["projection"]["operating_margin_positive_from_month"] is None


# ---------------------------------------------------------------------------------------------
# S10: budget a 30-50% rise
# ---------------------------------------------------------------------------------------------

S10_USERS, S10_ACTIVE, S10_PRICE, S10_COMPANY_USD = 50_000, 0.8, 20.0, 250_000.0
PRICES = ("deployments", "sonnet", "*_usd_per_mtok")


def api_cost_per_subscriber_by_hand() -> float:
    """Mean requests of the lognormal (median 100, p99 2,500) times list price per request."""
    loaded = load_scenario(S10)
    pop = loaded.scenario.workload.users["pro"]
    mean_requests = usage_params(pop.requests_per_user_per_month).mean  # 100 e^(s^2/2) = 260.5
    prompt, output, cached = 30_000, 1_500, 0.6
    per_request = (prompt * (1 - cached) * 3.00 + prompt * cached * 0.30 + output * 15.00) / 1e6
    return S10_ACTIVE * mean_requests * per_request


@pytest.fixture(scope="module")
def s10() -> Source:
    return load_source(S10)


def test_s10_rise_at_which_it_loses_money(s10: Source) -> None:
    spec = OverrideSpec("rise", PRICES, "scale", ())
    result = breakeven(s10, spec, 1.0, 3.0, "pnl.operating_margin_usd", 0)
    # by hand: users x price - factor x API bill - company costs = 0
    bill = S10_USERS * api_cost_per_subscriber_by_hand()
    by_hand = (S10_USERS * S10_PRICE - S10_COMPANY_USD) / bill
    assert result.value == pytest.approx(by_hand, rel=0.02)
    assert result.value == pytest.approx(1.126, abs=0.01)  # loses money from a ~13% rise
    gross = breakeven(s10, spec, 1.0, 3.0, "pnl.gross_margin_usd", 0)
    assert gross.value == pytest.approx(S10_USERS * S10_PRICE / bill, rel=0.02)
    assert 1.45 < gross.value < 1.55  # at +50% even the gross margin is gone


def test_s10_sweep_over_the_rise(s10: Source) -> None:
    spec = parse_override("deployments.sonnet.*_usd_per_mtok*=1,1.3,1.5")
    result = sweep(s10, [spec], ["pnl.gross_margin_pct", "pnl.operating_margin_usd"])
    gross = [row["pnl.gross_margin_pct"] for _, row in result.rows]
    operating = [row["pnl.operating_margin_usd"] for _, row in result.rows]
    assert gross[0] == pytest.approx(33.4, abs=0.5)
    assert operating[0] is not None and operating[0] > 0
    assert all(o is not None and o < 0 for o in operating[1:])  # +30% and +50% lose money
    assert gross[2] is not None and gross[2] == pytest.approx(0, abs=1.5)
    # the named variants say the same
    for variant in ("rise-30pct", "rise-50pct"):
        run = economics_json(run_loaded(load_scenario(S10, variant)))
        assert run["pnl"]["operating_margin_usd"] < 0


def test_s10_volume_where_self_hosting_wins(s10: Source) -> None:
    hosted = economics_json(run_loaded(load_scenario(S10, "self-hosted")))
    fleet_usd = hosted["pnl"]["serving_cost_usd"]
    gpu_hour = 4 * 2.99  # one replica: 4 x H100 at the catalog's $2.99
    assert fleet_usd == pytest.approx(2 * gpu_hour * 730, rel=1e-6)  # the two-replica minimum
    users = OverrideSpec("users", ("workload", "users", "pro", "users"), "set", ())
    found = {}
    for rise, variant in ((1.0, None), (1.5, "rise-50pct")):
        source = s10 if variant is None else load_source(S10, variant)
        result = breakeven(source, users, 100, 50_000, "pnl.serving_cost_usd", fleet_usd)
        # by hand: the subscribers whose API bill equals the fleet's fixed cost
        by_hand = fleet_usd / (api_cost_per_subscriber_by_hand() * rise)
        assert result.value == pytest.approx(by_hand, rel=0.05)
        found[rise] = result.value
    assert found[1.0] == pytest.approx(1_310, rel=0.05)
    assert found[1.5] == pytest.approx(found[1.0] / 1.5, rel=0.05)
    # the minimum fleet carries that volume within its SLO
    (deployment,) = hosted["costs"]
    assert hosted["costs"][deployment]["gpu_hours_per_month"] == pytest.approx(2 * 4 * 730)
    assert hosted["users"]["pro"]["users"] == pytest.approx(1_300)


# ---------------------------------------------------------------------------------------------
# S11: $143B of cumulative losses 2024-2029
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s11() -> dict[str, Any]:
    return economics_json(run_loaded(load_scenario(S11)))


def test_s11_cumulative_losses(s11: dict[str, Any]) -> None:
    projection = s11["projection"]
    assert projection["months"] == 72
    assert projection["cumulative_losses_usd"] == pytest.approx(143e9, rel=0.03)
    turn = projection["operating_margin_positive_from_month"]
    assert turn is not None and 61 <= turn <= 72  # in 2029
    cash = [m["cumulative_cash_usd"] for m in s11["months"]]
    deepest = min(range(len(cash)), key=cash.__getitem__)
    assert deepest == turn - 2  # the last month of losses
    assert -cash[deepest] == pytest.approx(projection["cumulative_losses_usd"], rel=1e-9)


def test_s11_2025_matches_s1(s11: dict[str, Any]) -> None:
    year = s11["months"][12:24]
    revenue = sum(m["revenue_usd"] for m in year)
    spent = sum(m["revenue_usd"] - m["operating_margin_usd"] for m in year)
    assert revenue == pytest.approx(13e9, rel=0.1)  # S1: ~$13B
    assert spent == pytest.approx(22e9, rel=0.1)  # S1: ~$22B
