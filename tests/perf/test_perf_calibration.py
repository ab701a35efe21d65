"""Calibration: predictions against the published TensorRT-LLM max-throughput figures.

The default efficiencies were fitted on CALIBRATION (public-figures.md): each prediction must
be within +-25%. VALIDATION holds other rows of the same tables, not used in the fit: they
must be within +-40% (long prompts on a small batch are the known weak spot, ~+35%)."""

from __future__ import annotations

import pytest
from perf_fixtures import fixture_catalog

from infersim.catalog.load import load_builtin
from infersim.perf import build_perf_model, steady_state_throughput
from infersim.perf.calibration import (
    CALIBRATION,
    VALIDATION,
    CalibrationPoint,
    calibration_deployment,
)

CATALOG = fixture_catalog()  # shipped entries override the fixtures of the same id


def predicted(point: CalibrationPoint) -> float:
    perf = build_perf_model(calibration_deployment(point), CATALOG)
    throughput = steady_state_throughput(perf, point.prompt_tokens, point.output_tokens)
    return throughput.output_tokens_per_s


@pytest.mark.parametrize("point", CALIBRATION, ids=lambda p: p.label)
def test_calibration_point_within_25_percent(point: CalibrationPoint) -> None:
    error = predicted(point) / point.output_tokens_per_s - 1
    assert abs(error) <= 0.25, f"{point.label}: {error:+.1%}"


@pytest.mark.parametrize("point", VALIDATION, ids=lambda p: p.label)
def test_out_of_sample_point_within_40_percent(point: CalibrationPoint) -> None:
    error = predicted(point) / point.output_tokens_per_s - 1
    assert abs(error) <= 0.40, f"{point.label}: {error:+.1%}"


def test_calibration_uses_the_shipped_catalog_where_it_has_the_entries() -> None:
    shipped = load_builtin()
    for point in CALIBRATION:
        if point.model in shipped.models:
            assert CATALOG.model(point.model) == shipped.model(point.model)
        if point.gpu in shipped.gpus:
            assert CATALOG.gpu(point.gpu) == shipped.gpu(point.gpu)
