"""What a reviewer reads first: the inputs that changed (recorded in the baseline), then the
output changes, the most material first, one row per figure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from infersim.checks.baseline import Tolerance, diff_metrics
from infersim.checks.inputs import diff_inputs, resolved_inputs
from infersim.checks.outcome import CheckOutcome, ScenarioCheck, one_per_figure
from infersim.cli.app import app
from infersim.report.check import check_markdown, headline, materiality
from infersim.scenario.load import load_scenario

PRICED = ROOT / "tests" / "check" / "data" / "priced.yaml"
EXACT = {"*": Tolerance()}


def test_the_resolved_inputs_include_defaults_and_the_catalog_figures_used() -> None:
    inputs = resolved_inputs(load_scenario(PRICED))
    assert inputs["deployments.main.replicas"] == 1 and inputs["deployments.main.gpu"] == "h100-sxm"
    assert "deployments.main.max_batch_tokens" in inputs  # a default, filled in
    assert inputs["catalog.gpus.h100-sxm.memory_gb"] == 80
    assert not any(k == "description" or k.endswith(".sources.0.url") for k in inputs)
    assert list(inputs) == sorted(inputs)


def test_input_diff() -> None:
    old = {"a": 1, "b": "x", "c": True, "d": 2.0}
    new = {"a": 1.0, "b": "y", "d": 2.0, "e": None}
    changes = {c.path: (c.old, c.new, c.status) for c in diff_inputs(old, new)}
    assert changes == {
        "b": ("x", "y", "changed"),
        "c": (True, None, "removed"),
        "e": (None, None, "added"),
    }


def test_one_figure_under_several_paths_is_one_finding() -> None:
    old = {"pnl.revenue_usd": 100.0, "margins.total.revenue_usd": 100.0, "margins.a.cost_usd": 5.0}
    new = {"pnl.revenue_usd": 60.0, "margins.total.revenue_usd": 60.0, "margins.a.cost_usd": 6.0}
    diff = diff_metrics("a.yaml", old, new, EXACT)
    merged = one_per_figure(diff.changes)
    assert [(m.metric, m.same_as) for m in merged] == [
        ("margins.a.cost_usd", ()),
        ("pnl.revenue_usd", ("margins.total.revenue_usd",)),
    ]
    outcome = CheckOutcome((ScenarioCheck("a.yaml", "a", (), diff),), "b.json")
    assert outcome.count("fail") == 2


def test_the_most_material_change_heads_the_comment() -> None:
    """Revenue -40% is not hidden behind gross margin -2.2 pts (the issue's case)."""
    old = {"pnl.revenue_usd": 1_000_000.0, "pnl.gross_margin_pct": 41.0}
    new = {"pnl.revenue_usd": 600_000.0, "pnl.gross_margin_pct": 38.8}
    diff = diff_metrics("a.yaml", old, new, EXACT)
    outcome = CheckOutcome((ScenarioCheck("a.yaml", "a", (), diff),), "b.json")
    assert headline(outcome).startswith("revenue falls 40.0% ($1,000,000 -> $600,000)")
    assert [materiality(m) for m in diff.changes] == pytest.approx([2.2, 40.0])


def test_shares_are_percentages_and_their_changes_points() -> None:
    diff = diff_metrics(
        "a.yaml", {"pnl.unserved_share": 0.001448}, {"pnl.unserved_share": 0.004228}, EXACT
    )
    text = check_markdown(CheckOutcome((ScenarioCheck("a.yaml", "a", (), diff),), "b.json"))
    assert "**unserved share rises 0.3 pts (0.145% -> 0.423%)**" in text
    assert "| 0.145% | 0.423% | +0.3 pts |" in text
    assert "0.001448" not in text


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "s").mkdir()
    shutil.copy(PRICED, tmp_path / "s" / "priced.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["-q", "baseline", "s", "-o", "b.json"])
    assert result.exit_code == 0, result.stderr
    return tmp_path


def test_the_comment_shows_the_input_that_changed_first(project: Path) -> None:
    path = project / "s" / "priced.yaml"
    text = path.read_text(encoding="utf-8")
    assert "rate_per_s: 2.0" in text
    path.write_text(text.replace("rate_per_s: 2.0", "rate_per_s: 3.0", 1), encoding="utf-8")
    args = ["-q", "check", "s", "--compare-to", "b.json", "-f", "markdown", "--exit-zero"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    inputs_at = lines.index("### Inputs changed")
    outputs_at = lines.index("### Output changes, most material first")
    assert inputs_at < outputs_at
    rows = [line for line in lines[inputs_at:outputs_at] if line.startswith("| priced-small")]
    assert len(rows) == 1 and "rate_per_s` | 2 | 3 |" in rows[0]


def test_a_baseline_without_inputs_is_read_and_says_to_re_record(project: Path) -> None:
    data = json.loads((project / "b.json").read_text(encoding="utf-8"))
    data["schema_version"] = 1
    for record in data["scenarios"].values():
        del record["inputs"]
    (project / "b.json").write_text(json.dumps(data), encoding="utf-8")
    args = ["-q", "check", "s", "--compare-to", "b.json", "-f", "markdown"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "The baseline does not record the inputs of priced-small: re-record" in result.stdout


def test_validate_lists_metrics_without_running(project: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "s/priced.yaml", "--list-metrics"])
    assert result.exit_code == 0, result.stderr
    assert "pnl.revenue_usd" in result.stdout and "serving.ttft_p99_s" in result.stdout
    assert "ran" not in result.stderr
    refused = CliRunner().invoke(app, ["validate", "s/priced.yaml", "--list-metrics", "-f", "json"])
    assert refused.exit_code == 2 and "--list-metrics prints tables" in refused.stderr


def test_diff_lists_the_inputs_too(project: Path) -> None:
    path = project / "s" / "priced.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("rate_per_s: 2.0", "rate_per_s: 3.0", 1), encoding="utf-8")
    args = ["-q", "diff", "--compare-to", "b.json", "s", "-f", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    (scenario,) = json.loads(result.stdout)["scenarios"]
    assert scenario["inputs_recorded"] is True
    (change,) = scenario["inputs"]
    assert change["old"] == 2.0 and change["new"] == 3.0 and change["status"] == "changed"
    assert change["input"].endswith("arrival.rate_per_s")
    table = CliRunner().invoke(app, ["-q", "diff", "--compare-to", "b.json", "s"]).stdout
    assert "input workload.classes." in table
