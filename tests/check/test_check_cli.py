"""`infersim check`, `baseline` and `diff` end to end, on a small priced scenario."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app

DATA = Path(__file__).parent / "data"
SCENARIO = "scenarios/priced.yaml"
CHECK = ("-q", "check", "scenarios", "--compare-to", "b.json")


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line_error(result: tuple[int, str, str], fragment: str) -> None:
    code, out, err = result
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The baseline of the priced scenario with its variant, recorded once."""
    root = tmp_path_factory.mktemp("recorded")
    (root / "scenarios").mkdir()
    shutil.copy(DATA / "priced.yaml", root / SCENARIO)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("COLUMNS", "200")
        args = ["-q", "baseline", "scenarios", "--all-variants", "-t", "0.01%", "-o", "b.json"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return (root / "b.json").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str) -> Path:
    """A repository: scenarios/priced.yaml and its baseline b.json; the working directory."""
    (tmp_path / "scenarios").mkdir()
    shutil.copy(DATA / "priced.yaml", tmp_path / SCENARIO)
    (tmp_path / "b.json").write_text(recorded, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_plan_price(root: Path, usd: float) -> None:
    path = root / SCENARIO
    text = path.read_text(encoding="utf-8")
    assert "plus: {price_usd_per_month: 20}" in text
    path.write_text(text.replace("price_usd_per_month: 20", f"price_usd_per_month: {usd}"))


def margin_headline(root: Path) -> str:
    """The headline a lower plan price gives: the business's gross margin in dollars, the
    most material change at the widest scope, from the baseline and a new run."""
    metric = "pnl.gross_margin_usd"
    old = json.loads((root / "b.json").read_text())["scenarios"][SCENARIO]["metrics"][metric]
    _, out, _ = invoke(CliRunner(), "-q", "run", SCENARIO, "-f", "json")
    new = json.loads(out)["runs"][0]["pnl"]["gross_margin_usd"]
    assert new < old
    pct = 100 * (old - new) / old
    return f"gross margin falls {pct:.1f}% (${old:,.0f} -> ${new:,.0f})"


# infersim check -------------------------------------------------------------------------------


def test_unchanged_scenarios_pass_and_diff_to_exactly_zero(
    runner: CliRunner, project: Path
) -> None:
    code, out, err = invoke(runner, "check", "scenarios", "--compare-to", "b.json")
    assert code == 0, err
    assert out.startswith("the scenario passes: 2 expectations met, ")
    assert "infersim check: passed" in out and f"{SCENARIO}: ran in" in err
    code, out, _ = invoke(runner, "-q", "diff", "--compare-to", "b.json", "scenarios", "--all",
                          "-f", "json")  # fmt: skip
    (scenario,) = json.loads(out)["scenarios"]
    assert code == 0 and scenario["changed"] == 0 and scenario["metrics"]
    assert {m["delta"] for m in scenario["metrics"]} == {0.0}


def test_changing_a_price_fails_the_check_and_shows_the_diff(
    runner: CliRunner, project: Path
) -> None:
    set_plan_price(project, 11)
    code, out, _ = invoke(runner, *CHECK)
    assert code == 1
    assert out.startswith(margin_headline(project)) and "infersim check: failed" in out
    code, out, _ = invoke(runner, "-q", "diff", "--compare-to", "b.json", "scenarios", "-f", "json")
    assert code == 0  # diff reports, check gates
    changes = {m["metric"]: m for m in json.loads(out)["scenarios"][0]["metrics"]}
    revenue = changes["margins.plus.revenue_usd"]
    assert (revenue["old"], revenue["new"], revenue["delta"], revenue["pct"]) == (
        40000.0, 22000.0, -18000.0, -45.0
    )  # fmt: skip
    assert revenue["status"] == "changed"
    assert "margins.plus.cost_usd" not in changes  # the price moved revenue, not cost
    code, table, _ = invoke(runner, "-q", "diff", "--compare-to", "b.json", "scenarios")
    assert "│ ~ │ scenarios/priced.yaml │ margins.plus.revenue_usd" in table
    assert "-18,000" in table and "-45.00%" in table
    assert invoke(runner, *CHECK, "--exit-zero")[0] == 0


def test_markdown_comment_and_junit(runner: CliRunner, project: Path) -> None:
    set_plan_price(project, 11)
    args = ["-q", "check", "scenarios", "--compare-to", "b.json", "-f", "markdown"]
    code, out, _ = invoke(runner, *args, "--junit", "junit.xml")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("## infersim check: failed (")
    assert lines[2].startswith(f"**{margin_headline(project)}")
    # the input that changed comes first, then the outputs it moved
    assert lines[4] == "### Inputs changed"
    assert "| priced-small | `pricing.plans.plus.price_usd_per_month` | 20 | 11 |" in lines
    first_output = lines.index("| result | scenario | check | old | new | change |")
    assert lines[first_output - 2] == "### Output changes, most material first"
    # one figure, one row: the P&L's revenue names the margin table's total
    revenue = [line for line in lines if "`pnl.revenue_usd`" in line]
    assert len(revenue) == 1 and "(also `margins.total.revenue_usd`)" in revenue[0]
    assert not any(line.startswith("| **FAIL** | priced-small | total revenue") for line in lines)
    root = ET.fromstring((project / "junit.xml").read_text(encoding="utf-8"))
    (suite,) = root
    assert suite.get("name") == SCENARIO and int(root.get("failures") or 0) > 0
    names = [case.get("name") for case in suite]
    assert "expect margins.plus.gross_margin_pct >= 30" in names
    assert "baseline margins.plus.revenue_usd" in names


def test_breaking_an_expectation_fails_without_a_baseline(runner: CliRunner, project: Path) -> None:
    set_plan_price(project, 0.5)  # below the fleet bill per subscriber
    code, out, _ = invoke(runner, "-q", "check", SCENARIO, "-f", "json")
    assert code == 1
    data = json.loads(out)
    margin = data["scenarios"][0]["expectations"][0]
    assert margin["result"] == "fail" and margin["value"] < 30
    assert data["headline"].startswith("gross margin of plus is ")
    assert data["headline"].endswith(", below the minimum of 30.0%")


def test_a_warn_level_breach_exits_zero(runner: CliRunner, project: Path) -> None:
    path = project / SCENARIO
    path.write_text(path.read_text(encoding="utf-8").replace("max: 5, level: warn", "max: 0.001, "
                    "level: warn"))  # fmt: skip
    code, out, _ = invoke(runner, "-q", "check", SCENARIO)
    assert code == 0 and "passed with 1 warning" in out and "WARN" in out


def test_update_baseline_accepts_changes_atomically(runner: CliRunner, project: Path) -> None:
    set_plan_price(project, 15)
    code, out, _ = invoke(runner, *CHECK, "--update-baseline")
    assert code == 0 and "changes accepted into the baseline" in out
    data = json.loads((project / "b.json").read_text(encoding="utf-8"))
    assert data["scenarios"][SCENARIO]["metrics"]["margins.plus.revenue_usd"] == 30000.0
    assert f"{SCENARIO}#h200" in data["scenarios"]  # not run, still there: kept
    assert data["tolerances"]["*"]["rel"] == 0.0001  # kept
    assert sorted(p.name for p in project.iterdir()) == ["b.json", "scenarios"]  # no temp file
    assert invoke(runner, *CHECK)[0] == 0


def test_update_baseline_creates_a_missing_baseline(runner: CliRunner, project: Path) -> None:
    code, _, _ = invoke(runner, "-q", "check", SCENARIO, "--compare-to", "new.json",
                        "--update-baseline")  # fmt: skip
    assert code == 0
    assert list(json.loads((project / "new.json").read_text())["scenarios"]) == [SCENARIO]


def test_a_broken_scenario_exits_2_and_leaves_the_baseline_untouched(
    runner: CliRunner, project: Path
) -> None:
    set_plan_price(project, 11)
    text = (project / SCENARIO).read_text(encoding="utf-8").replace("gpu: h100-sxm", "gpu: h100")
    (project / "scenarios" / "broken.yaml").write_text(text)
    line = 1 + text.splitlines().index("    gpu: h100")
    before = snapshot(project)
    result = invoke(runner, "check", "scenarios", "--compare-to", "b.json", "--update-baseline",
                    "--junit", "junit.xml", "-o", "out.md")  # fmt: skip
    one_line_error(result, f"scenarios/broken.yaml:{line}: deployments.main.gpu: unknown gpu")
    assert snapshot(project) == before


def test_an_old_baseline_is_refused_with_a_clear_message(runner: CliRunner, project: Path) -> None:
    shutil.copy(DATA / "baseline-schema-0.json", project / "old.json")
    before = snapshot(project)
    result = invoke(runner, "check", SCENARIO, "--compare-to", "old.json", "--update-baseline")
    one_line_error(result, "old.json: schema_version: 0 is older than the 1 that infersim")
    assert "infersim baseline PATHS... -o old.json" in result[2]
    assert snapshot(project) == before
    # `infersim baseline -o` re-records over it
    assert invoke(runner, "-q", "baseline", SCENARIO, "-o", "old.json")[0] == 0
    assert json.loads((project / "old.json").read_text())["schema_version"] == 2


def test_an_unknown_expectation_metric_is_bad_input(runner: CliRunner, project: Path) -> None:
    path = project / SCENARIO
    text = path.read_text(encoding="utf-8")
    text = text.replace("gross_margin_pct, min: 30", "gross_margin, min: 30")
    path.write_text(text)
    line = 1 + text.splitlines().index(next(x for x in text.splitlines() if "gross_margin," in x))
    one_line_error(
        invoke(runner, "-q", "check", SCENARIO),
        f"{SCENARIO}:{line}: expect.0.metric: unknown metric 'margins.plus.gross_margin' — "
        "did you mean 'margins.plus.gross_margin_",
    )


def test_new_and_removed_scenarios_are_warnings(runner: CliRunner, project: Path) -> None:
    shutil.copy(project / SCENARIO, project / "scenarios" / "copy.yaml")
    code, out, _ = invoke(runner, *CHECK, "-f", "json")
    assert code == 0 and json.loads(out)["warnings"] == 1
    (project / SCENARIO).unlink()
    code, out, _ = invoke(runner, *CHECK, "--all-variants", "-f", "json")
    data = json.loads(out)
    statuses = {s["key"]: s["baseline"]["status"] for s in data["scenarios"]}
    assert statuses == {
        "scenarios/copy.yaml": "added",
        "scenarios/copy.yaml#h200": "added",
        SCENARIO: "removed",
        f"{SCENARIO}#h200": "removed",
    }
    assert code == 0 and data["warnings"] == 4


def test_a_variant_not_run_is_not_reported_removed(runner: CliRunner, project: Path) -> None:
    code, out, _ = invoke(runner, *CHECK, "-f", "json")
    assert code == 0 and [s["key"] for s in json.loads(out)["scenarios"]] == [SCENARIO]


def test_list_metrics_lists_paths_without_running(runner: CliRunner, project: Path) -> None:
    code, out, err = invoke(runner, "check", "--list-metrics", SCENARIO, "-f", "json")
    (scenario,) = json.loads(out)["scenarios"]
    assert code == 0 and scenario["key"] == SCENARIO
    assert "ran in" not in err  # nothing was simulated
    assert scenario["aliases"]["serving.ttft_p99_s"] == "serving.deployments.main.ttft_s.p99"
    assert "margins.plus.revenue_usd" in scenario["metrics"]
    assert "margins.plus.revenue_usd" in scenario["recorded_in_baseline"]
    # every path a real run records is listed
    recorded = json.loads((project / "b.json").read_text())["scenarios"][SCENARIO]["metrics"]
    assert set(recorded) <= set(scenario["metrics"])
    code, out, _ = invoke(runner, "-q", "check", "--list-metrics", SCENARIO)
    assert code == 0 and "serving.ttft_p99_s" in out and "in baseline" in out


# Bad input: one line, exit 2, nothing written -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("check", "missing.yaml"), "missing.yaml: no such file or directory"),
        (("check", "empty"), "empty: no scenario files (*.yaml, *.yml) below it"),
        (("check", SCENARIO, "--jobs", "-1"), "--jobs must be >= 0 (0: one per CPU), got -1"),
        (("check", SCENARIO, "-t", "x=abc"), "--tolerance 'x=abc': 'abc' is not a number"),
        (("check", SCENARIO, "--update-baseline"), "--update-baseline needs --compare-to FILE"),
        (("check", SCENARIO, "--junit", "nodir/j.xml"), "--junit nodir/j.xml: directory"),
        (("check", SCENARIO, "--junit", "empty"), "--junit empty: is a directory"),
        (("check", SCENARIO, "--compare-to", "missing.json"), "missing.json: baseline not found"),
        (("check", SCENARIO, "--compare-to", "bad.json"), "bad.json:1: not valid JSON"),
        (("check", SCENARIO, "--compare-to", "empty"), "empty: is a directory, expected a"),
        (("check", SCENARIO, "--compare-to", "old.json"), "0 is older than the 1"),
        (("check", SCENARIO, "--compare-to", "b.json", "--list-metrics"), "only lists metrics"),
        (("check", SCENARIO, "--all-variants", "-t", "1%,2%"), "rel given twice"),
        (("baseline", "missing.yaml", "-o", "x.json"), "missing.yaml: no such file"),
        (("baseline", SCENARIO, "--jobs", "-2"), "--jobs must be >= 0"),
        (("baseline", SCENARIO, "-t", "-1%"), "must be a finite number >= 0"),
        (("diff", "--compare-to", "missing.json", SCENARIO), "baseline not found"),
        (("diff", "--compare-to", "old.json", SCENARIO), "0 is older than the 1"),
        (("diff", "--compare-to", "b.json", SCENARIO, "-t", "1x"), "'1x' is not a number"),
        (("diff", "--compare-to", "b.json", "empty"), "no scenario files"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    runner: CliRunner, project: Path, args: tuple[str, ...], fragment: str
) -> None:
    (project / "empty").mkdir()
    (project / "bad.json").write_text("{not json", encoding="utf-8")
    shutil.copy(DATA / "baseline-schema-0.json", project / "old.json")
    before = snapshot(project)
    one_line_error(invoke(runner, *args), fragment)
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("diff", "tests/check/data/priced.yaml"), "Missing option '--compare-to'"),
        (("check", "--format", "xml"), "--format: 'xml' is not a format; choose table, json"),
    ],
)
def test_usage_errors_are_one_line(args: tuple[str, ...], fragment: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infersim", *args], capture_output=True, text=True, check=False
    )
    one_line_error((done.returncode, done.stdout, done.stderr), fragment)
