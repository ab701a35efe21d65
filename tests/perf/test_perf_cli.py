"""`infersim perf`: tables and JSON from flags or a scenario, one-line errors with exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infersim.catalog.load import load_builtin
from infersim.cli.app import app
from infersim.perf import build_perf_model, steady_state_throughput
from infersim.scenario.deployment import SelfHosted

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CHAT = str(CONFIGS / "chat-70b-h100.yaml")
FLAGS = ("perf", "--model", "llama-3.3-70b", "--gpu", "h100-sxm", "--tp", "2", "--weights", "fp8")


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def as_json(runner: CliRunner, *args: str) -> Any:
    code, out, err = invoke(runner, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_table_shows_memory_iterations_and_throughput(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, *FLAGS)
    assert code == 0
    for fragment in ("memory", "weights GB", "fits", "iterations", "bound", "tok/s GPU"):
        assert fragment in out
    assert "$/Mtok out" in out


def test_json_matches_the_performance_model(runner: CliRunner) -> None:
    data = as_json(runner, *FLAGS, "--usd-per-gpu-hour", "3", "--kv", "fp8")
    deployment = SelfHosted.model_validate(
        {
            "model": "llama-3.3-70b",
            "gpu": "h100-sxm",
            "tensor_parallel": 2,
            "precision": {"weights": "fp8", "kv_cache": "fp8", "activations": "fp8"},
        }
    )
    perf = build_perf_model(deployment, load_builtin())
    point = steady_state_throughput(perf, 1000, 1000)
    best = data["throughput"][0]
    assert best["output_tokens_per_s"] == pytest.approx(point.output_tokens_per_s)
    assert best["usd_per_mtok_output"] == pytest.approx(point.usd_per_mtok(3.0))
    assert data["memory"]["weight_bytes_per_gpu"] == pytest.approx(perf.weight_bytes_per_gpu)
    assert data["deployment"]["gpus_per_replica"] == 2
    assert {row["bound"] for row in data["iterations"]} <= {
        "compute",
        "memory",
        "communication",
        "overhead",
    }


def test_default_activations_follow_the_weight_format(runner: CliRunner) -> None:
    fp8 = as_json(runner, *FLAGS)
    explicit_bf16 = as_json(runner, *FLAGS, "--activations", "bf16")
    prefill = fp8["iterations"][0]["total_s"]
    assert explicit_bf16["iterations"][0]["total_s"] > 1.5 * prefill


def test_sweep_shows_the_knee(runner: CliRunner) -> None:
    data = as_json(runner, *FLAGS, "--sweep", "batch=1,8,32,128,512")
    rows = data["sweep"]
    assert [r["batch_sequences"] for r in rows] == [1, 8, 32, 128, 512]
    tokens = [r["output_tokens_per_s"] for r in rows]
    latency = [r["time_per_output_token_s"] for r in rows]
    assert tokens[1] > 6 * tokens[0]  # memory-bound: batching is nearly free
    assert tokens[4] < 1.5 * tokens[3]  # past the knee: little more throughput
    assert latency == sorted(latency)
    assert rows[-1]["fits"] is False


def test_requested_batch_comes_first(runner: CliRunner) -> None:
    data = as_json(runner, *FLAGS, "--batch", "16")
    assert data["throughput"][0]["batch_sequences"] == 16
    assert data["throughput"][0]["limited_by"] == "requested"
    assert data["throughput"][1]["limited_by"] == "kv_cache"


def test_scenario_deployment_and_variant(runner: CliRunner) -> None:
    base = as_json(runner, "perf", "--scenario", CHAT)
    assert base["deployment"]["model"] == "llama-3.1-70b"
    assert base["deployment"]["gpus_per_replica"] == 2
    h200 = as_json(runner, "perf", "--scenario", CHAT, "--deployment", "main", "--variant", "h200")
    assert h200["deployment"]["gpu"] == "h200-sxm"
    assert h200["deployment"]["gpus_per_replica"] == 1


def test_speculative_deployment_shows_the_fade_against_plain_decoding(runner: CliRunner) -> None:
    s8 = str(CONFIGS / "levers" / "s8-speculative.yaml")
    data = as_json(runner, "perf", "--scenario", s8, "--prompt-tokens", "800",
                   "--output-tokens", "600")  # fmt: skip
    spec = data["speculative"]
    assert spec["context_tokens"] == 1100
    assert spec["break_even_batch"] == 73
    speedups = [p["speedup"] for p in spec["points"]]
    assert speedups[0] == pytest.approx(2.15, abs=0.01)
    assert speedups[-1] < 1.0
    for p in spec["points"]:
        ratio = p["plain_step_s"] * p["tokens_per_step"] / p["speculative_step_s"]
        assert p["speedup"] == pytest.approx(ratio, rel=1e-12)
    swept = as_json(runner, "perf", "--scenario", s8, "--sweep", "batch=1,64")
    assert [p["batch_sequences"] for p in swept["speculative"]["points"]] == [1, 64]
    code, out, _ = invoke(runner, "perf", "--scenario", s8)
    assert code == 0 and "break-even at batch" in out
    assert as_json(runner, *FLAGS)["speculative"] is None


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_other_formats(runner: CliRunner, fmt: str) -> None:
    code, out, _ = invoke(runner, *FLAGS, "--format", fmt)
    assert code == 0
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        header = next(r for r in rows if r and r[0] == "batch")
        assert header[:3] == ["batch", "tok/s replica", "tok/s GPU"]
    else:
        assert "| iteration | tokens |" in out


def test_output_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "perf.json"
    code, out, _ = invoke(runner, *FLAGS, "--format", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["schema_version"] == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("perf", "--model", "lama-3.1-8b", "--gpu", "h100-sxm"), "did you mean 'llama-3.1-8b'"),
        (("perf", "--model", "llama-3.1-8b", "--gpu", "h100"), "did you mean 'h100-sxm'"),
        (
            ("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--tp", "0"),
            "--tp must be >= 1",
        ),
        (("perf", "--model", "llama-3.1-405b", "--gpu", "h100-sxm", "--tp", "2"), "short by"),
        (("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--tp", "3"), "must divide"),
        (
            ("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--sweep", "tp=1,2"),
            "--sweep takes",
        ),
        (
            ("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--sweep", "batch=1,x"),
            "not a whole",
        ),
        (("perf", "--model", "llama-3.1-8b"), "give --model and --gpu"),
        (("perf", "--scenario", CHAT, "--model", "llama-3.1-8b"), "not both"),
        (("perf", "--scenario", CHAT, "--deployment", "nope"), "no deployment 'nope'"),
        (
            ("perf", "--scenario", str(CONFIGS / "api-wrapper-gpt4o.yaml")),
            "self-hosted deployments: none",
        ),
        (
            ("perf", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--prompt-tokens", "5000000"),
            "does not fit in the KV cache",
        ),
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
