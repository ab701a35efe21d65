"""`--set` / `--vary` specs: values, ranges, factors, patterns, and their errors."""

from __future__ import annotations

import pytest

from infersim.analysis import AnalysisError
from infersim.analysis.overrides import (
    check_distinct,
    parse_override,
    parse_values,
    resolve_paths,
    split_top,
    with_assignments,
)
from infersim.scenario.compose import Document


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("10,20,30", (10, 20, 30)),
        ("1e6, 2.5", (1_000_000.0, 2.5)),
        ("h200-sxm,h100-sxm", ("h200-sxm", "h100-sxm")),
        ("null", (None,)),
        ("10..30:5", (10, 15, 20, 25, 30)),
        ("1..4", (1, 2, 3, 4)),
        ("0.1..0.3:0.1", (0.1, 0.2, 0.3)),
        ("10..29:5", (10, 15, 20, 25)),
        ("-1..1:1", (-1, 0, 1)),
        ("linspace(10,30,5)", (10, 15, 20, 25, 30)),
        ("linspace(0, 1, 3)", (0, 0.5, 1)),
        ("geomspace(1,100,3)", (1, 10, 100)),
        ('"a,b",c', ("a,b", "c")),
        ("{low: 1, high: 2},3", ({"low": 1, "high": 2}, 3)),
    ],
)
def test_values(text: str, values: tuple[object, ...]) -> None:
    assert parse_values(text) == values


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no values"),
        ("1,,2", "empty value"),
        ("1,", "empty value"),
        ("30..10:5", "goes down"),
        ("10..30:0", "step must be > 0"),
        ("10..30:-5", "step must be > 0"),
        ("1..x", "not a range"),
        ("0..1e9:1", "more than"),
        ("linspace(1,2)", "three numbers"),
        ("linspace(1,2,0)", "whole number"),
        ("linspace(1,2,2.5)", "whole number"),
        ("geomspace(0,10,3)", "A and B > 0"),
        ("linspace(a,2,3)", "not a number"),
    ],
)
def test_bad_values(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_values(text)


def test_override_operators() -> None:
    spec = parse_override("pricing.plans.plus.price_usd_per_month=10,20")
    assert spec.pattern == ("pricing", "plans", "plus", "price_usd_per_month")
    assert spec.op == "set" and spec.values == (10, 20)
    assert spec.label == "pricing.plans.plus.price_usd_per_month"
    scale = parse_override("deployments.api.*_usd_per_mtok*=1,1.5")
    assert scale.op == "scale" and scale.pattern[-1] == "*_usd_per_mtok"
    assert scale.label == "deployments.api.*_usd_per_mtok*"
    every = parse_override("costs.operating_usd_per_month.*=0")
    assert every.op == "set" and every.pattern[-1] == "*"
    bare = parse_override("a.b", "--vary", values_required=False)
    assert bare.values == () and bare.pattern == ("a", "b")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a.b", "expected PATH=VALUES"),
        ("a..b=1", "empty part"),
        ("=1", "empty part"),
        ("a.b=", "no values"),
        ("a.b*=x", "factors must be numbers"),
        ("a.b={x: [1", "a.b={x: [1"),
    ],
)
def test_bad_overrides(text: str, fragment: str) -> None:
    with pytest.raises(AnalysisError, match="--set") as info:
        parse_override(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_given_twice() -> None:
    specs = [parse_override("a.b=1"), parse_override("a.b=2")]
    with pytest.raises(AnalysisError, match="given twice"):
        check_distinct(specs)


def test_split_top_keeps_nested_commas() -> None:
    assert split_top("a, [1, 2], {x: 1, y: 2}, 'p,q'") == ["a", "[1, 2]", "{x: 1, y: 2}", "'p,q'"]


DATA = {
    "deployments": {
        "api": {"kind": "api", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0},
        "main": {"model": "llama-3.1-70b", "gpu": "h100-sxm"},
    },
    "pricing": {"plans": {"plus": {"price_usd_per_month": 20}}},
    "expect": [{"metric": "pnl.revenue_usd", "min": 1}],
}


def test_paths_present_defaulted_and_patterns() -> None:
    assert resolve_paths(["pricing", "plans", "plus", "price_usd_per_month"], DATA) == [
        ("pricing", "plans", "plus", "price_usd_per_month")
    ]
    # a field the model accepts there, absent from the file: its default until set
    assert resolve_paths(["costs", "serving_overhead_share"], DATA) == [
        ("costs", "serving_overhead_share")
    ]
    assert resolve_paths(["deployments", "main", "replicas"], DATA) == [
        ("deployments", "main", "replicas")
    ]
    assert resolve_paths(["deployments", "api", "*_usd_per_mtok"], DATA) == [
        ("deployments", "api", "input_usd_per_mtok"),
        ("deployments", "api", "output_usd_per_mtok"),
    ]
    assert resolve_paths(["expect", "0", "min"], DATA) == [("expect", 0, "min")]


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (["pricing", "plans", "plus", "pirce_usd_per_month"], "did you mean 'price_usd_per_month'"),
        (["pricing", "plans", "pluss", "price_usd_per_month"], "did you mean 'plus'"),
        (["pricng"], "did you mean 'pricing'"),
        (["deployments", "api", "*_usd_per_hour"], "no key matches"),
    ],
)
def test_unknown_paths(pattern: list[str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        resolve_paths(pattern, DATA)


def test_assignments_replace_and_create() -> None:
    doc = Document({"a": {"b": {"dist": "uniform", "low": 1, "high": 2}}}, {("a", "b"): ("f", 3)})
    out = with_assignments(doc, [(("a", "b"), 5), (("c", "d"), 1)], "--set")
    assert out.data == {"a": {"b": 5}, "c": {"d": 1}}
    assert out.locate(("a", "b")) == ("--set", None)
    assert out.locate(("c", "d")) == ("--set", None)
    assert doc.data["a"]["b"]["dist"] == "uniform"  # the original is untouched
