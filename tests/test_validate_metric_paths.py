"""`expect:` metric paths are checked before anything runs, against the shape of the run.

The shape (`checks.metric_paths`) is kept by hand beside the report that makes the run JSON:
the first test runs a scenario with every kind of section and checks that each metric and
alias of the real output is accepted. When it fails, a key was added to the report: add it
to the vocabularies in `infersim/checks/metric_paths.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.checks.metric_paths import unknown_metric
from infersim.checks.metrics import flatten, short_aliases
from infersim.cli.app import app
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario

EVERY_SECTION = """\
name: every-section
seed: 3
deployments:
  main:
    model: llama-3.1-8b
    gpu: h100-sxm
    replicas: 2
    precision: {weights: fp8, kv_cache: fp8, activations: fp8}
    prefix_caching: {cached_share: 0.2}
    quality: 0.7
  mini:
    kind: api
    input_usd_per_mtok: 0.15
    output_usd_per_mtok: 0.60
    quality: 0.8
routing: {strategy: fixed_split, split: {main: 0.5, mini: 0.5}}
fleet: {replications: 1, slo: {ttft_p99_s: 2.0}}
workload:
  classes:
    chat:
      arrival: {process: poisson, rate_per_s: 2.0}
      prompt_tokens: {dist: fixed, tokens: 400}
      output_tokens: {dist: fixed, tokens: 100}
      deployment: main
      cached_prefix_share: 0.3
    bulk:
      arrival: {process: poisson, rate_per_s: 1.0}
      prompt_tokens: {dist: fixed, tokens: 800}
      output_tokens: {dist: fixed, tokens: 100}
  users:
    plus:
      plan: plus
      users: 200
      requests_per_user_per_month: {dist: lognormal, median: 50, sigma: 1.0}
      prompt_tokens_per_request: 500
      output_tokens_per_request: 150
      deployment: main
    free:
      plan: free
      users: 1000
      requests_per_user_per_month: {dist: lognormal, median: 10, sigma: 1.0}
      prompt_tokens_per_request: 300
      output_tokens_per_request: 100
pricing:
  api:
    main-api: {deployment: main, input_usd_per_mtok: 1.0, output_usd_per_mtok: 2.0}
  plans:
    plus: {price_usd_per_month: 20}
  free_tier: {ad_revenue_usd_per_kimpression: 4, impressions_per_active_user_per_month: 30}
  contracts:
    acme: {fee_usd_per_month: 5000}
costs:
  operating_usd_per_month: {staff: 10000}
