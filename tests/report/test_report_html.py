"""HTML reports: one self-contained, valid HTML5 file per command, with the charts that fit.

The reports are built from each command's real `-f json` output (the contract the HTML is
built on), plus small hand-made cases where a command's output would depend on the day (a
baseline that changed).
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Mapping
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import html5lib
import pytest
import yaml
from typer.testing import CliRunner

from conftest import CONFIGS
from infersim import __version__
from infersim.analysis.montecarlo import montecarlo, montecarlo_json
from infersim.catalog.load import load_builtin
from infersim.cli.app import app
from infersim.errors import InfersimError
from infersim.report import charts, html, sections
from infersim.report.tables import DataTable
from infersim.scenario.load import load_scenario

WRAPPER = str(CONFIGS / "api-wrapper-gpt4o.yaml")
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "formaction"}
#: A wrapper whose price and user count are uncertain: a small Monte Carlo.
UNCERTAIN = """
name: wrapper-uncertain
seed: 3
deployments:
  gpt4o: {kind: api, list_price: article:gpt-4o, latency_s: 4.0, quality: 0.9}
workload:
  users:
    pro:
      plan: pro
      users: {low: 8000, high: 30000}
      active_share: 0.9
      requests_per_user_per_month: {dist: lognormal, median: 100, p99: 2500}
      prompt_tokens_per_request: 2000
      output_tokens_per_request: 400
pricing:
  plans:
    pro: {price_usd_per_month: {low: 8, high: 25}}
costs:
  operating_usd_per_month: {staff: 60000}
horizon: {months: 6}
"""


def cli_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "-f", "json"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def with_changes(check: dict[str, Any]) -> dict[str, Any]:
    """A check whose first scenario moved against its baseline."""
    changed = copy.deepcopy(check)
    changed["result"], changed["failures"] = "fail", 1
    changed["scenarios"][0]["baseline"] = {
        "status": "compared",
        "compared": 5,
        "changed": 2,
        "metrics": [
            {"metric": "pnl.gross_margin_pct", "old": 90.0, "new": 80.0, "delta": -10.0,
             "pct": -11.1, "status": "changed", "result": "fail"},
            {"metric": "pnl.revenue_usd", "old": 100.0, "new": 101.0, "delta": 1.0,
             "pct": 1.0, "status": "changed", "result": "warn"},
        ],
    }  # fmt: skip
    return changed


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each command's JSON, once per module."""
    scenario = tmp_path_factory.mktemp("mc") / "uncertain.yaml"
    scenario.write_text(UNCERTAIN, encoding="utf-8")
    loaded = load_scenario(scenario, None, catalog=load_builtin())
    mc = montecarlo(loaded, samples=16)
    return {
        "run": cli_json("run", WRAPPER, "--all-variants"),
        "perf": cli_json(
            "perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--sweep", "batch=1,8,128,512"
        ),
        "compare": cli_json("compare", WRAPPER, f"{WRAPPER}@price-rise-40pct"),
        "check": with_changes(cli_json("check", WRAPPER, "--exit-zero")),
        "sweep": cli_json(
            "sweep",
            WRAPPER,
            "--set",
            "pricing.plans.pro.price_usd_per_month=10,20,30",
            "--set",
            "workload.users.pro.users=10000,20000",
            "--metric",
            "pnl.gross_margin_pct",
            "--metric",
            "pnl.operating_margin_usd",
        ),
        "montecarlo": montecarlo_json(mc),
        "montecarlo_samples": {k: v.tolist() for k, v in mc.outputs.items()},
        "sensitivity": cli_json(
            "sensitivity", WRAPPER, "-m", "pnl.gross_margin_pct",
            "--vary", "pricing.plans.pro.price_usd_per_month=10,30",
            "--vary", "workload.users.pro.users*=0.5,2",
        ),
        "breakeven": cli_json(
            "breakeven", WRAPPER, "--vary", "pricing.plans.pro.price_usd_per_month",
            "--range", "1,200", "--target", "pnl.gross_margin_pct=50",
        ),
    }  # fmt: skip


