"""Invariants of the whole pipeline (engine -> ledger -> economics -> JSON), on small inline
scenarios: dollars are conserved, GPU prices move costs the way they must, empty populations
give no NaN, runs are reproducible, and bad economic input is one line and exit code 2."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infersim.catalog.load import Catalog, load_builtin
from infersim.cli.app import app
from infersim.cli.run import run_json
from infersim.pipeline.run import RunResult, run_scenario
from infersim.report.tables import render_json
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario

# The article's GPT-4o list price (claims.md S3), what `article:gpt-4o` resolves to.
GPT4O_USD_PER_MTOK = {"input": 2.50, "cached_input": 1.25, "output": 10.00}
H100_TDP_KW = 0.7  # public-figures.md: H100 SXM 700 W

ENGINE_ONLY: dict[str, Any] = {
    "name": "engine-only",
    "seed": 3,
    "deployments": {
        "main": {
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "replicas": 2,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
            "prefix_caching": {"cached_share": 0.2},
        },
        "ext": {"kind": "api", "list_price": "article:gpt-4o"},
    },
    "fleet": {"replications": 1},
    "workload": {
        "classes": {
            "chat": {
                "arrival": {"process": "poisson", "rate_per_s": 3.0},
                "prompt_tokens": {"dist": "lognormal", "mean_tokens": 600, "sigma": 0.6},
                "output_tokens": {"dist": "lognormal", "mean_tokens": 150, "sigma": 0.5},
                "cached_prefix_share": 0.2,
                "deployment": "main",
            },
            "hard": {
                "arrival": {"process": "poisson", "rate_per_s": 0.5},
                "prompt_tokens": {"dist": "fixed", "tokens": 2000},
                "output_tokens": {"dist": "fixed", "tokens": 500},
                "cached_prefix_share": 0.5,
                "deployment": "ext",
            },
        }
    },
    "pricing": {
        "api": {
            "main-api": {
                "deployment": "main",
                "input_usd_per_mtok": 0.2,
                "cached_input_usd_per_mtok": 0.1,
                "output_usd_per_mtok": 0.6,
            },
            "ext-api": {"deployment": "ext", "list_price": "article:gpt-4o"},
        }
    },
    "costs": {
        "gpu": {"kind": "rented", "usd_per_gpu_hour": 2.0},
        "serving_overhead_share": 0.1,
        "serving_overhead_usd_per_month": 1000,
    },
    "horizon": {"simulated_s": 300, "months": 1},
}


def _with(base: dict[str, Any], **sections: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in sections.items():
        out[key] = value
    return out


USERS = {
    "plus": {
        "plan": "plus",
        "users": 3000,
        "active_share": 0.8,
        "requests_per_user_per_month": {"dist": "lognormal", "median": 100, "p99": 3000},
        "prompt_tokens_per_request": 1500,
        "output_tokens_per_request": 400,
        "cached_prefix_share": 0.1,
        "usage_growth_per_month": 0.1,
        "deployment": "main",
    },
    "free": {
        "plan": "free",
        "users": 20000,
        "active_share": 0.4,
        "requests_per_user_per_month": {"dist": "pareto", "alpha": 1.5, "minimum": 5},
        "prompt_tokens_per_request": 600,
        "output_tokens_per_request": 200,
        "deployment": "main",
    },
}

# Everything at once: API products on both deployments, plans with a cap that downgrades to
# the API deployment, a free tier with ads, a contract, overheads, operating costs, growth.
MIXED = _with(
    ENGINE_ONLY,
    name="mixed",
    workload={**ENGINE_ONLY["workload"], "users": USERS},
    pricing={
        **ENGINE_ONLY["pricing"],
        "plans": {
            "plus": {
                "price_usd_per_month": 20,
                "cap": {
                    "requests_per_month": 800,
                    "at_cap": "downgrade",
                    "downgrade_deployment": "ext",
                },
            }
        },
        "free_tier": {
            "ad_revenue_usd_per_kimpression": 4.0,
            "impressions_per_active_user_per_month": 30,
        },
        "contracts": {"acme": {"fee_usd_per_month": 5000, "deployment": "main"}},
    },
    costs={**ENGINE_ONLY["costs"], "operating_usd_per_month": {"staff": 20000}},
    horizon={"simulated_s": 300, "months": 3},
)

# Populations only: the engine serves a derived class at their month-1 rate.
POPULATIONS_ONLY = _with(
    ENGINE_ONLY,
    name="populations-only",
    deployments={"main": ENGINE_ONLY["deployments"]["main"]},
    workload={"users": {name: {**u, "deployment": None} for name, u in USERS.items()}},
    pricing={
        "plans": {"plus": {"price_usd_per_month": 20}},
        "free_tier": {
            "ad_revenue_usd_per_kimpression": 4.0,
            "impressions_per_active_user_per_month": 30,
        },
    },
    horizon={"simulated_s": 300, "months": 2},
)

SCENARIOS = {"engine-only": ENGINE_ONLY, "mixed": MIXED, "populations-only": POPULATIONS_ONLY}


@cache
def catalog() -> Catalog:
    return load_builtin()


def run(document: dict[str, Any]) -> RunResult:
    return run_scenario(Scenario.model_validate(document), catalog())


@cache
def run_named(name: str) -> RunResult:
    return run(SCENARIOS[name])


def with_gpu_cost(document: dict[str, Any], **gpu: Any) -> dict[str, Any]:
    return _with(document, costs={**document["costs"], "gpu": gpu})


def write(tmp_path: Path, document: dict[str, Any], name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def numbers(value: Any) -> Iterator[float]:
    """Every number in a JSON document."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


