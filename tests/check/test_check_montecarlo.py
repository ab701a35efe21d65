"""Probabilistic expectations run on Monte Carlo samples of the scenario's distributions."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app

SCENARIO = """\
name: prob
deployments:
  api: {{kind: api, input_usd_per_mtok: 2.5, output_usd_per_mtok: {{low: 8, high: 30}}}}
workload:
  users:
    u: {{plan: pro, users: 1000, requests_per_user_per_month: {{dist: lognormal, median: 100,
        sigma: 0.5}}, prompt_tokens_per_request: 1000, output_tokens_per_request: 400}}
pricing: {{plans: {{pro: {{price_usd_per_month: {price}}}}}}}
expect:
  - {{metric: margins.pro.gross_margin_pct, min: 0, max_probability: {allowed}}}
"""


@pytest.mark.parametrize(
    ("price", "allowed", "code"),
    [
        (20, 0.05, 0),  # the margin is positive in every draw
        (0.5, 0.05, 1),  # at $0.50 most draws lose money
        (0.5, 1.0, 0),  # ... which is allowed when any share may
    ],
)
def test_probability_of_breaking_a_bound_comes_from_samples(
    tmp_path: Path, price: float, allowed: float, code: int
) -> None:
    path = tmp_path / "prob.yaml"
    path.write_text(SCENARIO.format(price=price, allowed=allowed), encoding="utf-8")
    result = CliRunner().invoke(app, ["--quiet", "check", str(path), "-f", "json"])
    assert result.exit_code == code, result.output
    assert '"samples": 200' in result.stdout
