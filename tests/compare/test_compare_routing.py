"""Routing output against the router's own plan, and `run --all-variants` comparisons."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.catalog.prices import resolve_price
from infersim.cli.app import app
from infersim.pipeline.run import run_scenario
from infersim.report.routing import routing_tables
from infersim.report.tables import render_csv
from infersim.routing import plan_routes
from infersim.scenario.load import load_scenario

ROUTED = """\
name: routed
seed: 3
deployments:
  small:
    model: llama-3.1-8b
    gpu: h100-sxm
    replicas: 1
    quality: 0.6
    precision: {weights: fp8, kv_cache: fp8, activations: fp8}
  frontier: {kind: api, list_price: article:gpt-4o, quality: 0.9}
routing: {strategy: difficulty, order: [small, frontier], quality_target: 0.7}
workload:
  classes:
    chat:
      arrival: {process: poisson, rate_per_s: 2.0}
      prompt_tokens: {dist: fixed, tokens: 500}
      output_tokens: {dist: fixed, tokens: 200}
horizon: {simulated_s: 120}
variants:
  strict: {routing.quality_target: 0.9}
"""


@pytest.fixture
def routed(tmp_path: Path) -> Path:
    path = tmp_path / "routed.yaml"
    path.write_text(ROUTED, encoding="utf-8")
    return path


def test_all_variants_routing_and_comparison_json(runner: CliRunner, routed: Path) -> None:
    result = runner.invoke(app, ["run", str(routed), "--all-variants", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"schema_version", "infersim_version", "runs", "comparison"} <= set(data)
    base, strict = data["runs"]
    for run, target in ((base, 0.7), (strict, 0.9)):
        scenario = load_scenario(routed, run["variant"]).scenario
        plan = plan_routes(scenario)
        routing = run["routing"]
        assert routing["quality_target"] == target and routing["frontier"] == "frontier"
        for name, share in plan.served_per_request.items():
            got = routing["deployments"][name]["served_per_request"]
            assert got == pytest.approx(share, rel=1e-5)
        assert routing["routed"]["quality"] == pytest.approx(plan.quality, rel=1e-5)
        assert routing["all_to_frontier"]["quality"] == pytest.approx(
            plan.frontier_quality, rel=1e-5
        )
        check_costs(routing, plan.served_per_request)
    # a stricter target sends more to the frontier: better quality, smaller saving
    assert strict["routing"]["routed"]["quality"] > base["routing"]["routed"]["quality"]
    assert strict["routing"]["saving_pct"] < base["routing"]["saving_pct"]
    api = next(
        e for e in data["comparison"]["areas"]["key_figures"] if e["metric"] == "api_cost_usd"
    )
    assert data["comparison"]["runs"] == ["routed", "strict"]
    assert api["compared"][0]["run"] == "strict"
    assert api["compared"][0]["verdict"] == "worse"


def check_costs(routing: dict[str, Any], served: dict[str, float]) -> None:
    """Routed cost = sum of served x cost there; the frontier is bought at list price."""
    tokens = routing["mean_tokens_per_request"]
    price = resolve_price("article:gpt-4o", load_builtin())
    frontier_per_1k = (
        tokens["input_tokens"] * price.input_usd_per_mtok
        + tokens["output_tokens"] * (price.output_usd_per_mtok or 0.0)
    ) / 1e3
    all_frontier = routing["all_to_frontier"]["usd_per_1k_requests"]
    assert all_frontier == pytest.approx(frontier_per_1k, rel=1e-5)
    routed = sum(
        share * routing["deployments"][name]["usd_per_1k_requests"]
        for name, share in served.items()
    )
    assert routing["routed"]["usd_per_1k_requests"] == pytest.approx(routed, rel=1e-5)
    assert routing["saving_pct"] == pytest.approx(
        100 * (all_frontier - routed) / all_frontier, rel=1e-4
    )
    curve = routing["frontier_curve"]
    targets = [p["quality_target"] for p in curve]
    assert targets == sorted(targets) and routing["quality_target"] in targets
    for low, high in itertools.pairwise(curve):
        assert high["frontier_share"] >= low["frontier_share"]
        assert high["quality"] >= low["quality"] - 1e-9
        assert high["usd_per_1k_requests"] >= low["usd_per_1k_requests"]
    (mine,) = [p for p in curve if p["is_run"]]
    assert mine["usd_per_1k_requests"] == pytest.approx(routed, rel=1e-5)


def test_all_variants_prints_routing_and_comparison_tables(runner: CliRunner, routed: Path) -> None:
    result = runner.invoke(app, ["run", str(routed), "--all-variants"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for title in (
        "routed: routing (difficulty, quality target 0.7)",
        "routed: routing vs all to frontier",
        "routed: cost-quality frontier (router threshold sweep)",
        "utilization effects are held at the run's level",
        "routed variants vs base: key figures",
        "routed variants vs base: deployments",
    ):
        assert title in out
    # comparison tables come after every run's own tables
    assert out.index("routed variants vs base") > out.rindex("request classes")
    quality = next(line for line in out.splitlines() if "expected quality" in line)
    assert "worse" in quality  # the router gives up quality...
    cost = next(line for line in out.splitlines() if "cost $/1k requests" in line)
    assert "better" in cost  # ...for a lower cost


def test_cascade_serves_escalations_and_has_no_sweep(tmp_path: Path) -> None:
    path = tmp_path / "cascade.yaml"
    path.write_text(
        ROUTED.replace(
            "routing: {strategy: difficulty, order: [small, frontier], quality_target: 0.7}",
            "routing: {strategy: cascade, order: [small, frontier], escalation_probability: 0.3}",
        ),
        encoding="utf-8",
    )
    loaded = load_scenario(path)
    result = run_scenario(loaded.scenario, loaded.catalog)
    report = result.routing
    assert report is not None and report.curve == ()
    served = {d.name: d.served_per_request for d in report.deployments}
    assert served == pytest.approx({"small": 1.0, "frontier": 0.3})
    costs = {d.name: d.usd_per_request for d in report.deployments}
    assert costs["small"] is not None and costs["frontier"] is not None
    assert report.usd_per_request == pytest.approx(costs["small"] + 0.3 * costs["frontier"])
    assert report.e2e_mean_s is None  # the frontier is an API: no latency to add
    csv = render_csv(routing_tables(report, "c"))
    assert "cost-quality frontier" not in csv and "130.0%" in csv


def test_no_routing_no_report() -> None:
    small = Path(__file__).resolve().parents[1] / "scenarios" / "cli-small.yaml"
    loaded = load_scenario(small)
    result = run_scenario(loaded.scenario, loaded.catalog)
    assert result.routing is None
