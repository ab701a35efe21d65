"""The baseline file: versions, validation, deterministic output; tolerances; the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infersim.checks.baseline import (
    SCHEMA_VERSION,
    Baseline,
    ScenarioRecord,
    Tolerance,
    baseline_data,
    diff_metrics,
    parse_baseline,
    parse_tolerance,
    tolerance_for,
    updated,
)
from infersim.errors import ConfigError, UsageError

DATA = Path(__file__).parent / "data"


def _doc(**extra: Any) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "infersim_version": "0.1.0",
        "scenarios": {"a.yaml": {"name": "a", "metrics": {"pnl.revenue_usd": 100.0}}},
        **extra,
    }


def test_a_valid_baseline_round_trips_in_a_fixed_order() -> None:
    data = _doc(tolerances={"*": {"rel": 0.01}, "pnl.*": {"abs": 2, "level": "warn"}})
    data["scenarios"]["0.yaml#v"] = {"name": "z", "variant": "v", "metrics": {"b": 1, "a": 2}}
    baseline = parse_baseline(data, "b.json", "0.1.0")
    out = baseline_data(baseline)
    assert list(out) == ["schema_version", "infersim_version", "tolerances", "scenarios"]
    assert list(out["scenarios"]) == ["0.yaml#v", "a.yaml"]
    assert list(out["scenarios"]["0.yaml#v"]["metrics"]) == ["a", "b"]
    assert list(out["tolerances"]) == ["*", "pnl.*"]
    assert parse_baseline(json.loads(json.dumps(out)), "b.json", "0.1.0") == baseline


def test_an_older_schema_version_is_refused_with_the_fix() -> None:
    data = json.loads((DATA / "baseline-schema-0.json").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as caught:
        parse_baseline(data, "old.json", "0.1.0")
    (problem,) = caught.value.problems
    assert problem.format() == (
        "old.json: schema_version: 0 is older than the 1 that infersim 0.1.0 reads "
        "(written by infersim 0.0.9); re-record it: infersim baseline PATHS... -o old.json"
    )


def test_a_newer_schema_version_asks_for_an_upgrade() -> None:
    with pytest.raises(ConfigError, match=r"3 is newer than infersim 0\.1\.0 reads .*upgrade"):
        parse_baseline(_doc(schema_version=SCHEMA_VERSION + 1), "new.json", "0.1.0")


def test_a_baseline_of_schema_1_is_read_without_inputs() -> None:
    """Baselines recorded before the inputs were stored stay readable."""
    baseline = parse_baseline(_doc(schema_version=1), "v1.json", "0.1.0")
    assert all(not record.inputs for record in baseline.scenarios.values())


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([1, 2], "not an infersim baseline (a JSON object)"),
        ({"scenarios": {}}, "schema_version: missing: not an infersim baseline"),
        ({"schema_version": "1"}, "schema_version: missing"),
        (_doc(extra=1), "extra: Extra inputs are not permitted"),
        (
            _doc(scenarios={"a.yaml": {"name": "a", "metrics": {"x": "high"}}}),
            "scenarios.a.yaml.metrics.x: Input should be a valid number",
        ),
        (_doc(tolerances={"*": {"rel": -1}}), "tolerances.*.rel: Input should be greater"),
    ],
)
def test_malformed_baselines_name_the_problem(data: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_baseline(data, "b.json", "0.1.0")
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("text", "pattern", "tolerance"),
    [
        ("1%", "*", Tolerance(rel=0.01)),
        ("0.5", "*", Tolerance(abs=0.5)),
        ("margins.*.gross_margin_pct=0.5,2%,warn", "margins.*.gross_margin_pct",
         Tolerance(rel=0.02, abs=0.5, level="warn")),
        ("serving.*=fail", "serving.*", Tolerance()),
    ],
)  # fmt: skip
def test_tolerance_specs(text: str, pattern: str, tolerance: Tolerance) -> None:
    assert parse_tolerance(text) == (pattern, tolerance)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x=abc", "'abc' is not a number, a percentage, warn or fail"),
        ("x=", "'' is not a number"),
        ("-1%", "'-1%' must be a finite number >= 0"),
        ("nan", "'nan' must be a finite number >= 0"),
        ("1%,2%", "rel given twice"),
    ],
)
def test_bad_tolerance_specs(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_tolerance(text)
    assert fragment in str(caught.value) and f"--tolerance '{text}'" in str(caught.value)


def test_the_most_specific_tolerance_wins() -> None:
    tolerances = {
        "*": Tolerance(rel=0.01),
        "margins.*": Tolerance(rel=0.05),
        "margins.*.gross_margin_pct": Tolerance(abs=1),
        "margins.plus.gross_margin_pct": Tolerance(abs=2),
    }
    assert tolerance_for("margins.plus.gross_margin_pct", tolerances) == Tolerance(abs=2)
    assert tolerance_for("margins.free.gross_margin_pct", tolerances) == Tolerance(abs=1)
    assert tolerance_for("margins.free.cost_usd", tolerances) == Tolerance(rel=0.05)
    assert tolerance_for("pnl.revenue_usd", tolerances) == Tolerance(rel=0.01)
    assert tolerance_for("pnl.revenue_usd", {}) == Tolerance()  # exact


def test_tolerance_is_absolute_plus_relative() -> None:
    t = Tolerance(rel=0.01, abs=0.5)
    assert t.allows(100.0, 101.5) and not t.allows(100.0, 101.51)
    assert Tolerance().allows(3.0, 3.0) and not Tolerance().allows(3.0, 3.0000001)


def test_the_diff_marks_changed_added_removed_and_unchanged() -> None:
    old = {"a": 100.0, "b": 10.0, "gone": 1.0, "same": 5.0}
    new = {"a": 80.0, "b": 10.05, "new": 2.0, "same": 5.0}
    diff = diff_metrics("s.yaml", old, new, {"b": Tolerance(rel=0.01)})
    by = {m.metric: m for m in diff.metrics}
    assert (by["a"].status, by["a"].level, by["a"].delta, by["a"].pct) == (
        "changed", "fail", -20.0, -20.0
    )  # fmt: skip
    assert by["b"].status == "unchanged" and by["b"].level == "ok"
    assert (by["gone"].sign, by["gone"].level) == ("-", "fail")
    assert (by["new"].sign, by["new"].level, by["new"].delta) == ("+", "warn", None)
    assert by["same"].delta == 0.0
    assert [m.metric for m in diff.changes] == ["a", "gone", "new"]
    assert diff.status == "compared" and diff.level == "fail"


def test_a_change_from_zero_has_no_percent_and_warn_level_is_kept() -> None:
    diff = diff_metrics("s", {"x": 0.0}, {"x": 1.0}, {"*": Tolerance(level="warn")})
    (change,) = diff.metrics
    assert change.pct is None and change.delta == 1.0 and change.level == "warn"


def test_new_and_removed_scenarios_are_warnings() -> None:
    assert diff_metrics("s", None, {"x": 1.0}, {}).status == "added"
    gone = diff_metrics("s", {"x": 1.0}, None, {})
    assert gone.status == "removed" and gone.level == "warn"


def test_update_replaces_what_ran_drops_what_is_gone_keeps_the_rest() -> None:
    old = Baseline(
        schema_version=1,
        infersim_version="0.0.1",
        tolerances={"*": Tolerance(rel=0.01)},
        scenarios={
            "ran.yaml": ScenarioRecord(name="ran", metrics={"x": 1.0}),
            "gone.yaml": ScenarioRecord(name="gone", metrics={"x": 1.0}),
            "other.yaml": ScenarioRecord(name="other", metrics={"x": 1.0}),
        },
    )
    new = updated(old, {"ran.yaml": ScenarioRecord(name="ran", metrics={"x": 2.0})}, ["gone.yaml"],
                  "0.1.0")  # fmt: skip
    assert sorted(new.scenarios) == ["other.yaml", "ran.yaml"]
    assert new.scenarios["ran.yaml"].metrics == {"x": 2.0}
    assert new.tolerances == old.tolerances and new.infersim_version == "0.1.0"
