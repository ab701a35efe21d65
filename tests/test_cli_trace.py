"""`infersim trace stats` and `infersim trace fit`: figures of the shipped traces, a fitted
class that `run` accepts, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infersim.cli.app import app
from infersim.scenario.load import validate_file

TRACES = Path(__file__).resolve().parents[1] / "configs" / "traces"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_stats_of_the_mooncake_trace_as_json() -> None:
    code, out, _ = invoke("trace", "stats", str(TRACES / "mooncake-synthetic.jsonl"), "-f", "json")
    assert code == 0
    stats = json.loads(out)
    assert stats["requests"] == 3_993 and stats["format"] == "mooncake"
    assert round(stats["prefix_reuse"]["input_token_share"], 3) == 0.651
    assert stats["span_s"] == pytest.approx(1022.025)
    assert sum(r * stats["rate_bin_s"] for r in stats["rate_per_s"]) == pytest.approx(3_993)


def test_stats_table_shows_the_rate_chart_and_percentiles() -> None:
    code, out, _ = invoke("trace", "stats", str(TRACES / "azure-llm-2023-conv.csv"))
    assert code == 0
    assert "19,366" in out and "rate over time" in out and "14,050" in out


def test_fit_writes_a_class_that_a_scenario_extends(tmp_path: Path) -> None:
    out = tmp_path / "azure-class.yaml"
    code, _, err = invoke("trace", "fit", str(TRACES / "azure-llm-2023-conv.csv"), "-o", str(out),
                          "--name", "chat")  # fmt: skip
    assert code == 0, err
    cls = yaml.safe_load(out.read_text(encoding="utf-8"))["workload"]["classes"]["chat"]
    assert cls["arrival"]["rate_per_s"] == pytest.approx(19_366 / 3501.7, rel=1e-3)
    assert cls["prompt_tokens"]["dist"] == "lognormal"
    assert cls["prompt_tokens"]["max_tokens"] == 14_050
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "extends: azure-class.yaml\nname: fitted\n"
        "deployments:\n  main: {model: llama-3.1-8b, gpu: h100-sxm}\n",
        encoding="utf-8",
    )
    assert validate_file(scenario).problems == []


def test_fit_with_empirical_lengths_writes_the_values_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    code, _, err = invoke("trace", "fit", str(TRACES / "azure-llm-2023-conv.csv"), "-o", str(out),
                          "--lengths", "empirical")  # fmt: skip
    assert code == 0, err
    values = (tmp_path / "c-prompt_tokens.txt").read_text(encoding="utf-8").split()
    assert len(values) == 19_366
    cls = yaml.safe_load(out.read_text(encoding="utf-8"))["workload"]["classes"]["fitted"]
    assert cls["prompt_tokens"] == {"dist": "empirical", "path": "c-prompt_tokens.txt"}


def test_a_day_long_trace_fits_a_diurnal_profile(tmp_path: Path) -> None:
    rows = ["timestamp_s,prompt_tokens,output_tokens"]
    for hour in range(48):  # twice as many requests in the first 12 hours of each day
        per_hour = 20 if hour % 24 < 12 else 10
        rows += [f"{hour * 3600 + i * 3600 / per_hour},100,10" for i in range(per_hour)]
    path = tmp_path / "two-days.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "c.yaml"
    assert invoke("trace", "fit", str(path), "-o", str(out))[0] == 0
    arrival = yaml.safe_load(out.read_text(encoding="utf-8"))["workload"]["classes"]["fitted"][
        "arrival"
    ]
    assert arrival["process"] == "diurnal"
    weights = arrival["hourly_weights"]
    assert weights[0] == pytest.approx(2 * weights[12], rel=0.1)


def test_bad_trace_and_bad_output_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,in,out\n1,2,3\n", encoding="utf-8")
    code, out, err = invoke("trace", "stats", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown trace format" in err and "Traceback" not in err
    code, _, err = invoke("trace", "fit", str(TRACES / "azure-llm-2023-conv.csv"), "-o",
                          str(tmp_path / "c.txt"))  # fmt: skip
    assert code == 2 and ".yaml" in err
    assert not (tmp_path / "c.txt").exists()
