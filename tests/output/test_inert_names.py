"""Names are data, never markup: CSV cells cannot start a formula, Markdown names cannot open
HTML, code spans or @mentions, and the HTML report escapes every name."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT
from infersim.cli.app import app
from infersim.report.text_safety import csv_cell, markdown_code, markdown_text

PRICED = ROOT / "tests" / "check" / "data" / "priced.yaml"
XSS = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.4 pts", "'-12.4 pts"),
        ("-3.5", "-3.5"),
        ("-", "-"),
        ("+4.1%", "+4.1%"),
        ("plain", "plain"),
        (-3.5, -3.5),
    ],
)
def test_csv_cells_cannot_start_a_formula(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_markdown_escapes_html_code_pipes_and_mentions() -> None:
    text = markdown_text(f"{XSS} `x` a|b @octo/team \\")
    assert "<" not in text and "&lt;img" in text
    assert "\\`x\\`" in text and "a\\|b" in text and "&#64;octo/team" in text
    assert "@" not in text and text.endswith("\\\\")
    assert markdown_code("pnl.revenue_usd") == "`pnl.revenue_usd`"
    assert markdown_code("a`b") == "a\\`b"


def _catalog_dir(tmp_path: Path) -> Path:
    builtin = ROOT / "src" / "infersim" / "catalog" / "data" / "gpus.yaml"
    entry = yaml.safe_load(builtin.read_text(encoding="utf-8"))[0]
    entry["id"] = "evil-gpu"
    entry["name"] = '=HYPERLINK("http://evil","click")'
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "gpus.yaml").write_text(yaml.safe_dump([entry]), encoding="utf-8")
    return folder


def test_catalog_csv_neutralizes_a_formula_in_a_name(runner: CliRunner, tmp_path: Path) -> None:
    args = ["--catalog", str(_catalog_dir(tmp_path)), "catalog", "gpus", "-f", "csv"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    rows = {row[0]: row for row in csv.reader(io.StringIO(result.stdout))}
    assert rows["evil-gpu"][1] == "'" + '=HYPERLINK("http://evil","click")'
    for row in rows.values():
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row), row


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose scenario files have names that are markup, formulas and mentions,
    with a baseline recorded for them."""
    root = tmp_path_factory.mktemp("hostile")
    for name in (f"{XSS}.yaml", "=1+2.yaml", "@octo-team `x`.yaml"):
        shutil.copy(PRICED, root / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = CliRunner().invoke(app, ["-q", "baseline", ".", "-o", "b.json"])
    assert result.exit_code == 0, result.stderr
    return root


def _check(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["-q", "check", ".", "--compare-to", "b.json", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_check_csv_neutralizes_file_names(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _check(hostile, monkeypatch, "-f", "csv")
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    assert "'=1+2.yaml" in cells and "'@octo-team `x`.yaml" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_check_markdown_escapes_file_names(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _check(hostile, monkeypatch, "-f", "markdown")
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)>" in out
    assert "@octo" not in out and "&#64;octo-team \\`x\\`" in out


def test_check_html_is_the_report_with_every_name_escaped(
    hostile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(hostile)
    result = CliRunner().invoke(
        app, ["-q", "check", ".", "--compare-to", "b.json", "-f", "html", "-o", "r.html"]
    )
    assert result.exit_code == 0, result.stderr
    html = (hostile / "r.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<h1>infersim check: ok</h1>" in html
    assert "│" not in html  # not the terminal table


def test_check_json_keeps_names_as_written(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {s["key"] for s in json.loads(_check(hostile, monkeypatch, "-f", "json"))["scenarios"]}
    assert f"{XSS}.yaml" in keys and "=1+2.yaml" in keys