def reject_constant(name: str) -> float:
    raise AssertionError(f"non-standard JSON constant {name}")


# ---------------------------------------------------------------------------------------------
# Dollars are conserved
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_segments_add_up_to_the_total(name: str) -> None:
    result = run_named(name)
    for month in result.months:
        rows, total = month.table.rows, month.table.total
        assert math.fsum(r.revenue_usd for r in rows) == pytest.approx(total.revenue_usd)
        assert math.fsum(r.cost_usd for r in rows) == pytest.approx(total.cost_usd)
        for row in (*rows, total):
            parts = row.gpu_cost_usd + row.api_cost_usd + row.overhead_usd
            assert parts == pytest.approx(row.cost_usd, rel=1e-12)
            assert row.gross_margin_usd == pytest.approx(row.revenue_usd - row.cost_usd)
        charged = math.fsum(d.charged_usd for d in month.deployments.values())
        assert charged == pytest.approx(total.gpu_cost_usd + total.api_cost_usd, rel=1e-9)
        pnl = month.pnl
        assert pnl.serving_cost_usd == pytest.approx(total.cost_usd, rel=1e-12)
        spent = pnl.serving_cost_usd + pnl.operating_cost_total_usd
        assert pnl.operating_margin_usd == pytest.approx(pnl.revenue_usd - spent)


