"""Metric paths over a run's JSON: canonical paths, aliases, errors, the baseline's key set."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infersim.checks.metrics import MetricError, flatten, key_metrics, resolve, short_aliases


def _deployment(ttft_p99_s: float) -> dict[str, Any]:
    return {
        "gpu": "h100-sxm",
        "replicas": 2.0,
        "ttft_s": {"p50": 0.1, "p90": 0.3, "p99": ttft_p99_s, "mean": 0.15},
        "batch_size": {"p50": 4.0, "p99": 9.0},
        "busy_share": 0.5,
        "classes": {"chat": {"ttft_s": {"p99": ttft_p99_s}}},
    }


RUN: dict[str, Any] = {
    "scenario": "tiny",
    "variant": None,
    "source": "tiny.yaml",
    "seed": 1,
    "margins": {
        "plus": {"kind": "plan", "product": "plus", "gross_margin_pct": 41.0, "users": 10.0},
        "chat": {"kind": "api", "product": "main-api", "gross_margin_pct": -5.0, "users": None},
        "total": {"kind": "total", "product": None, "gross_margin_pct": 30.0},
    },
    "pnl": {"revenue_usd": 100.0, "gross_margin_pct": 30.0, "operating_costs_usd": {"staff": 5}},
    "months": [
        {"month": 1, "revenue_usd": 100.0},
        {"month": 2, "revenue_usd": 110.0},
    ],
    "projection": {"cumulative_cash_usd": 50.0},
    "costs": {"main": {"usd_per_gpu_hour": 2.5}},
    "serving": {"seed": 1, "deployments": {"main": _deployment(1.2)}},
}


def _two_deployments() -> dict[str, Any]:
    run = copy.deepcopy(RUN)
    run["serving"]["deployments"]["big"] = _deployment(2.5)
    run["costs"]["big"] = {"usd_per_gpu_hour": 4.0}
    return run


@pytest.mark.parametrize(
    ("metric", "path", "value"),
    [
        ("margins.plus.gross_margin_pct", "margins.plus.gross_margin_pct", 41.0),
        ("serving.deployments.main.ttft_s.p99", "serving.deployments.main.ttft_s.p99", 1.2),
        ("serving.deployments.main.ttft_p99_s", "serving.deployments.main.ttft_s.p99", 1.2),
        ("serving.ttft_p99_s", "serving.deployments.main.ttft_s.p99", 1.2),
        ("serving.ttft_s.p50", "serving.deployments.main.ttft_s.p50", 0.1),
        ("serving.batch_size_p99", "serving.deployments.main.batch_size.p99", 9.0),
        ("serving.busy_share", "serving.deployments.main.busy_share", 0.5),
        ("costs.usd_per_gpu_hour", "costs.main.usd_per_gpu_hour", 2.5),
        ("months.2.revenue_usd", "months.2.revenue_usd", 110.0),
        ("months.last.revenue_usd", "months.2.revenue_usd", 110.0),
        ("margins.main-api.gross_margin_pct", "margins.chat.gross_margin_pct", -5.0),
        ("gross_margin_pct", "pnl.gross_margin_pct", 30.0),
        ("cumulative_cash_usd", "projection.cumulative_cash_usd", 50.0),
        ("pnl.operating_costs_usd.staff", "pnl.operating_costs_usd.staff", 5.0),
        ("margins.chat.users", "margins.chat.users", None),
    ],
)
def test_paths_and_aliases_resolve(metric: str, path: str, value: float | None) -> None:
    assert resolve(RUN, metric) == [(path, value)]


def test_an_alias_over_several_deployments_names_each() -> None:
    run = _two_deployments()
    assert resolve(run, "serving.ttft_p99_s") == [
        ("serving.deployments.main.ttft_s.p99", 1.2),
        ("serving.deployments.big.ttft_s.p99", 2.5),
    ]
    assert [p for p, _ in resolve(run, "costs.usd_per_gpu_hour")] == [
        "costs.main.usd_per_gpu_hour",
        "costs.big.usd_per_gpu_hour",
    ]


@pytest.mark.parametrize(
    ("metric", "fragment"),
    [
        ("margins.pluss.gross_margin_pct", "did you mean 'margins.plus.gross_margin_pct'?"),
        ("serving.ttft_p98_s", "unknown metric 'serving.ttft_p98_s'"),
        ("margins.plus", "is a group of 2 metrics, not one number"),
        ("serving.deployments.main.gpu", "is str 'h100-sxm', not a number"),
        ("margins..plus", "has an empty part"),
        ("seed", "unknown metric 'seed'"),
        ("nothing.at.all", "--list-metrics"),
    ],
)
def test_unknown_paths_are_errors_that_say_why(metric: str, fragment: str) -> None:
    with pytest.raises(MetricError) as caught:
        resolve(RUN, metric)
    assert fragment in str(caught.value)


def test_flatten_keys_months_by_number_and_skips_text_and_metadata() -> None:
    flat = flatten(RUN)
    assert "months.1.revenue_usd" in flat and "months.2.revenue_usd" in flat
    assert "margins.plus.kind" not in flat and "seed" not in flat and "scenario" not in flat
    assert flat["margins.chat.users"] is None
    assert flat["serving.deployments.main.ttft_s.p99"] == 1.2


def test_short_aliases_name_exactly_one_metric() -> None:
    aliases = short_aliases(RUN)
    assert aliases["serving.ttft_p99_s"] == "serving.deployments.main.ttft_s.p99"
    assert aliases["serving.batch_size_p99"] == "serving.deployments.main.batch_size.p99"
    assert aliases["months.last.revenue_usd"] == "months.2.revenue_usd"
    assert aliases["costs.usd_per_gpu_hour"] == "costs.main.usd_per_gpu_hour"
    assert "serving.ttft_p99_s" not in short_aliases(_two_deployments())  # ambiguous


def test_key_metrics_are_money_margins_and_service_levels_not_internals() -> None:
    keys = key_metrics(RUN)
    assert "margins.plus.gross_margin_pct" in keys and "pnl.revenue_usd" in keys
    assert "serving.deployments.main.ttft_s.p99" in keys
    assert "serving.deployments.main.classes.chat.ttft_s.p99" not in keys
    assert "months.1.revenue_usd" not in keys and "margins.chat.users" not in keys
    assert list(keys) == sorted(keys)
    assert "months.2.revenue_usd" in key_metrics(RUN, also=["months.2.revenue_usd"])
