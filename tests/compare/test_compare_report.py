"""The comparison's arithmetic: deltas, directions, zero baselines, missing metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from infersim.pipeline.run import RunResult, run_scenario
from infersim.report.compare import (
    Delta,
    compare_runs,
    comparison_json,
    comparison_tables,
    delta,
    format_delta,
    unique_labels,
)
from infersim.report.tables import render_csv
from infersim.scenario.load import load_scenario

SMALL = Path(__file__).resolve().parents[1] / "scenarios" / "cli-small.yaml"


@pytest.fixture(scope="module")
def small() -> RunResult:
    loaded = load_scenario(SMALL)
    return run_scenario(loaded.scenario, loaded.catalog)


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A scenario whose only deployment ('api') the baseline lacks, and the other way round."""
    path = tmp_path_factory.mktemp("api") / "api.yaml"
    path.write_text(
        "name: api-only\n"
        "deployments:\n"
        "  api: {kind: api, list_price: article:gpt-4o}\n"
        "workload:\n"
        "  classes:\n"
        "    chat:\n"
        "      arrival: {process: poisson, rate_per_s: 3.0}\n"
        "      prompt_tokens: {dist: fixed, tokens: 600}\n"
        "      output_tokens: {dist: fixed, tokens: 150}\n",
        encoding="utf-8",
    )
    loaded = load_scenario(path)
    return run_scenario(loaded.scenario, loaded.catalog)


@pytest.mark.parametrize(
    ("baseline", "value", "better", "expected"),
    [
        (100.0, 110.0, "higher", Delta(110.0, 10.0, 10.0, "better")),
        (100.0, 110.0, "lower", Delta(110.0, 10.0, 10.0, "worse")),
        (100.0, 90.0, "lower", Delta(90.0, -10.0, -10.0, "better")),
        (-50.0, -25.0, "higher", Delta(-25.0, 25.0, 50.0, "better")),  # % of the magnitude
        (0.0, 5.0, "higher", Delta(5.0, 5.0, None, "better")),  # zero baseline: no %
        (0.0, 0.0, "lower", Delta(0.0, 0.0, None, "same")),
        (3.0, 3.0 * (1 + 1e-12), "lower", Delta(3.0 * (1 + 1e-12), 0.0, 0.0, "same")),
        (None, 5.0, "lower", Delta(5.0, None, None, None)),
        (5.0, None, "lower", Delta(None, None, None, None)),
    ],
)
def test_delta(baseline: float | None, value: float | None, better: str, expected: Delta) -> None:
    got = delta(baseline, value, better)  # type: ignore[arg-type]
    assert got.verdict == expected.verdict
    assert got.value == expected.value
    assert got.delta == (None if expected.delta is None else pytest.approx(expected.delta))
    assert got.delta_pct == (
        None if expected.delta_pct is None else pytest.approx(expected.delta_pct)
    )


def test_delta_text_reads_absolute_percent_and_verdict() -> None:
    assert format_delta("usd", 1000.0, delta(1000.0, 1200.0, "lower")) == "+$200 (+20.0%) worse"
    assert format_delta("pct", 40.0, delta(40.0, 30.0, "higher")) == "-10.0 pp worse"
    # -27.5% -> -21.0%: 6.5 points better, not "+23.7%"
    assert format_delta("pct", -27.5, delta(-27.5, -21.0, "higher", "pct")) == "+6.5 pp better"
    assert format_delta("s", 0.5, delta(0.5, 0.25, "lower")) == "-250.0 (-50.0%) better"
    assert format_delta("usd", 0.0, delta(0.0, 0.0, "lower")) == "unchanged"
    # within what the table shows: unchanged, not worse
    assert format_delta("pct", 40.0, delta(40.0, 40.04, "higher", "pct")) == "unchanged"
    assert format_delta("usd", 100.0, delta(100.0, 100.004, "lower", "usd")) == "unchanged"
    assert format_delta("usd", 100.0, delta(100.0, 100.01, "lower", "usd")).endswith("worse")
    small = delta(100.0, 100.004, "lower", "usd")
    assert small.verdict == "same" and small.delta == pytest.approx(0.004)  # kept as it is
    assert format_delta("usd", None, delta(None, 3.0, "lower")) == "new"
    assert format_delta("usd", 3.0, delta(3.0, None, "lower")) == "missing"


def test_labels_are_made_unique() -> None:
    assert unique_labels(["a", "b", "a", "a"]) == ("a", "b", "a #2", "a #3")


def test_a_run_against_itself_is_the_same_everywhere(small: RunResult) -> None:
    comparison = compare_runs([("x", small), ("x", small)])
    assert comparison.labels == ("x", "x #2")
    for row in comparison.rows:
        (d,) = row.others
        if row.baseline is None:
            assert d.verdict is None
        else:
            assert (d.verdict, d.delta) == ("same", 0.0), row.metric.key


def test_needs_two_runs(small: RunResult) -> None:
    with pytest.raises(ValueError, match="two or more"):
        compare_runs([("x", small)])


def test_a_deployment_in_one_run_only_has_no_delta(small: RunResult, api_only: RunResult) -> None:
    comparison = compare_runs([("small", small), ("api", api_only)])
    rows = {(r.area, r.group, r.metric.key): r for r in comparison.rows}
    gone = rows[("deployments", "main", "ttft_p99_s")]
    assert gone.baseline is not None and gone.others[0] == Delta(None, None, None, None)
    new = rows[("deployments", "api", "cost_usd_per_month")]
    assert new.baseline is None and new.others[0].value is not None
    assert new.others[0].verdict is None
    # revenue is 0 in both: same, and no percent change of a zero baseline
    revenue = rows[("key_figures", None, "revenue_usd")]
    assert revenue.others[0] == Delta(0.0, 0.0, None, "same")
    data = comparison_json(comparison)
    entry = next(e for e in data["areas"]["deployments"] if e["group"] == "main")
    assert entry["compared"][0] == {
        "run": "api", "value": None, "delta": None, "delta_pct": None, "verdict": None,
    }  # fmt: skip
    csv = render_csv(comparison_tables(comparison))
    assert "missing" in csv and "new" in csv
