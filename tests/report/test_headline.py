"""The headline (end of `run`, top of the HTML) and the charts say the same figures as the
tables: one figure, one source."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.report import charts
from infersim.report.formats import share
from infersim.report.headline import projection_words
from infersim.report.sections import run_sections

SMALL = str(Path(__file__).resolve().parents[1] / "scenarios" / "cli-small.yaml")
#: A figure in a headline: money, a percentage, a count.
FIGURE = re.compile(r"-?\$[\d,]+(?:\.\d+)?|-?[\d,]*\.?\d+%")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def default_run() -> str:
    return _invoke("run")


def test_every_headline_figure_is_in_the_tables(default_run: str) -> None:
    lines = default_run.rstrip("\n").splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith("margin: "))
    headline = " ".join(lines[at : at + 4])
    tables = "\n".join(line for line in lines[:at] if "│" in line)
    figures = FIGURE.findall(headline)
    assert len(figures) >= 5, headline  # margin, $ a month, revenue, cost/Mtok, price, load
    for figure in figures:
        cells = {c.strip() for line in tables.splitlines() for c in re.split(r"[│(]", line)}
        assert any(c == figure or c.startswith(figure + " ") for c in cells), (figure, headline)


def test_the_headline_says_the_verdict_in_words(default_run: str) -> None:
    verdict = next(line for line in default_run.splitlines() if line.startswith("verdict: "))
    assert "plus makes" in verdict and "gross margin" in verdict
    assert "of plus subscribers lose money" in verdict
    assert "of capacity" in default_run.split("verdict: ")[-1]


@pytest.mark.parametrize(
    ("margins", "words"),
    [
        ([5.0, 4.0, 3.0], "operating margin positive in all 3 months"),
        ([5.0] * 20 + [-1.0] * 4, "operating margin turns negative in month 21"),
        ([-5.0] * 6 + [1.0] * 6, "operating margin negative until month 6, then positive"),
        ([-1.0, -2.0], "operating margin negative in every one of 2 months"),
        ([1.0], None),
    ],
)
def test_projection_in_words(margins: list[float], words: str | None) -> None:
    assert projection_words(margins) == words


def _run_data(losing: float, users: float) -> dict[str, Any]:
    edges = [-60.0 + 4.0 * i for i in range(21)]
    counts = [users * 0.005] + [users * 0.001] * 13 + [users * 0.912 / 5] * 5 + [users * 0.07]
    return {
        "scenario": "s",
        "variant": None,
        "users": {
            "plus": {
                "users": users,
                "share_losing_money": losing,
                "histogram": {"edges_usd": edges, "users": counts},
            }
        },
    }


def test_the_histogram_counts_the_users_the_table_says_lose_money() -> None:
    pytest.importorskip("matplotlib")
    data = {"runs": [_run_data(0.0442, 1_000_000.0)]}
    sections = run_sections(data)
    chart = next(c for s in sections for c in s.charts if "margin per subscriber" in c.title)
    text = unescape(chart.svg)
    assert f"({share(0.0442)} lose money)" in chart.title  # the table's figure: 4.4%
    assert "44,200 (4.4%) lose money" in text  # the same users, not whole bins by midpoint
    # the tail: the first bin (0.5%) and the sparse ones after it, up to 2% of the users
    assert "<= -$4.00" in text


def test_histogram_tail_is_one_bin_wide() -> None:
    pytest.importorskip("matplotlib")
    edges = [-1000.0, *[float(x) for x in range(0, 21)]]
    counts = [5.0, *[100.0] * 20]
    svg = charts.histogram("t", edges, counts, mark=0.0)
    # the x axis spans about the bins and the tail drawn one bin wide, not -$1000
    assert "-$1,000" not in svg and "-$1k" not in svg


def test_the_html_report_leads_with_the_headline() -> None:
    pytest.importorskip("matplotlib")
    page = _invoke("run", SMALL, "-f", "html")
    table_text = _invoke("run", SMALL)
    cards = re.findall(r'<div class="value">([^<]+)</div>', page)
    assert cards and page.index('class="cards"') < page.index("<main>")
    headline = table_text.rstrip("\n").splitlines()[-3:]
    for card in cards:
        assert unescape(card) in " ".join(headline), card
    verdict = headline[-1].removeprefix("verdict: ")
    assert f"<strong>{verdict}.</strong>" in unescape(page)
