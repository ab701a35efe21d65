"""`infersim compare`: side-by-side tables and JSON, FILE@VARIANT, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.cli.compare import parse_spec

SMALL = str(Path(__file__).resolve().parents[1] / "scenarios" / "cli-small.yaml")


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def entry(area: list[dict[str, Any]], metric: str, group: str | None = None) -> dict[str, Any]:
    return next(e for e in area if e["metric"] == metric and e["group"] == group)


def test_parse_spec(tmp_path: Path) -> None:
    assert parse_spec("a.yaml") == (Path("a.yaml"), None)
    assert parse_spec("dir/a.yaml@h200") == (Path("dir/a.yaml"), "h200")
    odd = tmp_path / "a@b.yaml"
    odd.write_text("name: x\n", encoding="utf-8")
    assert parse_spec(str(odd)) == (odd, None)


def test_h200_against_h100_json(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "compare", SMALL, f"{SMALL}@h200", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert [r["variant"] for r in data["runs"]] == [None, "h200"]
    comparison = data["comparison"]
    assert comparison["baseline"] == "cli-small"
    assert comparison["runs"] == ["cli-small", "cli-small@h200"]
    areas = comparison["areas"]
    assert set(areas) == {"key_figures", "segments", "deployments"}
    for area in areas.values():
        for e in area:
            assert set(e) == {
                "group", "metric", "label", "unit", "better", "baseline", "compared",
            }  # fmt: skip
            (c,) = e["compared"]
            assert set(c) == {"run", "value", "delta", "delta_pct", "verdict"}
            assert c["verdict"] in {"better", "worse", "same", None}
    # the H200 rents for more an hour and decodes faster
    price = entry(areas["deployments"], "usd_per_gpu_hour", "main")
    assert price["better"] == "lower" and price["compared"][0]["verdict"] == "worse"
    assert price["compared"][0]["delta"] == pytest.approx(
        price["compared"][0]["value"] - price["baseline"], abs=0.011
    )
    assert price["compared"][0]["delta_pct"] == pytest.approx(
        100 * (price["compared"][0]["value"] / price["baseline"] - 1), abs=0.1
    )
    assert entry(areas["deployments"], "tpot_p50_s", "main")["compared"][0]["verdict"] == "better"
    assert entry(areas["deployments"], "e2e_p50_s", "main")["compared"][0]["verdict"] == "better"
    cost = entry(areas["key_figures"], "serving_cost_usd")
    assert cost["compared"][0]["verdict"] == "worse"
    margin = entry(areas["key_figures"], "gross_margin_usd")
    assert margin["better"] == "higher" and margin["compared"][0]["verdict"] == "worse"
    revenue = entry(areas["key_figures"], "revenue_usd")  # no pricing: a zero baseline
    assert revenue["compared"][0] == {
        "run": "cli-small@h200", "value": 0.0, "delta": 0.0, "delta_pct": None, "verdict": "same",
    }  # fmt: skip


def test_h200_against_h100_table(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "compare", SMALL, f"{SMALL}@h200")
    assert code == 0, err
    assert "cli-small vs cli-small@h200: key figures" in out
    assert "cli-small vs cli-small@h200: deployments" in out
    lines = out.splitlines()
    price = next(line for line in lines if "$/GPU-hour" in line)
    assert "worse" in price and "%)" in price
    tpot = next(line for line in lines if "TPOT p50 ms" in line)
    assert "better" in tpot


def test_a_file_against_itself_is_all_same(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "compare", SMALL, SMALL, "-f", "json")
    assert code == 0, err
    comparison = json.loads(out)["comparison"]
    assert comparison["runs"] == ["cli-small", "cli-small #2"]
    verdicts = [
        (e["metric"], c["verdict"], c["delta"])
        for area in comparison["areas"].values()
        for e in area
        for c in e["compared"]
        if e["baseline"] is not None
    ]
    assert verdicts and all(v == "same" and d == 0 for _, v, d in verdicts), verdicts


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("compare", SMALL, "missing.yaml"), "missing.yaml: file not found"),
        (("compare", SMALL, f"{SMALL}@h20"), "unknown variant 'h20' — did you mean 'h200'?"),
        (("compare", SMALL), "give two or more scenarios"),
        (("compare", SMALL, f"{SMALL}@"), "give FILE or FILE@VARIANT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, args: tuple[str, ...], fragment: str
) -> None:
    code, out, err = invoke(runner, *args)
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0]
