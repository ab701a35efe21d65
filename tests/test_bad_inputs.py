"""Every newer scenario field and run flag refuses a wrong value: one line per problem,
naming the file, line and field, and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT
from infersim.cli.app import app

SMALL = ROOT / "tests" / "scenarios" / "cli-small.yaml"


def broken(tmp_path: Path, dotted: str, value: object) -> Path:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data.pop("variants")
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("dotted", "value", "fragment"),
    [
        ("horizon.start", "2026-13", "horizon.start"),
        ("fleet.replications", 0, "fleet.replications"),
        ("fleet.max_simulated_requests", 5, "fleet.max_simulated_requests"),
        ("fleet.warmup_share", 0.7, "fleet.warmup_share"),
        ("fleet.kv_transfer_gb_per_s", -1, "fleet.kv_transfer_gb_per_s"),
        ("deployments.main.quality", 1.5, "deployments.main.quality"),
        ("fleet.slo.attainment_target", 0, "fleet.slo.attainment_target"),
        ("fleet.slo.attainment_target", 1.5, "fleet.slo.attainment_target"),
        ("deployments.main.max_batch_sequences", 0, "deployments.main.max_batch_sequences"),
        ("deployments.main.max_batch_sequences", True, "deployments.main.max_batch_sequences"),
        ("deployments.main.redundant_experts", -1, "deployments.main.redundant_experts"),
        ("deployments.main.redundant_experts", 1.5, "deployments.main.redundant_experts"),
        ("deployments.main.redundant_experts", 8, "needs a mixture-of-experts model"),
        (
            "deployments.main.speculative",
            {"method": "ngram", "draft_tokens": 2, "acceptance_by_position": []},
            "deployments.main.speculative.acceptance_by_position",
        ),
        (
            "deployments.main.speculative",
            {"method": "ngram", "draft_tokens": 2, "acceptance_by_position": [0.5, "x"]},
            "deployments.main.speculative.acceptance_by_position.1",
        ),
        ("deployments.main.scheduler", {"policy": "fcfs"}, "deployments.main.scheduler.policy"),
        ("deployments.main.scheduler", {}, "deployments.main.scheduler.policy"),
        ("deployments.main.scheduler", {"policy": "prefill_first", "x": 1}, "scheduler.x"),
        (
            "deployments.main.scheduler",
            {"policy": "prefill_first", "batch_slowdown_max": 1.5},
            "deployments.main.scheduler.batch_slowdown_max",
        ),
        (
            "deployments.main.scheduler",
            {"policy": "prefill_first", "batch_slowdown_max": -0.01},
            "deployments.main.scheduler.batch_slowdown_max",
        ),
        (
            "deployments.main.scheduler",
            {"policy": "prefill_first", "batch_slowdown_max": "2%"},
            "deployments.main.scheduler.batch_slowdown_max",
        ),
        (
            "deployments.main.scheduler",
            {"policy": "chunked_decode_first", "batch_slowdown_max": 0.02},
            "serves no batch class (one with deadline_s), so it cannot take effect",
        ),
        ("workload.classes.chat.priority", 1.5, "workload.classes.chat.priority"),
        ("workload.classes.chat.priority", 5000, "workload.classes.chat.priority"),
        ("workload.classes.chat.priority", 2, "every request deployments.main serves ranks"),
        ("workload.classes.chat.deadline_s", 0, "workload.classes.chat.deadline_s"),
        (
            "workload.classes.chat.sessions",
            {"turns_per_session": 0, "think_time_s": 30},
            "workload.classes.chat.sessions.turns_per_session",
        ),
        (
            "workload.classes.chat.sessions",
            {"turns_per_session": 4, "think_time_s": "soon"},
            "workload.classes.chat.sessions.think_time_s",
        ),
        ("workload.classes.chat.deadline_s", "1 day", "workload.classes.chat.deadline_s"),
        (
            "routing",
            {"strategy": "difficulty", "order": ["main", "main"], "quality_target": 0.8},
            "needs deployments.main.quality",
        ),
        (
            "workload.classes.chat.arrival.rate_per_s",
            {"curve": "exponential", "start": 3, "factor_per_year": -1},
            "factor_per_year",
        ),
        (
            "workload.classes.chat.arrival.rate_per_s",
            {"dist": "lognormal", "p50": 3, "p90": 2},
            "p90 must exceed p50",
        ),
        ("workload.classes.chat.arrival.rate_per_s", {"low": 5, "high": 1}, "must be below high"),
    ],
)
def test_bad_field_values_are_one_line_exit_2(
    tmp_path: Path, dotted: str, value: object, fragment: str
) -> None:
    path = broken(tmp_path, dotted, value)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stdout.strip().splitlines()  # one line per problem
    assert lines and all(line.startswith(f"{path}:") for line in lines)
    assert fragment in lines[0] and "Traceback" not in result.output


def test_chunked_prefill_contradicting_the_scheduler_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data.pop("variants")
    data["deployments"]["main"]["chunked_prefill"] = True
    data["deployments"]["main"]["scheduler"] = {"policy": "prefill_first"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = result.stdout.strip().splitlines()[0]
    assert line.startswith(f"{path}:") and "deployments.main" in line
    assert "chunked_prefill true contradicts scheduler.policy prefill_first" in line


def test_a_deadline_on_api_traffic_without_a_batch_tier_is_refused(tmp_path: Path) -> None:
    """An API schedules its own requests: a deadline acts there only through a batch tier
    (see tests/economics/test_batch_tiers.py), and article:gpt-4o has one."""
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data.pop("variants")
    data["deployments"]["main"] = {"kind": "api", "list_price": "article:qwen3-max"}
    data.pop("fleet")
    data["workload"]["classes"]["chat"]["deadline_s"] = 86400
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = result.stdout.strip().splitlines()[0]
    assert "workload.classes.chat.deadline_s" in line and "only API deployments" in line
    data["deployments"]["main"]["list_price"] = "article:gpt-4o"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--samples", "0"), "--samples"),
        (("--samples", "5"), "no input is a distribution"),
        (("--samples", "5", "--jobs", "-1"), "--jobs"),
        (("--samples", "5", "--executor", "dask"), "--scheduler"),
    ],
)
def test_bad_run_flags_are_one_line_exit_2(args: tuple[str, ...], fragment: str) -> None:
    result = CliRunner().invoke(app, ["run", str(SMALL), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert fragment in result.output
