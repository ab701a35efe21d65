"""`infersim plan` on the command line: the table, JSON, -o plan.yaml, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from plan_fixtures import small_document, write_scenario
from typer.testing import CliRunner

from infersim.cli.app import app

FAST = (
    "--gpus",
    "h100-sxm,l40s",
    "--tp",
    "1,2",
    "--precisions",
    "bf16,fp8",
    "--speculative",
    "off",
)


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["plan", *args])
    return result.exit_code, result.stdout, result.stderr


def one_line(code: int, stderr: str, expected_code: int, *fragments: str) -> None:
    assert code == expected_code
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_plan_table_json_and_written_plan(runner: CliRunner, tmp_path: Path) -> None:
    file = write_scenario(tmp_path / "s.yaml", small_document(rate_per_s=12.0, tpot_s=0.03))
    out = tmp_path / "plan.yaml"
    code, stdout, _ = invoke(runner, str(file), *FAST, "-o", str(out))
    assert code == 0
    assert "plans, cheapest first" in stdout and "cost-latency frontier" in stdout
    code, text, _ = invoke(runner, str(file), *FAST, "-f", "json")
    assert code == 0
    data = json.loads(text)
    winner = data["winner"]
    assert winner["meets_slo"] and winner["replicas"] >= 1
    assert data["ranked"][0] == winner
    assert data["search"]["candidates"] == 8
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    dep = written["deployments"]["main"]
    assert (dep["gpu"], dep["tensor_parallel"], dep["replicas"]) == (
        winner["gpu"], winner["tensor_parallel"], winner["replicas"],
    )  # fmt: skip
    assert written["fleet"]["mode"] == "fixed"
    # `infersim run` on the written plan reproduces the plan's serving figures
    result = runner.invoke(app, ["run", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    served = json.loads(result.stdout)["runs"][0]["serving"]["deployments"]["main"]
    assert served["verdict"] is None
    assert served["ttft_s"]["p99"] == winner["ttft_p99_s"]
    assert served["tpot_s"]["p99"] == winner["tpot_p99_s"]
    # deterministic: the same scenario gives the same JSON, byte for byte
    assert invoke(runner, str(file), *FAST, "-f", "json")[1] == text


def test_no_configuration_meets_the_slo_exits_1_with_the_closest_miss(
    runner: CliRunner, tmp_path: Path
) -> None:
    file = write_scenario(tmp_path / "s.yaml", small_document(ttft_s=0.001))
    out = tmp_path / "plan.yaml"
    code, _, stderr = invoke(runner, str(file), *FAST, "-o", str(out))
    one_line(code, stderr, 1, "no configuration meets the SLO", "closest miss", "TTFT")
    assert not out.exists()


def test_impossible_constraints_exit_2_naming_them(runner: CliRunner, tmp_path: Path) -> None:
    file = write_scenario(tmp_path / "s.yaml", small_document(rate_per_s=12.0))
    out = tmp_path / "plan.yaml"
    cases = [
        (("--budget", "1"), "--budget"),
        (("--gpus", "h100-sxm", "--tp", "2", "--max-gpus", "1"), "--max-gpus"),
        (("--precisions", "int4", "--max-quality-penalty", "0.01"), "--max-quality-penalty"),
        (("--gpus", "apple-m2-ultra"), "--pricing"),
        (("--gpus", "h100-sxm", "--provider", "runpod"), "--provider"),
    ]
    for extra, flag in cases:
        args = [str(file), "--tp", "1,2", "--speculative", "off", *extra, "-o", str(out)]
        code, _, stderr = invoke(runner, *args)
        one_line(code, stderr, 2, flag)
        assert not out.exists()


def test_bad_flags_exit_2_naming_the_value(runner: CliRunner, tmp_path: Path) -> None:
    file = write_scenario(tmp_path / "s.yaml", small_document())
    cases = [
        (("--gpus", "h100"), ["--gpus", "'h100'", "h100-sxm"]),
        (("--precisions", "fp3"), ["--precisions", "'fp3'"]),
        (("--tp", "two"), ["--tp", "'two'"]),
        (("--speculative", "maybe"), ["--speculative", "'maybe'"]),
        (("--pricing", "leased"), ["--pricing", "'leased'"]),
        (("--deployment", "nope"), ["--deployment", "'nope'"]),
        (("--chunked-prefill", ""), ["--chunked-prefill"]),
        (("--provider", "runpd"), ["--provider", "'runpd'", "RunPod"]),
        (("--provider", " , "), ["--provider", "AWS"]),
        (("--executor", "dask"), ["--executor dask needs --scheduler"]),
        (("--scheduler", "tcp://127.0.0.1:1"), ["--scheduler goes with --executor dask"]),
        (("--executor", "dask", "--scheduler", "tcp://x:1", "-j", "2"), ["--jobs 2"]),
        (("--disaggregated", "maybe"), ["--disaggregated", "'maybe'"]),
        (("--max-batch", "0"), ["--max-batch", "'0'", "derived"]),
        (("--max-batch", "derived,lots"), ["--max-batch", "'lots'"]),
        (("--max-batch", "70000"), ["--max-batch", "'70000'", "65,536"]),
        (("--max-batch", ","), ["--max-batch", "derived"]),
    ]
    for extra, fragments in cases:
        code, _, stderr = invoke(runner, str(file), *extra)
        one_line(code, stderr, 2, *fragments)


def test_a_disaggregated_scenario_plans_both_pools_and_the_plan_fixes_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    # the scenario's fleet.disaggregated is the default; its given pool split is not kept:
    # sizing picks both pools, and the written plan fixes them (`run` reproduces it)
    document = small_document(rate_per_s=12.0, tpot_s=0.03)
    document["deployments"]["main"]["replicas"] = 4  # type: ignore[index]
    document["fleet"].update({"disaggregated": True, "prefill_replicas": 3})  # type: ignore[attr-defined]
    file = write_scenario(tmp_path / "s.yaml", document)
    out = tmp_path / "plan.yaml"
    code, text, stderr = invoke(runner, str(file), *FAST, "-f", "json", "-o", str(out))
    assert code == 0, stderr
    winner = json.loads(text)["winner"]
    assert winner["disaggregated"] and "disagg" in winner["configuration"]
    assert invoke(runner, str(file), *FAST, "-f", "json")[1] == text  # deterministic
    fleet = yaml.safe_load(out.read_text(encoding="utf-8"))["fleet"]
    assert (fleet["disaggregated"], fleet["prefill_replicas"]) == (True, winner["prefill_replicas"])
    result = runner.invoke(app, ["run", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    served = json.loads(result.stdout)["runs"][0]["serving"]["deployments"]["main"]
    assert served["verdict"] is None
    assert served["ttft_s"]["p99"] == winner["ttft_p99_s"]
    # --disaggregated off plans a single pool: the written plan turns disaggregation off
    code, text, stderr = invoke(
        runner, str(file), *FAST, "--disaggregated", "off", "-f", "json", "-o", str(out)
    )
    assert code == 0, stderr
    assert json.loads(text)["winner"]["prefill_replicas"] is None
    fleet = yaml.safe_load(out.read_text(encoding="utf-8"))["fleet"]
    assert "disaggregated" not in fleet and "prefill_replicas" not in fleet
    # a prefill pool's own layout is not searched: named, exit 2
    document["deployments"]["main"]["prefill_pool"] = {"tensor_parallel": 2}  # type: ignore[index]
    file = write_scenario(tmp_path / "p.yaml", document)
    code, _, stderr = invoke(runner, str(file), *FAST)
    one_line(code, stderr, 2, "deployments.main.prefill_pool")


def test_a_provider_list_prices_from_its_quotes_only(runner: CliRunner, tmp_path: Path) -> None:
    # AWS quotes h100-sxm at $3.90 and l40s at $1.861 on demand (the catalog's first quotes
    # are Lambda's and RunPod's): every plan is priced from AWS's, and the written plan
    # states that price, which `run` bills
    file = write_scenario(tmp_path / "s.yaml", small_document(rate_per_s=12.0, tpot_s=0.03))
    out = tmp_path / "plan.yaml"
    code, text, stderr = invoke(runner, str(file), *FAST, "--provider", "AWS", "-f", "json")
    assert code == 0, stderr
    data = json.loads(text)
    aws = {"h100-sxm": 3.9, "l40s": 1.861}
    assert data["ranked"]
    for item in data["ranked"]:
        if item["usd_per_gpu_hour"] is not None:
            assert item["usd_per_gpu_hour"] == aws[item["gpu"]]
    code, _, stderr = invoke(runner, str(file), *FAST, "--provider", "aws", "-o", str(out))
    assert code == 0, stderr
    dep = yaml.safe_load(out.read_text(encoding="utf-8"))["deployments"]["main"]
    assert dep["cost"]["usd_per_gpu_hour"] == aws[dep["gpu"]]
    result = runner.invoke(app, ["run", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    rerun = json.loads(result.stdout)["runs"][0]
    assert rerun["pnl"]["gpu_cost_usd"] == data["winner"]["usd_per_month"]
    assert rerun["serving"]["deployments"]["main"]["ttft_s"]["p99"] == data["winner"]["ttft_p99_s"]
    # without the list, the catalog's first quotes price them
    code, text, _ = invoke(runner, str(file), *FAST, "-f", "json")
    first = {"h100-sxm": 2.99, "l40s": 0.86}
    for item in json.loads(text)["ranked"]:
        if item["usd_per_gpu_hour"] is not None:
            assert item["usd_per_gpu_hour"] == first[item["gpu"]]


@pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado")
@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")
def test_executor_dask_gives_the_same_json(runner: CliRunner, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    file = write_scenario(tmp_path / "s.yaml", small_document(rate_per_s=12.0, tpot_s=0.03))
    code, serial, stderr = invoke(runner, str(file), *FAST, "-f", "json")
    assert code == 0, stderr
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        args = ("--executor", "dask", "--scheduler", address, "-f", "json")
        code, on_dask, stderr = invoke(runner, str(file), *FAST, *args)
    assert code == 0, stderr
    assert on_dask == serial


def test_the_scenarios_plan_section_constrains_and_flags_override(
    runner: CliRunner, tmp_path: Path
) -> None:
    document = small_document(rate_per_s=12.0, tpot_s=0.03)
    document["plan"] = {"gpus": ["l40s"], "providers": ["aws"], "max_quality_penalty": 0.02}
    file = write_scenario(tmp_path / "s.yaml", document)
    fast = ("--tp", "1,2", "--precisions", "bf16,fp8,int4", "--speculative", "off")
    code, text, stderr = invoke(runner, str(file), *fast, "-f", "json")
    assert code == 0, stderr
    data = json.loads(text)
    # l40s only, at AWS's quote; int4 (penalty over 2%) is ruled out by the section
    assert {item["gpu"] for item in data["ranked"]} == {"l40s"}
    assert {item["usd_per_gpu_hour"] for item in data["ranked"]} <= {1.861, None}
    assert data["search"]["candidates"] == 6 and data["search"]["screen"]["quality"] == 2
    # the flags override the section
    code, text, stderr = invoke(
        runner, str(file), *fast, "--gpus", "h100-sxm", "--provider", "lambda", "-f", "json"
    )
    assert code == 0, stderr
    ranked = json.loads(text)["ranked"]
    assert {(i["gpu"], i["usd_per_gpu_hour"]) for i in ranked} <= {("h100-sxm", 2.99)}
    # a constraint from the section that rules everything out is named by its field
    document["plan"] = {"budget_usd_per_month": 1.0}
    file = write_scenario(tmp_path / "b.yaml", document)
    code, _, stderr = invoke(runner, str(file), *FAST)
    one_line(code, stderr, 2, "plan.budget_usd_per_month")
    assert invoke(runner, str(file), *FAST, "--budget", "100000")[0] == 0
    document["plan"] = {"gpus": ["h100-sxm"], "providers": ["RunPod"]}
    file = write_scenario(tmp_path / "p.yaml", document)
    code, _, stderr = invoke(runner, str(file), "--tp", "1", "--speculative", "off")
    one_line(code, stderr, 2, "plan.providers", "h100-sxm has no 'on_demand' quote from runpod")


def test_bad_plan_sections_exit_2_naming_the_field(runner: CliRunner, tmp_path: Path) -> None:
    cases: list[tuple[object, str]] = [
        ({"max_gpus": 0}, "plan.max_gpus"),
        ({"budget_usd_per_month": -5}, "plan.budget_usd_per_month"),
        ({"max_quality_penalty": 1.5}, "plan.max_quality_penalty"),
        ({"gpus": []}, "plan.gpus"),
        ({"gpus": ["h100"]}, "plan.gpus.0"),
        ({"providers": ["nobody"]}, "plan.providers.0"),
        ({"max_gpu": 4}, "plan.max_gpu"),
        ("cheap", "plan"),
    ]
    for section, fragment in cases:
        document = small_document()
        document["plan"] = section
        file = write_scenario(tmp_path / "s.yaml", document)
        result = runner.invoke(app, ["plan", str(file), *FAST])
        assert result.exit_code == 2, (section, result.stdout, result.stderr)
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (section, lines)
        assert "Traceback" not in result.stdout + result.stderr


def test_bad_scenario_is_one_line_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    document = small_document()
    document["fleet"] = {"slo": {"ttft_p99_s": -1}}
    file = write_scenario(tmp_path / "s.yaml", document)
    code, _, stderr = invoke(runner, str(file))
    one_line(code, stderr, 2, "fleet.slo.ttft_p99_s")
