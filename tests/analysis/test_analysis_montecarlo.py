"""Monte Carlo: reproducible draws, the same results on any executor, quantiles against theory."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import infersim.pipeline.run as pipeline_run
from infersim.analysis import AnalysisError
from infersim.analysis.execute import Execution
from infersim.analysis.montecarlo import (
    MonteCarloResult,
    draw_inputs,
    montecarlo,
    montecarlo_json,
    montecarlo_tables,
)
from infersim.cli.app import app
from infersim.pipeline.run import run_loaded
from infersim.report.tables import render_csv
from infersim.scenario.compose import Document, load_document
from infersim.scenario.load import LoadedScenario, load_scenario, validate_document
from infersim.serving.result import ServingResult

STAFF_MEAN, STAFF_SD = 30_000.0, 3_000.0
SELF_HOSTED = Path(__file__).resolve().parents[2] / "configs/claims/s5-subscription-heavy-tail.yaml"

# Three uncertain inputs, one of them a whole number; the API is bought, so runs are fast.
UNCERTAIN = f"""\
name: tiny-uncertain
seed: 3
deployments:
  api: {{kind: api, input_usd_per_mtok: {{low: 2, high: 4}}, output_usd_per_mtok: 10}}
workload:
  users:
    pro:
      plan: pro
      users: {{dist: uniform, low: 1500, high: 2500}}
      requests_per_user_per_month: {{dist: lognormal, median: 100, p99: 2500}}
      prompt_tokens_per_request: 2000
      output_tokens_per_request: 400
pricing:
  plans: {{pro: {{price_usd_per_month: {{dist: triangular, low: 15, mode: 20, high: 25}}}}}}
costs:
  operating_usd_per_month: {{staff: {{dist: normal, mean: {STAFF_MEAN}, sd: {STAFF_SD}}}}}
horizon: {{months: 2}}
"""

# Only the staff cost is uncertain: the operating margin is (gross margin - staff), linear in it.
LINEAR = (
    UNCERTAIN.replace("{low: 2, high: 4}", "3")
    .replace("{dist: uniform, low: 1500, high: 2500}", "2000")
    .replace("{dist: triangular, low: 15, mode: 20, high: 25}", "20")
)


def _load(tmp_path: Path, text: str, name: str) -> LoadedScenario:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture
def uncertain(tmp_path: Path) -> LoadedScenario:
    return _load(tmp_path, UNCERTAIN, "uncertain.yaml")


def same(a: MonteCarloResult, b: MonteCarloResult) -> bool:
    return (
        np.array_equal(a.draws, b.draws)
        and a.outputs.keys() == b.outputs.keys()
        and all(np.array_equal(a.outputs[k], b.outputs[k], equal_nan=True) for k in a.outputs)
    )


def test_same_seed_same_results(uncertain: LoadedScenario) -> None:
    first = montecarlo(uncertain, samples=24)
    again = montecarlo(uncertain, samples=24)
    assert same(first, again)
    other = montecarlo(uncertain, samples=24, seed=4)
    assert not np.array_equal(first.draws, other.draws)
    plain = montecarlo(uncertain, samples=24, method="random")
    assert same(plain, montecarlo(uncertain, samples=24, method="random"))


def test_draws_per_sample_do_not_depend_on_the_count(uncertain: LoadedScenario) -> None:
    inputs = uncertain.params.uncertain
    few, many = draw_inputs(inputs, 5, 7, "random"), draw_inputs(inputs, 50, 7, "random")
    assert np.array_equal(few, many[:5])
    users = [spec.dotted for spec in inputs].index("workload.users.pro.users")
    assert np.all(many[:, users] == np.rint(many[:, users]))  # a whole-number field


def test_latin_hypercube_strata(uncertain: LoadedScenario) -> None:
    (price,) = [u for u in uncertain.params.uncertain if u.dotted.startswith("pricing")]
    draws = draw_inputs([price], 40, 1, "lhs")[:, 0]
    # one draw in each 1/40 of probability: exactly one below the 2.5% quantile, etc.
    edges = [price.quantile(k / 40) for k in range(1, 40)]
    counts = np.histogram(draws, bins=[-math.inf, *edges, math.inf])[0]
    assert counts.tolist() == [1] * 40


def _self_hosted_document(growth: bool) -> Document:
    """Two months of a small population on a self-hosted fleet; the GPU's price uncertain, and
    with `growth` the usage's growth too (the second month's traffic then differs by sample)."""
    document = load_document(SELF_HOSTED)
    data = document.data
    data["workload"]["users"]["plus"]["users"] = 20_000
    data["horizon"]["months"] = 2
    data.setdefault("fleet", {})["max_simulated_requests"] = 500
    data["costs"]["gpu"]["usd_per_gpu_hour"] = {"low": 3.5, "high": 5.5}
    if growth:
        data["workload"]["users"]["plus"]["usage_growth_per_month"] = {"low": 0.04, "high": 0.12}
    return document


def _self_hosted(growth: bool) -> LoadedScenario:
    return validate_document(_self_hosted_document(growth), SELF_HOSTED.parent)


@pytest.mark.parametrize("growth", [False, True])
def test_samples_price_the_serving_of_a_run_of_the_scenario(
    growth: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `run --samples` does: the run's serving results go to the samples, whose months
    serving the same traffic price them instead of simulating them again."""
    loaded = _self_hosted(growth)
    cache: dict[str, ServingResult] = {}
    run_loaded(loaded, serving_cache=cache)
    assert len(cache) == 2  # one simulation a month: usage grows
    expected = montecarlo(loaded, samples=4)
    simulated: list[str] = []
    real = pipeline_run.simulate

    def counting(*args: Any, **kwargs: Any) -> ServingResult:
        simulated.append("one")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_run, "simulate", counting)
    reused = montecarlo(loaded, samples=4, serving=cache)
    assert same(reused, expected)
    # each sample's own growth: its second month is its own simulation; the first is the run's
    assert len(simulated) == (4 if growth else 0)


