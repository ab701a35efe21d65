"""Validation accepts nothing that means nothing, and nothing the run would reject: the rules
behind the broken corpus, at their edges (what still passes, and why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from infersim.errors import ConfigError, Problem
from infersim.scenario.load import load_scenario, validate_file
from infersim.scenario.params import month_values

VALID = ROOT / "tests" / "scenarios" / "valid.yaml"


def scenario(tmp_path: Path, **changes: Any) -> Path:
    """valid.yaml (without variants) with dotted paths set; None removes a key."""
    data = yaml.safe_load(VALID.read_text(encoding="utf-8"))
    data.pop("variants")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value.problems


@pytest.mark.parametrize("value", [True, False, "2", 2.0])
@pytest.mark.parametrize(
    "field",
    [
        "deployments__main__replicas",
        "deployments__main__tensor_parallel",
        "deployments__main__max_batch_tokens",
        "horizon__months",
        "seed",
    ],
)
def test_integers_are_strict(tmp_path: Path, field: str, value: object) -> None:
    [problem] = problems(scenario(tmp_path, **{field: value}))
    assert problem.path == field.replace("__", ".")
    assert "Input should be a valid integer" in problem.message


def test_a_curve_drives_a_count(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        workload__users__plus={
            "plan": "plus",
            "users": {"curve": "table", "points": {"0": 1000, "11": 5000}},
            "requests_per_user_per_month": {"dist": "lognormal", "median": 20, "sigma": 1.0},
            "prompt_tokens_per_request": 500,
            "output_tokens_per_request": 100,
        },
        pricing={"plans": {"plus": {"price_usd_per_month": 20}}},
        horizon={"months": 12},
    )
    loaded = load_scenario(path)
    assert loaded.scenario.workload.users["plus"].users == 1000
    month6 = loaded.with_values(month_values(loaded.params, 6))
    assert month6.scenario.workload.users["plus"].users == 3182  # 1000 + 6/11 x 4000, rounded


@pytest.mark.parametrize(
    ("field", "curve"),
    [
        ("deployments__main__tensor_parallel", {"curve": "steps", "start": 1, "steps": {"6": 2}}),
        ("workload__classes__chat__prompt_tokens__tokens", {"curve": "constant", "value": 500}),
        ("horizon__months", {"curve": "linear", "start": 1, "per_month": 1}),
    ],
)
def test_a_curve_on_any_other_integer_is_refused(
    tmp_path: Path, field: str, curve: dict[str, Any]
) -> None:
    [problem] = problems(scenario(tmp_path, **{field: curve}))
    assert problem.path == field.replace("__", ".")
    assert f"an integer field cannot follow a curve (got curve '{curve['curve']}')" in (
        problem.message
    )


def test_a_distribution_on_an_integer_samples_whole_numbers(tmp_path: Path) -> None:
    path = scenario(tmp_path, deployments__main__replicas={"dist": "uniform", "low": 1, "high": 5})
    loaded = load_scenario(path)
    assert loaded.scenario.deployments["main"].replicas == 3  # the median, an int
    sample = loaded.with_values({("deployments", "main", "replicas"): 4.0})
    assert sample.scenario.deployments["main"].replicas == 4


def test_autoscale_bounds_may_meet(tmp_path: Path) -> None:
    auto = {"mode": "autoscale", "autoscale": {"min_replicas": 3, "max_replicas": 3}}
    assert load_scenario(scenario(tmp_path, fleet=auto)).scenario.fleet.autoscale is not None


def test_size_to_slo_with_any_slo_bound(tmp_path: Path) -> None:
    fleet = {"mode": "size_to_slo", "slo": {"tpot_p50_s": 0.05}}
    assert load_scenario(scenario(tmp_path, fleet=fleet)).scenario.fleet.mode == "size_to_slo"


ROUTED = {
    "main": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "prefix_caching": {"cached_share": 0.1}},
    "mini": {"kind": "api", "input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6},
}


def test_cached_share_served_with_prefix_caching_or_by_an_api(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        deployments=ROUTED,
        routing={"strategy": "fixed_split", "split": {"main": 0.7, "mini": 0.3}},
        workload__classes__chat__cached_prefix_share=0.5,
    )
    assert load_scenario(path).scenario.workload.classes["chat"].cached_prefix_share == 0.5


def test_a_routed_share_names_every_deployment_without_prefix_caching(tmp_path: Path) -> None:
    bare = {"model": "llama-3.1-8b", "gpu": "h100-sxm"}
    path = scenario(
        tmp_path,
        deployments={"a": bare, "b": bare, "c": ROUTED["mini"]},
        routing={"strategy": "fixed_split", "split": {"a": 0.5, "b": 0.3, "c": 0.2}},
        workload__classes__chat__cached_prefix_share=0.5,
    )
    [problem] = problems(path)
    assert problem.path == "workload.classes.chat.cached_prefix_share"
    assert "the self-hosted deployments the routing sends it to (a, b) have no prefix_caching" in (
        problem.message
    )
    assert "add deployments.a.prefix_caching: {cached_share: 0.5} and deployments.b" in (
        problem.message
    )


def test_a_routing_share_of_zero_reaches_nothing(tmp_path: Path) -> None:
    bare = {"model": "llama-3.1-8b", "gpu": "h100-sxm"}
    path = scenario(
        tmp_path,
        deployments={"a": bare, "c": ROUTED["mini"]},
        routing={"strategy": "fixed_split", "split": {"a": 0.0, "c": 1.0}},
        workload__classes__chat__cached_prefix_share=0.5,
    )
    assert load_scenario(path).scenario.routing is not None


def test_a_trace_gives_its_own_cached_tokens(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_text(
        "timestamp_s,prompt_tokens,output_tokens,cached_prefix_tokens\n0,500,100,200\n",
        encoding="utf-8",
    )
    path = scenario(
        tmp_path,
        deployments__main__prefix_caching={"cached_share": 0.2},
        workload__classes__chat__arrival={"process": "trace", "path": "trace.csv"},
        workload__classes__chat__prompt_tokens=None,
        workload__classes__chat__output_tokens=None,
        workload__classes__chat__cached_prefix_share=0.4,
    )
    [problem] = problems(path)
    assert problem.path == "workload.classes.chat.cached_prefix_share"
    assert "not used with arrival 'trace'" in problem.message


def test_an_unbounded_lognormal_is_judged_by_its_p99(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        deployments__main__model="llama-2-70b",
        deployments__main__gpu="h200-sxm",
        deployments__main__precision={"weights": "fp8", "kv_cache": "fp8"},
        workload__classes__chat__prompt_tokens={
            "dist": "lognormal",
            "p50_tokens": 2000,
            "sigma": 0.5,
        },
    )
    [problem] = problems(path)
    assert problem.path == "workload.classes.chat.prompt_tokens"
    assert (
        "prompts of up to 6,401 tokens (the p99 of a lognormal without max_tokens) exceed the "
        in (problem.message)
    )
    capped = {"dist": "lognormal", "p50_tokens": 2000, "sigma": 0.5, "max_tokens": 3800}
    path = scenario(
        tmp_path,
        deployments__main__model="llama-2-70b",
        deployments__main__gpu="h200-sxm",
        deployments__main__precision={"weights": "fp8", "kv_cache": "fp8"},
        workload__classes__chat__prompt_tokens=capped,
    )
    assert load_scenario(path).scenario.deployments["main"] is not None


def test_a_data_file_is_read_once_for_the_file_and_its_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lengths.txt").write_text("100\n200\n", encoding="utf-8")
    path = scenario(
        tmp_path,
        workload__classes__chat__output_tokens={"dist": "empirical", "path": "lengths.txt"},
    )
    path.write_text(
        path.read_text(encoding="utf-8")
        + "variants:\n  a: {deployments.main.replicas: 3}\n  b: {deployments.main.replicas: 4}\n",
        encoding="utf-8",
    )
    import infersim.workload.trace as trace  # the preflight imports its readers when used

    reads: list[Path] = []
    real = trace.read_empirical

    def counting(file: Path, column: str | None) -> Any:
        reads.append(file)
        return real(file, column)

    monkeypatch.setattr(trace, "read_empirical", counting)
    checked = validate_file(path)
    assert checked.problems == [] and list(checked.loaded) == [None, "a", "b"]
    assert reads == [tmp_path / "lengths.txt"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"timestamp_s": 0, "prompt_tokens": true, "output_tokens": 5}', "got True"),
        ('{"timestamp_s": false, "prompt_tokens": 10, "output_tokens": 5}', "got False"),
        ('{"timestamp_s": 0, "prompt_tokens": 2e7, "output_tokens": 5}', "at most 10,000,000"),
    ],
)
def test_trace_rows_are_checked_by_validate(tmp_path: Path, row: str, message: str) -> None:
    (tmp_path / "trace.jsonl").write_text(row + "\n", encoding="utf-8")
    path = scenario(
        tmp_path,
        workload__classes__chat__arrival={"process": "trace", "path": "trace.jsonl"},
        workload__classes__chat__prompt_tokens=None,
        workload__classes__chat__output_tokens=None,
    )
    [problem] = validate_file(path).problems
    assert (problem.file, problem.line) == (str(tmp_path / "trace.jsonl"), 1)
    assert message in problem.message
    assert problem.message.endswith("(read for workload.classes.chat.arrival.path)")