horizon: {simulated_s: 120, months: 3}
"""


@pytest.fixture(scope="module")
def every_section(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, dict[str, object]]:
    path = tmp_path_factory.mktemp("metrics") / "every-section.yaml"
    path.write_text(EVERY_SECTION, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    return load_scenario(path).scenario, run


def test_every_metric_and_alias_of_a_real_run_is_known(
    every_section: tuple[Scenario, dict[str, object]],
) -> None:
    scenario, run = every_section
    known = flatten(run)
    assert {path.split(".")[0] for path in known} >= {
        "margins", "users", "pnl", "months", "projection", "costs", "serving", "routing",
    }  # fmt: skip
    paths = [*known, *short_aliases(run, known), "gross_margin_pct", "months.last.revenue_usd"]
    missing = {path: why for path in paths if (why := unknown_metric(scenario, path))}
    assert missing == {}, "add these keys to infersim/checks/metric_paths.py"


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("pnl.gross_margin_pcnt", "did you mean 'pnl.gross_margin_pct'?"),
        ("margins.plus.gross_margin", "did you mean 'margins.plus.gross_margin_usd'?"),
        ("margins.pro.revenue_usd", "unknown metric 'margins.pro.revenue_usd'"),
        ("users.plus", "is a group of"),
        ("serving.deployments.mini.ttft_s.p99", "unknown metric"),  # an API: not simulated
        ("serving.deployments.main.classes.chatt.requests", "did you mean"),
        ("serving.ttft_p99", "unknown metric 'serving.ttft_p99'"),
        ("months.4.revenue_usd", "unknown metric 'months.4.revenue_usd'"),  # 3 months
        ("costs.mini.busy_share", "unknown metric"),
        ("pnl..revenue_usd", "has an empty part"),
        ("profit", "unknown metric 'profit'"),
    ],
)
def test_unknown_metrics_are_refused(
    every_section: tuple[Scenario, dict[str, object]], metric: str, message: str
) -> None:
    scenario, _ = every_section
    why = unknown_metric(scenario, metric)
    assert why is not None and message in why


@pytest.mark.parametrize(
    "metric",
    [
        "margins.main-api.gross_margin_pct",  # by product
        "margins.bulk@mini.cost_usd",  # a routed class, per deployment
        "margins.acme.revenue_usd",
        "serving.ttft_p99_s",
        "serving.deployments.main.intervals_95.ttft_p99_s.high",
        "costs.usd_per_gpu_hour",
        "pnl.operating_costs_usd.staff",
        "months.last.gross_margin_pct",
        "operating_margin_usd",
        "routing.saving_pct",
        "levers.anything",  # results decide what is there: checked after the run
    ],
)
def test_known_metrics_pass(every_section: tuple[Scenario, dict[str, object]], metric: str) -> None:
    scenario, _ = every_section
    assert unknown_metric(scenario, metric) is None


def test_routing_metrics_need_routing(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = EVERY_SECTION.replace(
        "routing: {strategy: fixed_split, split: {main: 0.5, mini: 0.5}}\n", ""
    )
    text = text.replace(
        "      output_tokens: {dist: fixed, tokens: 100}\n  users:",
        "      output_tokens: {dist: fixed, tokens: 100}\n      deployment: mini\n  users:",
    )
    text = text.replace(
        "      output_tokens_per_request: 100\n",
        "      output_tokens_per_request: 100\n      deployment: mini\n",
    )
    text += "expect:\n  - {metric: routing.saving_pct, min: 0}\n"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    line = text.splitlines().index("  - {metric: routing.saving_pct, min: 0}") + 1
    assert result.exit_code == 2
    assert result.stdout == (
        f"{path}:{line}: expect.0.metric: metric 'routing.saving_pct': the scenario has no "
        "routing, so its run has no routing section\n"
    )


CHAT_2_PER_S = (
    "workload: {classes: {chat: {arrival: {process: poisson, rate_per_s: 2.0},"
    " prompt_tokens: {dist: fixed, tokens: 400}, output_tokens: {dist: fixed, tokens: 50}}}}\n"
)


def known_after_run(path: Path, text: str) -> set[str]:
    """Run the scenario `text` (written to `path`); the metric paths of its JSON, each of
    which `unknown_metric` must know."""
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    known = set(flatten(run))
    scenario = load_scenario(path).scenario
    missing = {p: why for p in known if (why := unknown_metric(scenario, p))}
    assert missing == {}
    return known


def test_a_disaggregated_runs_pool_metrics_are_known(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    known = known_after_run(
        path,
        "name: pools\nseed: 1\n"
        "deployments:\n  main:\n    model: llama-3.1-8b\n    gpu: h100-sxm\n    replicas: 3\n"
        "    tensor_parallel: 2\n    prefill_pool: {tensor_parallel: 1}\n"
        "fleet: {replications: 1, disaggregated: true, prefill_replicas: 1}\n"
        + CHAT_2_PER_S
        + "horizon: {simulated_s: 60}\n",
    )
    pools = [p for p in known if ".pools." in p or ".kv_transfer." in p]
    assert "serving.deployments.main.pools.decode.tokens_per_s_per_gpu" in pools
    assert "serving.deployments.main.kv_transfer.bytes" in pools


def test_a_mixed_fleets_pool_metrics_are_known(tmp_path: Path) -> None:
    """Per pool: its bill parts (one, or one per kind with reserved or spot capacity), its
    energy and carbon, its serving figures."""
    path = tmp_path / "mixed.yaml"
    known = known_after_run(
        path,
        "name: mixed\nseed: 1\n"
        "deployments:\n  main:\n    model: llama-3.1-8b\n    pools:\n"
        "      - {name: dear, gpu: h100-sxm, grid: us, cost: {usd_per_gpu_hour: 3.0,"
        " reserved: {gpus: 1, usd_per_gpu_hour: 2.0}}}\n"
        "      - {name: cheap, gpu: a100-sxm-80gb, gco2e_per_kwh: 50}\n"
        "fleet: {replications: 1}\n"
        + CHAT_2_PER_S
        + "pricing: {api: {main-api: {deployment: main, input_usd_per_mtok: 1.0,"
        " output_usd_per_mtok: 2.0}}}\n"
        "costs: {energy: {grid: world}, value_chain: {gpu_vendor_gross_margin: 0.7}}\n"
        "horizon: {simulated_s: 60}\n",
    )
    assert "costs.main.bill.pool:dear:reserved_1y.usd_per_month" in known
    assert "costs.main.bill.pool:cheap.usd_per_month" in known
    assert "energy.deployments.main.pools.cheap.tco2e_per_month" in known


def test_a_spot_runs_reclaim_metrics_are_known(tmp_path: Path) -> None:
    path = tmp_path / "spot.yaml"
    known = known_after_run(
        path,
        "name: spot\nseed: 1\n"
        "deployments:\n  main:\n    model: llama-3.1-8b\n    gpu: h100-sxm\n    replicas: 2\n"
        "costs: {gpu: {kind: rented, reserved: {gpus: 1},"
        " spot: {share: 0.5, interruptions_per_gpu_hour: 1.0}}}\n"
        + CHAT_2_PER_S
        + "horizon: {simulated_s: 60}\n",
    )
    assert "serving.deployments.main.spot.recompute_gpu_hours" in known
    assert "costs.main.bill.spot_recompute_gpu_hours_per_month" in known


def test_a_mixed_fleets_per_pool_reclaim_metrics_are_known(tmp_path: Path) -> None:
    """Spot on one pool of a mixed fleet: the pool's reclaims, the deployment's (their sum),
    and the pooled bill's engine figures."""
    path = tmp_path / "mixed-spot.yaml"
    known = known_after_run(
        path,
        "name: mixed-spot\nseed: 1\n"
        "deployments:\n  main:\n    model: llama-3.1-8b\n    pools:\n"
        "      - {name: dear, gpu: h100-sxm, cost: {usd_per_gpu_hour: 3.0}}\n"
        "      - {name: cheap, gpu: a100-sxm-80gb, cost: {usd_per_gpu_hour: 1.5,"
        " spot: {share: 0.5, usd_per_gpu_hour: 1.0, interruptions_per_gpu_hour: 1.0}}}\n"
        "fleet: {replications: 1}\n" + CHAT_2_PER_S + "horizon: {simulated_s: 60}\n",
    )
    assert "serving.deployments.main.mixed_pools.cheap.spot.reclaims" in known
    assert "serving.deployments.main.mixed_pools.dear.spot.reclaims" not in known
    assert "serving.deployments.main.spot.down_gpu_hours" in known
    assert "costs.main.bill.spot_recompute_gpu_hours_per_month" in known