#: The runs of a breakeven search (input, output), as `BreakevenResult.evaluations` has them.
EVALUATIONS = ((1.0, -300.0), (200.0, 80.0), (40.0, 45.0), (45.5, 50.0))
PERF_COMMAND = "infersim perf --model llama-3.1-8b --gpu h100-sxm --sweep batch=1,8,128,512"


RUN_TABLES = [
    DataTable("api-wrapper-gpt4o: margins, month 1", ["segment", "margin"], [["pro", "-$3.50"]]),
    DataTable("api-wrapper-gpt4o [price-rise-40pct]: P&L", ["line", "USD"], [["revenue", 1.5]]),
    DataTable("variants vs base", ["metric", "delta"], [["margin", -2.0]]),
]


@pytest.fixture(scope="module")
def reports(data: dict[str, Any]) -> dict[str, str]:
    resolved = sections.scenario_yaml({"name": "api-wrapper-gpt4o", "seed": 11})
    return {
        "run": html.run_report(data["run"], RUN_TABLES, resolved),
        "perf": html.perf_report(data["perf"], reproduce=PERF_COMMAND),
        "sensitivity": html.sensitivity_report(data["sensitivity"]),
        "breakeven": html.breakeven_report(data["breakeven"], evaluations=EVALUATIONS),
        "compare": html.compare_report(data["compare"]),
        "check": html.check_report(data["check"]),
        "sweep": html.sweep_report(data["sweep"]),
        "montecarlo": html.montecarlo_report(
            data["montecarlo"], samples=data["montecarlo_samples"], label="wrapper-uncertain"
        ),
    }


