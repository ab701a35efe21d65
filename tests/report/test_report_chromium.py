"""The HTML reports render in a real browser: headless Chromium draws every chart at a
non-zero size, logs nothing to the console, and leaves a screenshot per report as an artifact
(in `$INFERSIM_ARTIFACTS/report/` when set, else in pytest's temporary directory).

How: each report gets two tiny inline scripts (the report itself has none, and its CSP
forbids them, so the test allows inline scripts in its copy): one in <head> collects errors,
one at the end of <body> writes every chart's `getBoundingClientRect()` and those errors into
<pre id="render-check">, which `--dump-dom` returns. Chromium's console goes to stderr
(`--enable-logging=stderr`), where any line is a failure. One launch per report both dumps
the DOM and takes the screenshot; up to four run at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from test_report_html import data as data  # the same fixture: each command's JSON

from infersim.report import html

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no headless Chromium at /usr/bin/chromium (Debian package 'chromium'; "
    ".ci/run installs it)",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
TIMEOUT_S = 60
WINDOW = "--window-size=1280,2000"
HEAD_SCRIPT = """<script>
window.renderErrors = [];
window.addEventListener("error", function (e) {
  window.renderErrors.push(String(e.message || (e.target && e.target.outerHTML) || e.type));
}, true);
document.addEventListener("securitypolicyviolation", function (e) {
  window.renderErrors.push("CSP blocked " + e.blockedURI);
});
</script>"""
BODY_SCRIPT = """<pre id="render-check"></pre>
<script>
(function () {
  var charts = [];
  document.querySelectorAll("svg").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    charts.push({label: svg.getAttribute("aria-label"), width: box.width, height: box.height,
                 shapes: svg.querySelectorAll("path, text, use").length});
  });
  var tables = [];
  var main = document.querySelector("main").getBoundingClientRect();
  document.querySelectorAll("table").forEach(function (table) {
    var caption = table.querySelector("caption");
    tables.push({caption: caption ? caption.textContent : "",
                 right: table.getBoundingClientRect().right, limit: main.right});
  });
  document.getElementById("render-check").textContent =
    JSON.stringify({charts: charts, tables: tables, errors: window.renderErrors});
})();
</script>"""


@dataclass(frozen=True)
class Rendered:
    page: str
    dom: str
    console: list[str]
    screenshot: Path


def instrument(page: str) -> str:
    """The report with the two checking scripts (and inline scripts allowed)."""
    assert page.count("script-src 'none'") == 1
    page = page.replace("script-src 'none'", "script-src 'unsafe-inline'")
    page = page.replace("</head>", HEAD_SCRIPT + "\n</head>", 1)
    return page.replace("</body>", BODY_SCRIPT + "\n</body>", 1)


def chromium(args: list[str], profile: Path) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("INFERSIM_ARTIFACTS")
    if not root:
        return tmp_path_factory.mktemp("report-artifacts")
    path = Path(root) / "report"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def rendered(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every command's report through Chromium: the DOM after scripts, and a screenshot."""
    run = {**data["run"], "runs": data["run"]["runs"][:1], "comparison": None}
    pages = {
        "run": html.run_report(run, [], "name: api-wrapper-gpt4o\n"),
        "perf": html.perf_report(data["perf"]),
        "compare": html.compare_report(data["compare"]),
        "check": html.check_report(data["check"]),
        "sweep": html.sweep_report(data["sweep"]),
        "montecarlo": html.montecarlo_report(data["montecarlo"], label="wrapper-uncertain"),
        "sensitivity": html.sensitivity_report(data["sensitivity"]),
        "breakeven": html.breakeven_report(
            data["breakeven"], evaluations=((1.0, -300.0), (200.0, 80.0), (45.5, 50.0))
        ),
    }
    work = tmp_path_factory.mktemp("chromium")
    out = artifacts_dir(tmp_path_factory)

    def load(name: str) -> Rendered:
        checked = work / f"{name}.html"
        checked.write_text(instrument(pages[name]), encoding="utf-8")
        (out / f"report-{name}.html").write_text(pages[name], encoding="utf-8")
        shot = out / f"report-{name}.png"
        shot.unlink(missing_ok=True)
        profile = work / f"profile-{name}"
        # one launch dumps the DOM and takes the screenshot (a second one where it did not)
        args = ["--dump-dom", f"--screenshot={shot}", WINDOW, checked.as_uri()]
        code, dom, log = chromium(args, profile)
        assert code == 0, f"chromium failed on the {name} report:\n{log[-2000:]}"
        if not shot.exists():
            code, _, more = chromium([f"--screenshot={shot}", WINDOW, checked.as_uri()], profile)
            assert code == 0, f"chromium took no screenshot of the {name} report:\n{more[-2000:]}"
        console = [line for line in log.splitlines() if re.search(r":CONSOLE[:(]", line)]
        return Rendered(pages[name], dom, console, shot)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(pages, pool.map(load, pages), strict=True))


def render_check(dom: str) -> dict[str, Any]:
    match = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert match is not None and match.group(1), "the checking script did not run"
    result: dict[str, Any] = json.loads(unescape(match.group(1)))
    return result


COMMANDS = ["run", "perf", "compare", "check", "sweep", "montecarlo", "sensitivity", "breakeven"]


@pytest.mark.parametrize("command", COMMANDS)
def test_charts_are_in_the_rendered_dom(rendered: Mapping[str, Rendered], command: str) -> None:
    report = rendered[command]
    expected = [unescape(x) for x in re.findall(r'<svg[^>]* aria-label="([^"]*)"', report.page)]
    assert expected
    found = [unescape(x) for x in re.findall(r'<svg[^>]* aria-label="([^"]*)"', report.dom)]
    assert found == expected


@pytest.mark.parametrize("command", COMMANDS)
def test_every_chart_has_a_size_and_shapes(rendered: Mapping[str, Rendered], command: str) -> None:
    check = render_check(rendered[command].dom)
    assert len(check["charts"]) == rendered[command].page.count("<svg")
    for chart in check["charts"]:
        assert chart["width"] > 400, chart  # the chart fills the column of a 1280 px window
        assert chart["height"] > 100, chart
        assert chart["shapes"] > 10, chart


@pytest.mark.parametrize("command", COMMANDS)
def test_no_errors_and_no_console_output(rendered: Mapping[str, Rendered], command: str) -> None:
    report = rendered[command]
    assert render_check(report.dom)["errors"] == []
    assert report.console == []


@pytest.mark.parametrize("command", COMMANDS)
def test_screenshot_is_saved(rendered: Mapping[str, Rendered], command: str) -> None:
    shot = rendered[command].screenshot
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # charts and text, not a blank page


@pytest.mark.parametrize("command", COMMANDS)
def test_tables_fit_the_page(rendered: Mapping[str, Rendered], command: str) -> None:
    """At 1280 px no table runs past the page's column (none scrolls sideways)."""
    for table in render_check(rendered[command].dom)["tables"]:
        assert table["right"] <= table["limit"] + 0.5, table