def test_run_samples_gives_its_samples_the_runs_serving(tmp_path: Path) -> None:
    path = tmp_path / "self-hosted.yaml"
    path.write_text(yaml.safe_dump(_self_hosted_document(growth=True).data), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--samples", "4", "-f", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["runs"][0]["montecarlo"]
    assert shown == montecarlo_json(montecarlo(load_scenario(path), samples=4))


def test_local_processes_match_serial(uncertain: LoadedScenario) -> None:
    serial = montecarlo(uncertain, samples=16)
    assert same(montecarlo(uncertain, samples=16, jobs=2), serial)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:distributed")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado")
@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")
def test_dask_cluster_matches_serial(uncertain: LoadedScenario) -> None:
    distributed = pytest.importorskip("distributed")
    serial = montecarlo(uncertain, samples=12)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = montecarlo(
            uncertain, samples=12, executor="dask", scheduler=cluster.scheduler_address
        )
    assert same(on_dask, serial)


def test_quantiles_of_a_linear_output(tmp_path: Path) -> None:
    loaded = _load(tmp_path, LINEAR, "linear.yaml")
    result = montecarlo(loaded, samples=400)
    gross = result.summary("pnl.gross_margin_usd")
    assert gross is not None and gross.p5 == gross.p95  # staff is not in the gross margin
    margin = result.summary("pnl.operating_margin_usd")
    assert margin is not None
    z = NormalDist().inv_cdf(0.95)
    # operating margin = gross - staff: its p5 is at the staff's p95, and so on
    assert margin.p50 == pytest.approx(gross.p50 - STAFF_MEAN, abs=0.02 * STAFF_SD)
    assert margin.p5 == pytest.approx(gross.p50 - STAFF_MEAN - z * STAFF_SD, abs=0.05 * STAFF_SD)
    assert margin.p95 == pytest.approx(gross.p50 - STAFF_MEAN + z * STAFF_SD, abs=0.05 * STAFF_SD)
    # P(operating margin < 0) = P(staff > gross margin)
    expected = 1 - NormalDist(STAFF_MEAN, STAFF_SD).cdf(gross.p50)
    assert 0.05 < expected < 0.95  # the scenario puts the loss probability in the middle
    assert margin.below_zero == pytest.approx(expected, abs=0.01)


def test_json_and_tables(uncertain: LoadedScenario) -> None:
    result = montecarlo(uncertain, samples=20)
    data = montecarlo_json(result)
    assert data["samples"] == 20 and data["method"] == "lhs" and data["seed"] == 3
    assert set(data["inputs"]) == {
        "deployments.api.input_usd_per_mtok",
        "workload.users.pro.users",
        "pricing.plans.pro.price_usd_per_month",
        "costs.operating_usd_per_month.staff",
    }
    assert data["inputs"]["deployments.api.input_usd_per_mtok"]["distribution"]["dist"] == "range"
    out = data["outputs"]["pnl.operating_margin_usd"]
    assert out["p5"] <= out["p50"] <= out["p95"]
    assert 0 <= out["probability_below_zero"] <= 1
    assert set(data["probability_margin_below_zero"]) == {
        "pnl.gross_margin_usd",
        "pnl.operating_margin_usd",
    }
    inputs, outputs = montecarlo_tables(result, "tiny")
    assert inputs.title.startswith("tiny: uncertain inputs (20 samples, lhs, seed 3)")
    metrics = [row[0] for row in outputs.rows]
    assert "pnl.operating_margin_usd" in metrics and not any(
        m.startswith("months") for m in metrics
    )
    assert outputs.caption is not None and "P(pnl.operating_margin_usd < 0)" in outputs.caption
    assert render_csv([inputs, outputs]).count("\n") > 10


def test_nothing_uncertain(tmp_path: Path) -> None:
    plain = LINEAR.replace(f"{{dist: normal, mean: {STAFF_MEAN}, sd: {STAFF_SD}}}", "30000")
    with pytest.raises(AnalysisError, match="no input is a distribution"):
        montecarlo(_load(tmp_path, plain, "plain.yaml"), samples=5)


def test_a_draw_outside_the_bounds_names_the_sample(tmp_path: Path) -> None:
    wide = LINEAR.replace(f"sd: {STAFF_SD}", "sd: 30000")  # staff < 0 in ~16% of draws
    with pytest.raises(Exception, match=r"sample \d+: costs.operating_usd_per_month.staff"):
        montecarlo(_load(tmp_path, wide, "wide.yaml"), samples=20)


@pytest.mark.parametrize(
    ("execution", "fragment"),
    [
        (Execution(-1), "--jobs must be >= 0"),
        (Execution(1, "dask"), "needs --scheduler"),
        (Execution(1, "local", "tcp://x:1"), "goes with --executor dask"),
    ],
)
def test_bad_execution(execution: Execution, fragment: str) -> None:
    with pytest.raises(AnalysisError, match=fragment):
        execution.check()


@pytest.fixture
def no_distributed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import importlib

    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name == "distributed":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    yield


def test_dask_without_distributed(no_distributed: None) -> None:
    with pytest.raises(AnalysisError, match=r"pip install 'infersim\[dask\]'"):
        Execution(1, "dask", "tcp://127.0.0.1:8786").check()
