"""The levers section of `infersim run` (`infersim.report.levers`), and the lever scenario
files themselves: they start with the schema line, and every variant validates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from lever_fixtures import LEVERS, run
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.levers import self_hosting_breakeven
from infersim.report.levers import breakeven_json, lever_json, lever_tables
from infersim.report.tables import render_json, render_rich
from infersim.scenario.compose import load_document, variant_names
from infersim.scenario.load import load_scenario

FILES = sorted(LEVERS.glob("*.yaml"))


def test_there_is_a_scenario_per_lever_claim() -> None:
    assert [f.name for f in FILES] == [
        "s4-deepseek.yaml",
        "s7-moe-vs-dense.yaml",
        "s8-quantization.yaml",
        "s8-routing.yaml",
        "s8-speculative.yaml",
        "s9-local-vs-api.yaml",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_lever_scenario_and_variant_validates(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# yaml-language-server: $schema=../../schema/scenario.schema.json"
    assert lines[1].startswith("# Claim S"), "the second line cites the claim"
    for variant in [None, *variant_names(load_document(path))]:
        assert load_scenario(path, variant).scenario.variant == variant


def test_infersim_validate_accepts_the_lever_scenarios(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", *map(str, FILES)])
    assert result.exit_code == 0, result.output


def test_lever_json_gives_the_breakeven_of_a_self_hosted_and_an_api_deployment() -> None:
    data = lever_json(run("s9-local-vs-api"))
    assert data is not None
    (pair,) = data["breakeven"]
    assert pair["self_hosted"] == "mac" and pair["api"] == "api"
    assert pair["outcome"] == "wins_above"
    assert pair["fixed_usd_per_month"] == 265.05  # cents
    assert pair["breakeven_mtok_per_month"] == pytest.approx(68, rel=0.1)
    assert pair["verdict"].startswith("self-hosting wins above")
    assert json.loads(render_json(data)) == data  # plain JSON, stable


def test_the_scenarios_inline_catalog_entries_are_used() -> None:
    result = run("s9-local-vs-api", "mac-96gb")
    (pair,) = result.breakevens
    assert pair.self_hosted == "mac" and pair.gpus > 0


def test_no_levers_section_without_both_kinds_of_deployment() -> None:
    only_self_hosted = run("s8-quantization")
    assert lever_json(only_self_hosted) is None
    assert lever_tables(only_self_hosted, "s8-quantization") == []
    only_api = run("s8-routing", "split-90-10")
    assert lever_json(only_api) is None


def test_lever_tables_render_one_row_per_pair() -> None:
    tables = lever_tables(run("s4-deepseek"), "s4-deepseek")
    (table,) = tables
    assert table.title == "s4-deepseek: self-hosting vs API"
    assert [row[1] for row in table.rows] == ["gpt-4o", "claude-sonnet-4", "deepseek-api"]
    assert all(len(row) == len(table.columns) for row in table.rows)
    text = render_rich(tables, width=240)
    assert "self-hosting wins above" in text
    assert "breakeven = fixed / (api - marginal)" in text


def test_a_deployment_that_serves_nothing_has_no_finite_marginal_cost_in_json() -> None:
    b = self_hosting_breakeven(
        "x",
        "api",
        gpus=1,
        gpus_per_replica=1,
        fixed_usd_per_gpu_hour=1.0,
        busy_extra_usd_per_gpu_hour=0.0,
        replica_tokens_per_s=0.0,
        api_usd_per_mtok=1.0,
    )
    assert math.isinf(b.marginal_usd_per_mtok)
    data = breakeven_json(b)
    assert data["marginal_usd_per_mtok"] is None
    assert data["breakeven_mtok_per_month"] is None
    assert data["outcome"] == "never"
    render_json(data)  # no inf or nan reaches JSON
