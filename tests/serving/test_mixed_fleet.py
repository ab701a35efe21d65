"""Mixed fleets as a scenario: one deployment on pools of different GPU types, each at its own
price, routed cheapest first with spill-over (or least outstanding); per-pool figures, the
ledger's bill parts per pool, and the inputs a mixed fleet refuses (energy, capacity and the
value chain per pool: tests/pipeline/test_mixed_fleet_costs.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.cli.app import app
from infersim.pipeline.demand import SECONDS_PER_MONTH
from infersim.pipeline.run import run_scenario
from infersim.scenario.model import Scenario

CATALOG = load_builtin()
HORIZON_S = 300.0


def document(rate_per_s: float, **deployment: Any) -> dict[str, Any]:
    """Two cheap A100 replicas listed after two dear H100 ones; a TPOT SLO sets the spill."""
    return {
        "name": "mixed",
        "seed": 4,
        "deployments": {
            "main": {
                "model": "llama-3.1-8b",
                "pools": [
                    {"name": "h100", "gpu": "h100-sxm", "replicas": 2,
                     "cost": {"usd_per_gpu_hour": 3.0}},
                    {"name": "a100", "gpu": "a100-sxm-80gb", "replicas": 2,
                     "cost": {"usd_per_gpu_hour": 1.5}},
                ],
                **deployment,
            }
        },
        "fleet": {"replications": 1, "slo": {"tpot_p99_s": 0.02}},
        "workload": {
            "classes": {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
                    "prompt_tokens": {"dist": "fixed", "tokens": 500},
                    "output_tokens": {"dist": "fixed", "tokens": 200},
                }
            }
        },
        "horizon": {"simulated_s": HORIZON_S, "months": 1},
    }  # fmt: skip


def run(rate_per_s: float, **deployment: Any) -> Any:
    return run_scenario(Scenario.model_validate(document(rate_per_s, **deployment)), CATALOG)


@pytest.fixture(scope="module")
def light() -> Any:
    return run(2.0)


@pytest.fixture(scope="module")
def heavy() -> Any:
    return run(60.0)


def test_light_load_runs_on_the_cheap_pool_only(light: Any) -> None:
    pools = {p.name: p for p in light.serving.deployment("main").mixed_pools}
    assert pools["h100"].gpu_hours_busy == 0.0 and pools["h100"].output_tokens_per_s == 0.0
    assert pools["a100"].gpu_hours_busy > 0.0


def test_heavy_load_saturates_the_cheap_pool_then_spills_over(heavy: Any) -> None:
    pools = {p.name: p for p in heavy.serving.deployment("main").mixed_pools}
    assert pools["h100"].output_tokens_per_s > 0.0  # spilled over
    assert pools["a100"].busy_share >= pools["h100"].busy_share
    assert pools["a100"].spill_over_sequences >= 1


@pytest.mark.parametrize("load", ["light", "heavy"])
def test_pools_add_up_and_busy_never_exceeds_paid(load: str, request: Any) -> None:
    result = request.getfixturevalue(load)
    d = result.serving.deployment("main")
    pools = d.mixed_pools
    assert math.fsum(p.gpu_hours_scheduled for p in pools) == pytest.approx(
        d.gpu_hours_scheduled, rel=1e-12
    )
    assert math.fsum(p.gpu_hours_busy for p in pools) == pytest.approx(d.gpu_hours_busy, rel=1e-12)
    assert math.fsum(p.output_tokens_per_s for p in pools) == pytest.approx(
        d.output_tokens_per_s, rel=1e-9
    )
    for pool in pools:
        assert 0.0 <= pool.gpu_hours_busy <= pool.gpu_hours_scheduled
        # each pool: its replicas x GPUs over the simulated time
        assert pool.gpu_hours_scheduled == pytest.approx(
            pool.replicas * pool.gpus_per_replica * HORIZON_S / 3600.0, rel=1e-12
        )


@pytest.mark.parametrize("load", ["light", "heavy"])
def test_the_gpu_line_is_the_sum_of_the_pools_bills(load: str, request: Any) -> None:
    result = request.getfixturevalue(load)
    fleet = next(f for f in result.ledger.fleets if f.deployment == "main")
    parts = {p.kind: p for p in fleet.parts}
    assert set(parts) == {"pool:h100", "pool:a100"}
    to_month = SECONDS_PER_MONTH / 3600.0
    assert parts["pool:h100"].usd_per_month == pytest.approx(2 * 3.0 * to_month, rel=1e-12)
    assert parts["pool:a100"].usd_per_month == pytest.approx(2 * 1.5 * to_month, rel=1e-12)
    bill = math.fsum(p.usd_per_month for p in fleet.parts)
    assert fleet.usd_per_month == pytest.approx(bill, rel=1e-12)
    assert result.first_month.pnl.gpu_cost_usd == pytest.approx(bill, abs=0.005)


def test_least_outstanding_uses_both_pools_at_light_load() -> None:
    result = run(2.0, pool_routing="least_outstanding")
    for pool in result.serving.deployment("main").mixed_pools:
        assert pool.gpu_hours_busy > 0.0


def test_the_same_seed_gives_byte_identical_json(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(document(5.0)), encoding="utf-8")
    outputs = [CliRunner().invoke(app, ["run", str(path), "-f", "json"]).output for _ in range(2)]
    assert outputs[0] == outputs[1]
    pools = json.loads(outputs[0])["runs"][0]
    assert "mixed_pools" in json.dumps(pools)


def _dep(**changes: Any) -> dict[str, Any]:
    return {**document(1.0)["deployments"]["main"], **changes}


def _pool(index: int, **changes: Any) -> dict[str, Any]:
    """The deployment with one of its pools changed."""
    pools = [dict(p) for p in _dep()["pools"]]
    pools[index] |= changes
    return _dep(pools=pools)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"deployments": {"main": _dep(pool_routing="fastest")}}, "pool_routing"),
        ({"deployments": {"main": _dep(gpu="h200-sxm")}}, "with pools, gpu is the first pool's"),
        ({"deployments": {"main": _dep(replicas=3)}}, "with pools, replicas"),
        ({"deployments": {"main": _dep(pools=[_dep()["pools"][0]])}}, "deployments.main.pools"),
        (
            {"deployments": {"main": _dep(pools=[_dep()["pools"][0]] * 2)}},
            "pool names must differ",
        ),
        (
            {"deployments": {"main": {**_dep(), "pools": [
                {**_dep()["pools"][0], "gpu": "h100"}, _dep()["pools"][1]]}}},
            "deployments.main.pools.0.gpu",
        ),
        (
            {"deployments": {"main": {**_dep(), "pools": [
                {**_dep()["pools"][0], "replicas": 0}, _dep()["pools"][1]]}}},
            "deployments.main.pools.0.replicas",
        ),
        ({"fleet": {"mode": "size_to_slo", "slo": {"tpot_p99_s": 0.02}}}, "fleet.mode"),
        ({"fleet": {"disaggregated": True}}, "fleet.disaggregated"),
        ({"fleet": {"load_balancer": "round_robin"}}, "fleet.load_balancer"),
        (
            {"deployments": {"main": _pool(0, grid="frnace")},
             "costs": {"energy": {}}},
            "deployments.main.pools.0.grid: unknown grid region 'frnace' — did you mean",
        ),
        (
            {"deployments": {"main": _pool(0, grid="france", gco2e_per_kwh=50)},
             "costs": {"energy": {}}},
            "give grid or gco2e_per_kwh, not both",
        ),
        (
            {"deployments": {"main": _pool(1, gco2e_per_kwh=-5)}, "costs": {"energy": {}}},
            "deployments.main.pools.1.gco2e_per_kwh",
        ),
        (
            {"deployments": {"main": _pool(1, grid="france")}},
            "deployments.main.pools.1.grid: is pool 'a100's carbon intensity, which takes "
            "effect with costs.energy only",
        ),
        (
            {"deployments": {"main": _pool(1, cost={"reserved": {"gpus": 1, "term_years": 3}})}},
            "deployments.main.pools.1.cost: a100-sxm-80gb has no 3-year reserved rental quote",
        ),
        (
            {"deployments": {"main": _dep(prefix_caching={"cached_share": 0.5})}},
            "prefix caching is not modelled per pool",
        ),
        (
            {"deployments": {"main": {k: v for k, v in _dep().items() if k != "pools"}
                             | {"gpu": "h100-sxm", "pool_routing": "cheapest_first"}}},
            "pool_routing routes between pools",
        ),
    ],
)  # fmt: skip
def test_bad_mixed_fleet_inputs_are_one_line_exit_2(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    data = {**document(1.0), **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith(f"{path}:"), result.output  # then the count of files
    assert fragment in lines[0] and "Traceback" not in result.output
    assert lines[1:] == ["1 of 1 file(s) invalid"]
    out = tmp_path / "out.json"
    ran = CliRunner().invoke(app, ["run", str(path), "-o", str(out)])
    assert ran.exit_code == 2 and "Traceback" not in ran.output
    assert not out.exists()
