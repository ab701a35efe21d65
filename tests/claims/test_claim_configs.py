"""The claim scenarios in configs/claims/ are valid, every variant included."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.scenario.compose import load_document, variant_names
from infersim.scenario.load import load_scenario

CLAIMS = Path(__file__).resolve().parents[2] / "configs" / "claims"
FILES = sorted(CLAIMS.glob("*.yaml"))
HEADER = "# yaml-language-server: $schema=../../schema/scenario.schema.json"


def test_the_claim_scenarios_are_there() -> None:
    names = {path.name for path in FILES}
    assert {
        "s1-openai-2025.yaml",
        "s5-freemium-ads.yaml",
        "s5-subscription-heavy-tail.yaml",
    } <= names


def test_validate_accepts_every_claim_scenario(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", *map(str, FILES)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == ""  # problems go to stdout: none
    for path in FILES:
        assert f"{path}: ok" in result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_variant_loads_and_cites_its_claim(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert "Claim S" in text and "Assumption" in text
    for variant in [None, *variant_names(load_document(path))]:
        loaded = load_scenario(path, variant)
        assert loaded.scenario.variant == variant
