"""Every command's terminal output fits the terminal: rendered at 80, 120 and 200 columns, no
line is wider than the terminal and no figure is split across lines (every figure of the
tables, as a very wide terminal shows it, appears whole on one line)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.report.tables import (
    PIPE_WIDTH_BOUNDS,
    DataTable,
    is_figure,
    render_rich,
    terminal_width,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SMALL = str(SCENARIOS / "cli-small.yaml")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
WIDTHS = (80, 120, 200)
#: A terminal so wide that nothing wraps: the reference for the figures.
WIDE = 1000

COMMANDS: dict[str, list[str]] = {
    "run": ["run", SMALL],
    "run-all-variants": ["run", SMALL, "--all-variants"],
    "run-subscriptions": ["run", str(CONFIGS / "claims" / "s5-subscription-heavy-tail.yaml")],
    "compare": ["compare", SMALL, f"{SMALL}@h200"],
    "perf": ["perf", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--tp", "4"],
    "perf-sweep": [
        "perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--sweep", "batch=1,8,64",
    ],
    "sweep": ["sweep", SMALL, "--set", "deployments.main.replicas=1,2"],
    "sensitivity": [
        "sensitivity", SMALL, "-m", "pnl.gross_margin_pct",
        "--vary", "costs.gpu.usd_per_gpu_hour=2,4",
    ],
    "breakeven": [
        "breakeven", SMALL, "--vary", "costs.gpu.usd_per_gpu_hour", "--range", "1,10",
        "--target", "pnl.gpu_cost_usd=5000",
    ],
    "catalog-gpus": ["catalog", "gpus"],
    "catalog-models": ["catalog", "models"],
    "catalog-prices": ["catalog", "prices"],
}  # fmt: skip

_CELL_SPLIT = re.compile(r"[│┃|]")


def _invoke(args: list[str], width: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _figures(wide: str) -> set[str]:
    """The figures in the table cells of an output rendered with nothing wrapped."""
    found: set[str] = set()
    for line in wide.splitlines():
        if "│" not in line and "┃" not in line:
            continue
        for cell in _CELL_SPLIT.split(line):
            text = cell.strip()
            if is_figure(text):
                found.add(text)
    return found


@pytest.fixture(scope="module", params=sorted(COMMANDS))
def outputs(request: pytest.FixtureRequest) -> tuple[str, dict[int, str]]:
    args = COMMANDS[request.param]
    return request.param, {width: _invoke(args, width) for width in (*WIDTHS, WIDE)}


def test_no_line_exceeds_the_width(outputs: tuple[str, dict[int, str]]) -> None:
    name, by_width = outputs
    for width in WIDTHS:
        widest = max(by_width[width].splitlines(), key=len, default="")
        assert len(widest) <= width, (name, width, widest)


def test_no_figure_is_split(outputs: tuple[str, dict[int, str]]) -> None:
    name, by_width = outputs
    figures = _figures(by_width[WIDE])
    assert figures, name  # the check checks something
    for width in WIDTHS:
        lines = by_width[width].splitlines()
        split = sorted(f for f in figures if not any(f in line for line in lines))
        assert not split, (name, width, split[:5])


def test_the_run_ends_with_a_three_line_headline() -> None:
    out = _invoke(["run", SMALL], 200)
    tail = out.rstrip("\n").splitlines()[-4:]
    assert tail[0] == "cli-small:"
    assert [line.split(":")[0] for line in tail[1:]] == ["margin", "cost", "verdict"]


def test_figures_are_right_aligned() -> None:
    table = DataTable("t", ["name", "revenue"], [["a", "$1"], ["b", "$2,000,000"]])
    lines = [line for line in render_rich([table], 80).splitlines() if "$" in line]
    ends = {line.index("$1") + 2 for line in lines if "$1 " in line}
    ends |= {line.index("$2,000,000") + len("$2,000,000") for line in lines if "$2,000" in line}
    assert len(ends) == 1  # both figures end in the same column


def test_a_wide_table_is_turned_or_split_never_folded() -> None:
    columns = ["name", *(f"metric number {i}" for i in range(16))]
    rows = [[f"row{r}", *(f"{r * 1_000_000 + i:,}" for i in range(16))] for r in range(3)]
    out = render_rich([DataTable("wide", columns, rows)], 80)
    assert max(len(line) for line in out.splitlines()) <= 80
    for row in rows:
        for cell in row[1:]:
            assert any(cell in line for line in out.splitlines()), cell


def test_a_long_table_is_split_into_parts() -> None:
    columns = ["name", *(f"metric {i}" for i in range(12))]
    rows = [[f"row{r}", *(f"${r * 1_000_000 + i:,}" for i in range(12))] for r in range(10)]
    out = render_rich([DataTable("long", columns, rows)], 80)
    assert "long (1 of " in out and max(len(line) for line in out.splitlines()) <= 80
    assert out.count("row9") >= 2  # the key column repeats in every part


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("$2,000,000", True), ("99.6%", True), ("36.2 / 8,192", True),
        ("286.3 (246.7-325.3)", True), ("-$52", True), ("+6.5 pp", True), ("1,000", True),
        ("llama-3.1-70b", False), ("main", False), ("tp2 ep1", False), ("-", False),
    ],
)  # fmt: skip
def test_is_figure(text: str, figure: bool) -> None:
    assert is_figure(text) is figure


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_width_sources() -> None:
    assert terminal_width({"COLUMNS": "97"}, io.StringIO()) == 97
    # a pipe without COLUMNS: the terminal the command runs from, within the bounds, or 120
    width = terminal_width({}, io.StringIO())
    assert PIPE_WIDTH_BOUNDS[0] <= width <= PIPE_WIDTH_BOUNDS[1]
    assert terminal_width({"COLUMNS": "junk"}, io.StringIO()) == width
    assert terminal_width({}, _Tty()) >= 40  # Rich's detection on a terminal
