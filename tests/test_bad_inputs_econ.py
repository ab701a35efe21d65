"""Capacity commitments, energy, the value chain and reporting windows refuse a wrong value:
one line per problem naming the file and field, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app
from test_bad_inputs import broken


@pytest.mark.parametrize(
    ("dotted", "value", "fragment"),
    [
        (
            "costs.gpu",
            {"kind": "rented", "reserved": {"gpus": 0}},
            "costs.gpu.reserved.gpus",
        ),
        (
            "costs.gpu",
            {"kind": "rented", "reserved": {"gpus": 2, "discount": 0.3, "usd_per_gpu_hour": 2}},
            "not both",
        ),
        ("costs.gpu", {"kind": "rented", "reserved": {"gpus": 2, "term_years": 2}}, "term_years"),
        (
            "costs.gpu",
            {"kind": "rented", "pricing": "spot", "reserved": {"gpus": 2}},
            "must be 'on_demand', got 'spot'",
        ),
        (
            "costs.gpu",
            {"kind": "rented", "spot": {"share": 1.5, "interruptions_per_gpu_hour": 0.1}},
            "costs.gpu.spot.share",
        ),
        (
            "costs.gpu",
            {"kind": "rented", "spot": {"share": 0.5}},
            "interruptions_per_gpu_hour",
        ),
        ("costs.gpu", {"kind": "owned", "reserved": {"gpus": 2}}, "reserved"),
        # spot: a rate per GPU-hour in [0, 1], a positive lag, only on rented GPUs
        (
            "costs.gpu",
            {"kind": "rented", "spot": {"share": 0.5, "interruptions_per_gpu_hour": -0.1}},
            "costs.gpu.spot.interruptions_per_gpu_hour",
        ),
        (
            "costs.gpu",
            {"kind": "rented", "spot": {"share": 0.5, "interruptions_per_gpu_hour": 2}},
            "costs.gpu.spot.interruptions_per_gpu_hour",
        ),
        (
            "costs.gpu",
            {
                "kind": "rented",
                "spot": {"share": 0.5, "interruptions_per_gpu_hour": 0.1, "replacement_lag_s": 0},
            },
            "costs.gpu.spot.replacement_lag_s",
        ),
        (
            "costs.gpu",
            {"kind": "owned", "spot": {"share": 0.5, "interruptions_per_gpu_hour": 0.1}},
            "spot",
        ),
        (
            "costs.gpu",
            {"kind": "rented", "reserved": {"gpus": 2, "term_years": 3}},
            "h100-sxm has no 3-year reserved rental quote",
        ),
        ("costs.energy", {"grid": "mars"}, "unknown grid region 'mars'"),
        ("costs.energy", {"grid": "us", "gco2e_per_kwh": 300}, "not both"),
        ("costs.energy", {"pue": 0.8}, "costs.energy.pue"),
        ("costs.value_chain", {"gpu_vendor_gross_margin": 1.2}, "gpu_vendor_gross_margin"),
        ("costs.value_chain", {}, "gpu_vendor_gross_margin"),
        # batch tiers: a discount is a fraction, and only API deployments and products have one
        ("deployments.main.batch_discount", 0.5, "deployments.main"),
        (
            "deployments.gpt",
            {"kind": "api", "list_price": "openai:gpt-4o", "batch_discount": -0.1},
            "deployments.gpt.batch_discount",
        ),
        (
            "pricing.api.a",
            {"deployment": "main", "list_price": "article:gpt-4o", "batch_discount": 2},
            "pricing.api.a.batch_discount",
        ),
        ("workload.classes.chat.batch_api", "maybe", "workload.classes.chat.batch_api"),
    ],
)
def test_bad_econ_fields_are_one_line_exit_2(
    tmp_path: Path, dotted: str, value: object, fragment: str
) -> None:
    path = broken(tmp_path, dotted, value)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stdout.strip().splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines)
    assert fragment in result.stdout and "Traceback" not in result.output


@pytest.mark.parametrize("window", ["fortnight", "0h", "90d"])
def test_bad_window_is_one_line_exit_2(tmp_path: Path, window: str) -> None:
    out = tmp_path / "out.json"
    path = broken(tmp_path, "horizon.simulated_s", 60)
    result = CliRunner().invoke(
        app, ["run", str(path), "--window", window, "-f", "json", "-o", str(out)]
    )
    assert result.exit_code == 2
    assert "--window" in result.output and "hour, day, week, month" in result.output
    assert "Traceback" not in result.output and not out.exists()