class _Page(HTMLParser):
    """Every tag with its attributes, the ids, and the text of h2 headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.ids: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self.ids += [value for name, value in attrs if name == "id" and value is not None]
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def chart_labels(page: str) -> list[str]:
    return re.findall(r'<svg[^>]* class="chart" role="img" aria-label="([^"]*)"', page)


COMMANDS = ["run", "perf", "compare", "check", "sweep", "montecarlo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_report_is_self_contained(reports: Mapping[str, str], command: str) -> None:
    page = reports[command]
    for tag, attrs in parse(page).tags:
        assert tag not in ("link", "iframe", "object", "embed", "img"), tag
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value:
                assert value.startswith("#"), f"<{tag} {name}={value!r}> leaves the page"
    assert "<script" not in page
    assert "@import" not in page and "url(http" not in page
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= NAMESPACES
    assert "default-src 'none'" in page  # and a CSP stops anything from being fetched


@pytest.mark.parametrize("command", COMMANDS)
def test_report_is_valid_html5(reports: Mapping[str, str], command: str) -> None:
    page = reports[command]
    html5lib.HTMLParser(strict=True).parse(page)  # raises on any parse error
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    parsed = parse(page)
    assert len(parsed.ids) == len(set(parsed.ids)), "ids repeat across the charts"
    referenced = re.findall(r'(?:url\(#|href="#)([^")]+)', page)
    assert set(referenced) <= set(parsed.ids), "a reference points at no id"


@pytest.mark.parametrize("command", COMMANDS)
def test_report_has_charts_and_a_version(reports: Mapping[str, str], command: str) -> None:
    page = reports[command]
    assert chart_labels(page), "no chart"
    assert page.count("<svg") == page.count("<figure>") == len(chart_labels(page))
    assert f"infersim {__version__}" in page
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata>" not in page


def test_run_report_sections_and_charts(reports: Mapping[str, str]) -> None:
    page = reports["run"]
    titles = parse(page).h2
    for label in ("api-wrapper-gpt4o", "api-wrapper-gpt4o [price-rise-40pct]"):
        assert f"{label}: summary" in titles
        assert f"{label}: margin per subscriber" in titles
        assert f"{label}: projection" in titles
    assert "variants against the base" in titles
    labels = chart_labels(page)
    assert "api-wrapper-gpt4o: revenue -> cost -> margin, month 1" in labels
    assert any(x.startswith("api-wrapper-gpt4o: margin per subscriber of pro") for x in labels)
    assert "api-wrapper-gpt4o: projection over 24 months" in labels
    assert any("key figures" in x for x in labels)
    assert any("change of each metric" in x for x in labels)
    assert "breakeven ($0)" in page  # the line on the per-user histogram
    assert ">gross margin %<" in page and ">cumulative cash<" in page  # month panels


def test_run_report_puts_each_runs_tables_under_it(reports: Mapping[str, str]) -> None:
    page = reports["run"]
    titles = parse(page).h2
    assert titles[-2:] == ["tables", "reproduce"]
    own = page.index("<h2>api-wrapper-gpt4o: tables</h2>")
    assert own < page.index("api-wrapper-gpt4o: margins, month 1</caption>")
    assert page.index("<h2>tables</h2>") < page.index("variants vs base</caption>")
    assert '<td class="num neg">-$3.50</td>' in page
    assert '<td class="num">1.5</td>' in page


def test_run_report_holds_the_resolved_scenario(reports: Mapping[str, str]) -> None:
    page = reports["run"]
    block = re.search(
        r"<details><summary>resolved scenario \(YAML\)</summary>(.*?)</details>", page, re.S
    )
    assert block is not None
    assert "name: api-wrapper-gpt4o" in block.group(1)
    assert "resolved scenario" not in reports["perf"]  # nothing to resolve there


def test_perf_report_charts_against_batch_size(reports: Mapping[str, str]) -> None:
    page = reports["perf"]
    assert chart_labels(page) == ["llama-3.1-8b on h100-sxm: against batch size"]
    for panel in ("output tokens/s per GPU", "time per output token", "$ per million output"):
        assert panel in page
    assert "does not fit in memory" in page  # batch 512 on one H100


def test_perf_report_without_a_sweep_says_how_to_get_one(data: dict[str, Any]) -> None:
    page = html.perf_report({**data["perf"], "sweep": []})
    assert "Add --sweep batch=" in page and "<svg" not in page


def test_compare_report_bars_with_deltas(reports: Mapping[str, str]) -> None:
    page = reports["compare"]
    labels = chart_labels(page)
    assert len(labels) == 2
    assert "key figures (baseline api-wrapper-gpt4o)" in labels[0]
    assert re.search(r"[+-]\d+\.\d%", page)  # the deltas are written on the bars


def test_check_report_results_and_changes(reports: Mapping[str, str]) -> None:
    page = reports["check"]
    assert parse(page).h2[:2] == ["verdict", "checks"]
    assert chart_labels(page) == ["checks per scenario", "largest changes from the baseline"]
    assert "-11.1%" in page


def test_sweep_report_one_chart_per_metric(reports: Mapping[str, str]) -> None:
    labels = chart_labels(reports["sweep"])
    assert labels == [
        "api-wrapper-gpt4o: pnl.gross_margin_pct against pricing.plans.pro.price_usd_per_month",
        "api-wrapper-gpt4o: pnl.operating_margin_usd against pricing.plans.pro.price_usd_per_month",
    ]
    assert "workload.users.pro.users = 20000" in reports["sweep"]  # a line per user count


def test_montecarlo_report_ranges_fans_and_histograms(reports: Mapping[str, str]) -> None:
    labels = chart_labels(reports["montecarlo"])
    assert labels[0].startswith("wrapper-uncertain: key outputs, median and 5-95% range")
    assert "wrapper-uncertain: months.cumulative_cash_usd over months" in labels
    assert "wrapper-uncertain: pnl.operating_margin_usd over 16 samples" in labels


def test_empty_results_give_notes_not_errors() -> None:
    assert "The sweep has no points." in html.sweep_report({"scenario": "x", "points": []})
    page = html.montecarlo_report({"samples": 1, "outputs": {}})
    html5lib.HTMLParser(strict=True).parse(page)
    page = html.compare_report({"runs": [], "comparison": {}})
    html5lib.HTMLParser(strict=True).parse(page)


def test_same_input_gives_byte_identical_html(data: dict[str, Any]) -> None:
    run = {**data["run"], "runs": data["run"]["runs"][:1], "comparison": None}
    first = html.run_report(run, RUN_TABLES, "name: x\n")
    assert html.run_report(copy.deepcopy(run), RUN_TABLES, "name: x\n") == first


def test_charts_are_deterministic_svg() -> None:
    steps = [("revenue", 100.0, "total"), ("GPUs", -30.0, "delta"), ("margin", 70.0, "total")]
    svg = charts.waterfall("w", steps)
    assert charts.waterfall("w", steps) == svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert re.search(r"\d{4}-\d\d-\d\d", svg) is None  # no date


def test_scope_ids_renames_ids_and_references() -> None:
    svg = '<svg><clipPath id="p1"/><use xlink:href="#m1"/><path clip-path="url(#p1)"/></svg>'
    scoped = html.scope_ids(svg, "c2-")
    assert 'id="c2-p1"' in scoped and 'href="#c2-m1"' in scoped and "url(#c2-p1)" in scoped


def test_text_is_escaped() -> None:
    table = DataTable("<b>t</b>", ["a&b"], [["<script>"]])
    page = html.render_html("x < y", [sections.Section("s & t", tables=[table])], "k: <v>", "1")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<h1>x &lt; y</h1>" in page and "k: &lt;v&gt;" in page


def test_scenario_yaml_round_trips() -> None:
    loaded = load_scenario(Path(WRAPPER), None, catalog=load_builtin())
    text = sections.scenario_yaml(loaded.scenario)
    assert yaml.safe_load(text)["name"] == "api-wrapper-gpt4o"


def test_without_matplotlib_says_which_extra(
    monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(charts.ReportExtraMissingError) as caught:
        html.run_report(data["run"])
    assert isinstance(caught.value, InfersimError)  # the CLI prints it on one line, exit 2
    assert str(caught.value) == (
        "--format html needs the 'report' extra: pip install 'infersim[report]'"
    )
    for report in (html.perf_report, html.check_report, html.sweep_report):
        with pytest.raises(charts.ReportExtraMissingError):
            report({})


def test_sensitivity_report_draws_a_tornado_per_metric(
    data: dict[str, Any], reports: dict[str, str]
) -> None:
    page = reports["sensitivity"]
    tornados = data["sensitivity"]["tornados"]
    assert page.count('aria-label="') >= len(tornados)
    for tornado in tornados:
        assert f"tornado of {tornado['metric']}" in page
        for bar in tornado["inputs"]:
            assert escape(bar["input"]) in page  # every input the table ranks is drawn


def test_breakeven_report_marks_the_value_the_table_gives(
    data: dict[str, Any], reports: dict[str, str]
) -> None:
    page = unescape(reports["breakeven"])
    value = data["breakeven"]["value"]
    assert f"breakeven {value + 0.0:,.6g}" in page  # as the table writes it
    assert f"Each point is one run of the search ({len(EVALUATIONS)})" in page


def test_perf_report_gives_the_command_to_reproduce(reports: dict[str, str]) -> None:
    assert f"<pre><code>{escape(PERF_COMMAND)}</code></pre>" in reports["perf"]


def test_perf_html_from_the_cli_reproduces_with_its_own_options() -> None:
    args = ["perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--batch", "8"]
    result = CliRunner().invoke(app, [*args, "-f", "html"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    command = unescape(result.stdout.split("<pre><code>")[1].split("</code></pre>")[0])
    assert command.startswith("infersim perf --model llama-3.1-8b --gpu h100-sxm --tp 1")
    assert "--batch 8" in command
    again = CliRunner().invoke(app, [*command.split()[1:], "-f", "json"])
    first = CliRunner().invoke(app, [*args, "-f", "json"])
    assert again.exit_code == 0 and again.stdout == first.stdout  # the same figures


def test_run_samples_html_has_the_monte_carlo_fan_charts(tmp_path: Path) -> None:
    scenario = tmp_path / "uncertain.yaml"
    scenario.write_text(UNCERTAIN, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", str(scenario), "--samples", "8", "-f", "html"], env={"NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    labels = re.findall(r'<svg[^>]* aria-label="([^"]*)"', result.stdout)
    assert "wrapper-uncertain: months.cumulative_cash_usd over months" in labels
    assert any("5-95% range over 8 samples" in label for label in labels)