def test_engine_traffic_costs_its_fleet_bills_plus_api_plus_overhead() -> None:
    result = run_named("engine-only")
    month = result.first_month
    fleet_usd = math.fsum(f.usd_per_month for f in result.ledger.fleets)
    api_usd = 0.0
    for volume in result.ledger.volumes:
        if volume.deployment == "ext":
            uncached = volume.input_tokens_per_month - volume.cached_input_tokens_per_month
            api_usd += (
                uncached * GPT4O_USD_PER_MTOK["input"]
                + volume.cached_input_tokens_per_month * GPT4O_USD_PER_MTOK["cached_input"]
                + volume.output_tokens_per_month * GPT4O_USD_PER_MTOK["output"]
            ) / 1e6
    overhead_usd = 0.1 * fleet_usd + 1000
    assert fleet_usd > 0 and api_usd > 0
    total = month.table.total
    assert total.gpu_cost_usd == pytest.approx(fleet_usd, rel=1e-9)
    assert total.api_cost_usd == pytest.approx(api_usd, rel=1e-9)
    assert total.overhead_usd == pytest.approx(overhead_usd, rel=1e-9)
    assert total.cost_usd == pytest.approx(fleet_usd + api_usd + overhead_usd, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# GPU prices
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("usd_per_gpu_hour", [0.9, 2.49])
def test_doubling_gpu_prices_doubles_gpu_cost_never_raises_margin(
    name: str, usd_per_gpu_hour: float
) -> None:
    base = run(with_gpu_cost(SCENARIOS[name], kind="rented", usd_per_gpu_hour=usd_per_gpu_hour))
    double = run(
        with_gpu_cost(SCENARIOS[name], kind="rented", usd_per_gpu_hour=2 * usd_per_gpu_hour)
    )
    for one, two in zip(base.months, double.months, strict=True):
        assert one.pnl.gpu_cost_usd > 0
        assert two.pnl.gpu_cost_usd == pytest.approx(2 * one.pnl.gpu_cost_usd, rel=1e-9)
        assert two.pnl.api_cost_usd == pytest.approx(one.pnl.api_cost_usd, rel=1e-12)
        assert two.pnl.revenue_usd == pytest.approx(one.pnl.revenue_usd, rel=1e-12)
        assert two.table.total.gross_margin_usd < one.table.total.gross_margin_usd
        for row_one, row_two in zip(one.table.rows, two.table.rows, strict=True):
            assert row_two.gross_margin_usd <= row_one.gross_margin_usd + 1e-6


def test_an_owned_fleet_costs_more_as_electricity_costs_more() -> None:
    owned = {"kind": "owned", "pue": 1.3, "power_draw_idle_share": 0.3}
    prices = [0.0, 0.08, 0.25]
    results = [run(with_gpu_cost(ENGINE_ONLY, **owned, electricity_usd_per_kwh=p)) for p in prices]
    costs = [r.first_month.pnl.gpu_cost_usd for r in results]
    assert costs[0] < costs[1] < costs[2]
    # the difference is the power bill: TDP x (idle + (1 - idle) x busy) x PUE x $/kWh x hours
    (fleet,) = results[0].ledger.fleets
    draw_kw = H100_TDP_KW * (0.3 + 0.7 * fleet.busy_share)
    power_usd_per_kwh = draw_kw * 1.3 * fleet.gpu_hours_per_month
    assert costs[2] - costs[1] == pytest.approx(power_usd_per_kwh * (0.25 - 0.08), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# No users, no NaN
# ---------------------------------------------------------------------------------------------

NO_USERS = _with(
    POPULATIONS_ONLY,
    name="no-users",
    workload={"users": {name: {**u, "users": 0} for name, u in USERS.items()}},
)


def test_zero_users_earn_nothing_and_no_ratio_is_made_up() -> None:
    result = run(NO_USERS)
    for month in result.months:
        total = month.table.total
        assert total.revenue_usd == 0 and total.requests == 0
        assert total.gross_margin_pct is None and month.pnl.gross_margin_pct is None
        assert month.pnl.spent_per_revenue_usd is None
        plus = month.distributions["plus"]
        assert plus.share_losing_money is None and plus.mean_usd is None


def test_zero_users_json_has_no_nan(tmp_path: Path) -> None:
    """What `infersim run -f json` prints, built as the CLI builds it (see the next test)."""
    loaded = load_scenario(write(tmp_path, NO_USERS))
    result = run_scenario(loaded.scenario, loaded.catalog)
    text = render_json(run_json(loaded, result))  # allow_nan=False: raises on NaN
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=reject_constant)
    assert all(math.isfinite(x) for x in numbers(data))
    assert data["margins"]["total"]["revenue_usd"] == 0
    assert data["margins"]["total"]["gross_margin_pct"] is None
    assert data["pnl"]["gross_margin_pct"] is None
    assert data["pnl"]["spent_per_revenue_usd"] is None
    assert data["users"]["plus"]["share_losing_money"] is None


def test_zero_users_run_json_from_the_cli(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", str(write(tmp_path, NO_USERS)), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout, parse_constant=reject_constant)
    assert all(math.isfinite(x) for x in numbers(data))
    assert data["runs"][0]["margins"]["total"]["gross_margin_pct"] is None


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_json(tmp_path: Path, runner: CliRunner) -> None:
    path = write(tmp_path, MIXED)
    first = runner.invoke(app, ["run", str(path), "-f", "json"])
    second = runner.invoke(app, ["run", str(path), "-f", "json"])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes
    other = write(tmp_path, {**MIXED, "seed": 4}, "other-seed.yaml")
    reseeded = runner.invoke(app, ["run", str(other), "-f", "json"])
    assert reseeded.exit_code == 0
    margins = json.loads(first.stdout)["runs"][0]["margins"]
    assert json.loads(reseeded.stdout)["runs"][0]["margins"] != margins


def test_no_losses_are_reported_as_zero_not_minus_zero(tmp_path: Path, runner: CliRunner) -> None:
    profitable = with_gpu_cost(ENGINE_ONLY, kind="rented", usd_per_gpu_hour=0.01)
    result = runner.invoke(app, ["run", str(write(tmp_path, profitable)), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    projection = json.loads(result.stdout)["runs"][0]["projection"]
    assert projection["months_with_operating_loss"] == 0
    assert math.copysign(1.0, projection["cumulative_losses_usd"]) == 1.0


# ---------------------------------------------------------------------------------------------
# Bad economic input: one line, file:line: path: message, exit 2
# ---------------------------------------------------------------------------------------------

BAD_PLAN = """\
name: bad-economics
deployments:
  main: {kind: api, list_price: article:gpt-4o}
workload:
  users:
    plus:
      plan: plus
      users: 10
      requests_per_user_per_month: {dist: lognormal, median: 10, sigma: 1}
      prompt_tokens_per_request: 100
      output_tokens_per_request: 100
pricing:
"""

BAD_INPUTS = {
    "negative-price": (
        "  plans:\n    plus:\n      price_usd_per_month: -5  # bad\n",
        "pricing.plans.plus.price_usd_per_month",
    ),
    "empty-plan": ("  plans:\n    plus: {}  # bad\n", "pricing.plans.plus.price_usd_per_month"),
    "negative-request-cap": (
        "  plans:\n    plus:\n      price_usd_per_month: 20\n"
        "      cap: {requests_per_month: -1}  # bad\n",
        "pricing.plans.plus.cap.requests_per_month",
    ),
    "negative-token-cap": (
        "  plans:\n    plus:\n      price_usd_per_month: 20\n"
        "      cap: {tokens_per_month: -100, at_cap: throttle}  # bad\n",
        "pricing.plans.plus.cap.tokens_per_month",
    ),
    "negative-cpm": (
        "  plans: {plus: {price_usd_per_month: 20}}\n  free_tier:\n"
        "    ad_revenue_usd_per_kimpression: -4  # bad\n"
        "    impressions_per_active_user_per_month: 10\n",
        "pricing.free_tier.ad_revenue_usd_per_kimpression",
    ),
    "negative-contract": (
        "  plans: {plus: {price_usd_per_month: 20}}\n  contracts:\n"
        "    acme: {fee_usd_per_month: -1000}  # bad\n",
        "pricing.contracts.acme.fee_usd_per_month",
    ),
    "negative-api-price": (
        "  plans: {plus: {price_usd_per_month: 20}}\n  api:\n    resale:\n"
        "      deployment: main\n      input_usd_per_mtok: -1  # bad\n"
        "      output_usd_per_mtok: 4\n",
        "pricing.api.resale.input_usd_per_mtok",
    ),
    "negative-gpu-hour": (
        "  plans: {plus: {price_usd_per_month: 20}}\ncosts:\n"
        "  gpu: {kind: rented, usd_per_gpu_hour: -2}  # bad\n",
        "costs.gpu.usd_per_gpu_hour",
    ),
    "negative-operating-cost": (
        "  plans: {plus: {price_usd_per_month: 20}}\ncosts:\n"
        "  operating_usd_per_month: {staff: -1}  # bad\n",
        "costs.operating_usd_per_month.staff",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_economic_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, runner: CliRunner
) -> None:
    tail, field = BAD_INPUTS[case]
    text = BAD_PLAN + tail
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), start=1) if s.endswith("# bad"))
    expected = re.compile(rf"{re.escape(str(path))}:{line}: {re.escape(field)}: \S.*")

    validated = runner.invoke(app, ["validate", str(path)])
    assert validated.exit_code == 2
    assert "Traceback" not in validated.stdout + validated.stderr
    (problem,) = validated.stdout.splitlines()
    assert expected.fullmatch(problem), problem

    ran = runner.invoke(app, ["run", str(path)])
    assert ran.exit_code == 2
    assert ran.stdout == "" and "Traceback" not in ran.stderr
    (error,) = ran.stderr.splitlines()
    assert error.startswith("error: ") and expected.fullmatch(error.removeprefix("error: ")), error
