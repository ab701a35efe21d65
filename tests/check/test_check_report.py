"""What a reviewer reads: the headline in words, the PR comment, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from infersim.checks.baseline import Tolerance, diff_metrics
from infersim.checks.expectations import evaluate
from infersim.checks.outcome import CheckOutcome, ScenarioCheck
from infersim.report.check import (
    change_phrase,
    check_markdown,
    format_value,
    headline,
    junit_xml,
    metric_label,
    verdict,
)
from infersim.scenario.model import Expectation

MARGIN = "margins.plus.gross_margin_pct"


def _run(margin: float, ttft: float = 1.0) -> dict[str, object]:
    return {
        "margins": {"plus": {"gross_margin_pct": margin}},
        "serving": {"deployments": {"main": {"ttft_s": {"p99": ttft}}}},
    }


def _outcome(old: float, new: float, minimum: float = 20, ttft: float = 1.0) -> CheckOutcome:
    run = _run(new, ttft)
    expectations = (
        evaluate(Expectation(metric=MARGIN, min=minimum), run, index=0),
        evaluate(Expectation(metric="serving.ttft_p99_s", max=2, level="warn"), run, index=1),
    )
    diff = diff_metrics("configs/a.yaml", {MARGIN: old}, {MARGIN: new}, {"*": Tolerance(abs=0.1)})
    return CheckOutcome((ScenarioCheck("configs/a.yaml", "a", expectations, diff),), "b.json")


@pytest.mark.parametrize(
    ("metric", "label"),
    [
        (MARGIN, "gross margin of plus"),
        ("margins.total.gross_margin_usd", "total gross margin"),
        ("pnl.operating_margin_pct", "operating margin"),
        ("serving.deployments.main.ttft_s.p99", "TTFT p99 of main"),
        ("costs.main.usd_per_gpu_hour", "$ per GPU hour of main"),
        ("users.plus.share_losing_money", "share losing money of plus users"),
        ("months.12.revenue_usd", "revenue in month 12"),
        ("projection.cumulative_cash_usd", "cumulative cash over the horizon"),
        ("something.else", "something.else"),
    ],
)
def test_metric_labels(metric: str, label: str) -> None:
    assert metric_label(metric) == label


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        (MARGIN, 41.04, "41.0%"),
        ("pnl.revenue_usd", 4838940.95, "$4,838,941"),
        ("pnl.revenue_usd", -12.5, "-$12.50"),
        ("margins.plus.cost_usd_per_mtok", 0.88, "$0.880/Mtok"),
        ("serving.deployments.main.ttft_s.p99", 1.04208, "1.04 s"),
        ("users.plus.share_losing_money", 0.001416, "0.142%"),
        ("serving.deployments.main.busy_share", 0.85, "85.0%"),
        (MARGIN, None, "-"),
    ],
)
def test_values_in_their_units(metric: str, value: float | None, text: str) -> None:
    assert format_value(metric, value) == text


def test_the_headline_reads_like_the_issue() -> None:
    assert headline(_outcome(41.0, 28.6)) == (
        "gross margin of plus falls 12.4 pts (41.0% -> 28.6%)"
    )


def test_the_headline_joins_a_broken_expectation_with_its_change() -> None:
    outcome = _outcome(41.0, 18.0, ttft=2.5)
    assert headline(outcome) == (
        "gross margin of plus falls 23.0 pts (41.0% -> 18.0%), below the minimum of 20.0% "
        "(and 2 more findings)"
    )
    assert verdict(outcome) == "failed (2 failures, 1 warning)"


def test_money_changes_are_in_percent() -> None:
    diff = diff_metrics("s", {"pnl.revenue_usd": 200.0}, {"pnl.revenue_usd": 250.0}, {})
    assert change_phrase(diff.metrics[0]) == "revenue rises 25.0% ($200 -> $250)"


def test_a_passing_check_says_what_passed() -> None:
    outcome = _outcome(41.0, 41.0)
    assert headline(outcome) == (
        "the scenario passes: 2 expectations met, 1 metric within tolerance"
    )
    assert verdict(outcome) == "passed" and outcome.exit_code() == 0


def test_exit_codes() -> None:
    assert _outcome(41.0, 28.6).exit_code() == 1
    assert _outcome(41.0, 28.6).exit_code(exit_zero=True) == 0
    assert _outcome(41.0, 41.0, ttft=3.0).exit_code() == 0  # a warning only


def test_markdown_is_a_pr_comment_headline_then_table() -> None:
    text = check_markdown(_outcome(41.0, 28.6))
    lines = text.splitlines()
    assert lines[0] == "## infersim check: failed (1 failure)"
    assert lines[2] == "**gross margin of plus falls 12.4 pts (41.0% -> 28.6%)**"
    assert lines[4] == "### Inputs changed"
    assert lines[10] == "| result | scenario | check | old | new | change |"
    assert (
        "| **FAIL** | a | gross margin of plus `margins.plus.gross_margin_pct` | 41.0% | 28.6% "
        "| -12.4 pts |" in lines
    )
    assert "<details><summary>1 scenario, 2 expectations, 1 metric compared with b.json" in text


def test_junit_is_valid_xml_with_failures_and_warnings() -> None:
    root = ET.fromstring(junit_xml(_outcome(41.0, 18.0, ttft=2.5)))
    assert root.tag == "testsuites" and root.get("failures") == "2" and root.get("tests") == "3"
    (suite,) = root
    cases = {case.get("name"): case for case in suite}
    assert list(cases) == [
        f"expect {MARGIN} >= 20",
        "expect serving.ttft_p99_s <= 2",
        f"baseline {MARGIN}",
    ]
    failure = cases[f"expect {MARGIN} >= 20"].find("failure")
    assert failure is not None and "18, expected >= 20" in (failure.get("message") or "")
    warning = cases["expect serving.ttft_p99_s <= 2"]
    assert warning.find("failure") is None
    out = warning.find("system-out")
    assert out is not None and (out.text or "").startswith("warning: ")
    prop = warning.find("properties/property")
    assert prop is not None and prop.get("value") == "warn"
