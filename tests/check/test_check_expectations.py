"""Expectations: inclusive bounds, levels, the worst of several values, and probabilities
over (synthetic) Monte Carlo samples."""

from __future__ import annotations

from typing import Any

import pytest

from infersim.checks.expectations import bound_text, evaluate, evaluate_all
from infersim.checks.metrics import MetricError
from infersim.scenario.model import Expectation


def run(margin: float | None, *ttfts: float) -> dict[str, Any]:
    deployments = {f"d{i}": {"ttft_s": {"p99": t}} for i, t in enumerate(ttfts or (1.0,))}
    return {
        "margins": {"plus": {"product": "plus", "gross_margin_pct": margin}},
        "serving": {"deployments": deployments},
    }


def expect(**fields: Any) -> Expectation:
    return Expectation.model_validate({"metric": "margins.plus.gross_margin_pct", **fields})


@pytest.mark.parametrize(
    ("fields", "margin", "passed"),
    [
        ({"min": 30}, 30.0, True),  # bounds are inclusive
        ({"min": 30}, 29.99, False),
        ({"max": 50}, 50.0, True),
        ({"max": 50}, 50.01, False),
        ({"min": 0, "max": 80}, 41.0, True),
        ({"min": 0, "max": 80}, -1.0, False),
        ({"min": 0}, None, False),  # no value cannot meet a bound
    ],
)
def test_plain_bounds(fields: dict[str, Any], margin: float | None, passed: bool) -> None:
    result = evaluate(expect(**fields), run(margin))
    assert result.passed is passed
    assert result.probability is None and result.samples == 1


def test_level_decides_what_a_breach_is() -> None:
    assert evaluate(expect(min=50), run(41.0)).level == "fail"
    assert evaluate(expect(min=50, level="warn"), run(41.0)).level == "warn"
    assert evaluate(expect(min=30, level="warn"), run(41.0)).level == "ok"


def test_several_deployments_must_all_meet_the_bound_and_the_worst_is_reported() -> None:
    e = Expectation(metric="serving.ttft_p99_s", max=2.0)
    result = evaluate(e, run(41.0, 1.2, 2.5, 0.8))
    assert not result.passed
    assert result.path == "serving.deployments.d1.ttft_s.p99"
    assert (result.value, result.paths) == (2.5, 3)
    ok = evaluate(e, run(41.0, 1.2, 1.9))
    assert ok.passed and ok.value == 1.9  # nearest to the bound


def test_probability_is_the_share_of_samples_breaking_the_bound() -> None:
    """P(gross margin < 0) <= 0.05 over 100 samples: 5 negative pass, 6 fail."""
    e = expect(min=0, max_probability=0.05)
    nominal = run(20.0)
    five = [run(-1.0)] * 5 + [run(10.0)] * 95
    six = [run(-1.0)] * 6 + [run(10.0)] * 94
    passing = evaluate(e, nominal, five)
    assert passing.passed and passing.probability == pytest.approx(0.05)
    assert passing.samples == 100 and passing.value == 20.0  # nominal value reported
    failing = evaluate(e, nominal, six)
    assert not failing.passed and failing.probability == pytest.approx(0.06)
    assert "P = 0.06 over 100 samples (at most 0.05)" in failing.detail
    assert failing.title == "P(margins.plus.gross_margin_pct not >= 0) <= 0.05"


def test_a_deterministic_scenario_is_one_sample() -> None:
    e = expect(min=0, max_probability=0.05)
    assert evaluate(e, run(10.0)).probability == 0.0
    broken = evaluate(e, run(-3.0))
    assert broken.probability == 1.0 and not broken.passed and broken.samples == 1


def test_a_sample_without_the_metric_counts_as_breaking() -> None:
    e = expect(min=0, max_probability=0.5)
    result = evaluate(e, run(10.0), [run(10.0), {"margins": {}}, run(None), run(5.0)])
    assert result.probability == 0.5 and result.passed


def test_an_unknown_metric_in_the_nominal_run_is_an_error() -> None:
    with pytest.raises(MetricError, match=r"did you mean 'margins\.plus\.gross_margin_pct'"):
        evaluate_all([Expectation(metric="margins.plus.gross_margin", min=0)], run(1.0))


def test_bound_text() -> None:
    assert bound_text(expect(min=30)) == ">= 30"
    assert bound_text(expect(max=2.5)) == "<= 2.5"
    assert bound_text(expect(min=0, max=80)) == "in [0, 80]"
