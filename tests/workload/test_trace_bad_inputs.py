"""Every trace, prefix-cache and trace-command field or flag refuses a wrong value: one line
per problem naming the file, line and field, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infersim.cli.app import app

TRACE = "timestamp_s,prompt_tokens,output_tokens,class\n0,100,10,a\n1.5,200,20,b\n"


def scenario(tmp_path: Path, dotted: str, value: object) -> Path:
    (tmp_path / "t.csv").write_text(TRACE, encoding="utf-8")
    data: dict[str, Any] = {
        "name": "bad",
        "deployments": {"main": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "replicas": 2}},
        "workload": {"classes": {"chat": {"arrival": {"process": "trace", "path": "t.csv"}}}},
        "horizon": {"simulated_s": 60},
    }
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


ARRIVAL = "workload.classes.chat.arrival"
CACHING = "deployments.main.prefix_caching"


@pytest.mark.parametrize(
    ("dotted", "value", "fragment"),
    [
        (f"{ARRIVAL}.sample_share", 1.5, "sample_share"),
        (f"{ARRIVAL}.sample_share", 0, "sample_share"),
        (f"{ARRIVAL}.start_s", -1, "start_s"),
        (f"{ARRIVAL}.duration_s", 0, "duration_s"),
        (f"{ARRIVAL}.rate_scale", 0, "rate_scale"),
        (f"{ARRIVAL}.target_rate_per_s", -2, "target_rate_per_s"),
        (f"{ARRIVAL}.loop", "sometimes", "loop"),
        (f"{ARRIVAL}.format", "parquet", "format"),
        (f"{ARRIVAL}.hash_block_tokens", 0, "hash_block_tokens"),
        (f"{ARRIVAL}.columns", {"timestamp": "t"}, "prompt_tokens"),
        (
            f"{ARRIVAL}.columns",
            {
                "timestamp": "timestamp_s",
                "prompt_tokens": "prompt_tokens",
                "output_tokens": "output_tokens",
                "timestamp_unit": "h",
            },
            "timestamp_unit",
        ),
        (f"{ARRIVAL}.label", "c", "no row has label 'c'"),
        (f"{ARRIVAL}.path", "../t.csv", "outside the scenario's directory tree"),
        ("workload.classes.chat.output_tokens", {"dist": "fixed", "tokens": 5}, "not used"),
        (f"{CACHING}", {"cached_share": 0.1, "hbm_capacity_tokens": 0}, "hbm_capacity_tokens"),
        (
            f"{CACHING}",
            {
                "cached_share": 0.1,
                "tiers": [{"name": "", "capacity_gib": 1, "bandwidth_gb_per_s": 1}],
            },
            "name",
        ),
        (
            f"{CACHING}",
            {
                "cached_share": 0.1,
                "tiers": [{"name": "ssd", "capacity_gib": 0, "bandwidth_gb_per_s": 1}],
            },
            "capacity_gib",
        ),
        ("fleet.load_balancer", "prefix", "load_balancer"),
    ],
)
def test_bad_trace_and_cache_fields_are_one_line_exit_2(
    tmp_path: Path, dotted: str, value: object, fragment: str
) -> None:
    path = scenario(tmp_path, dotted, value)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stdout.strip().splitlines()
    assert lines and "Traceback" not in result.output
    assert fragment in lines[0], lines


def test_the_trace_scenario_itself_is_valid(tmp_path: Path) -> None:
    path = scenario(tmp_path, f"{ARRIVAL}.label", "a")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("stats", "{trace}", "--trace-format", "parquet"), "--trace-format"),
        (("stats", "{trace}", "--block-tokens", "0"), "--block-tokens"),
        (("stats", "{trace}", "--format", "html"), "html"),
        (("stats", "{missing}"), "file not found"),
        (("fit", "{trace}", "--lengths", "normal", "-o", "{out}"), "--lengths"),
        (("fit", "{trace}"), "--output"),
    ],
)
def test_bad_trace_command_flags_are_one_line_exit_2(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE, encoding="utf-8")
    names = {"trace": str(trace), "missing": str(tmp_path / "none.csv"),
             "out": str(tmp_path / "c.yaml")}  # fmt: skip
    result = CliRunner().invoke(app, ["trace", *(a.format(**names) for a in args)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert fragment in result.output
    assert not (tmp_path / "c.yaml").exists()
