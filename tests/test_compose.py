"""Composition: `extends`, dotted-key overrides and variants, and where each value came from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from infersim.errors import ConfigError
from infersim.scenario import compose
from infersim.scenario.load import load_scenario

BASE = """\
name: base
deployments:
  main:
    model: llama-3.1-8b
    gpu: h100-sxm
    tensor_parallel: 2
    precision: {weights: fp8, kv_cache: fp8}
workload:
  classes:
    chat:
      arrival: {process: poisson, rate_per_s: 2.0}
      prompt_tokens: {dist: fixed, tokens: 500}
      output_tokens: {dist: fixed, tokens: 200}
expect:
  - {metric: pnl.revenue_usd, min: 0}
  - {metric: pnl.gross_margin_pct, max: 1}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path.resolve()


def problem(path: Path, variant: str | None = None) -> tuple[str, int | None, str, str]:
    """The one problem loading `path` reports, as (file, line, path, message)."""
    with pytest.raises(ConfigError) as info:
        load_scenario(path, variant)
    [p] = info.value.problems
    return p.file, p.line, p.path, p.message


def test_extends_merges_mappings_deeply_and_the_child_wins(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        name: child
        deployments:
          main:
            gpu: h200-sxm
            precision: {weights: int4}
        """,
    )
    doc = compose.load_document(child)
    assert doc.data["name"] == "child"
    assert doc.data["deployments"]["main"] == {
        "model": "llama-3.1-8b",
        "gpu": "h200-sxm",
        "tensor_parallel": 2,
        "precision": {"weights": "int4", "kv_cache": "fp8"},
    }
    assert doc.locate(("deployments", "main", "precision", "kv_cache")) == (str(base), 7)
    assert doc.locate(("deployments", "main", "tensor_parallel")) == (str(base), 6)
    assert doc.files == [str(child), str(base)]
    main = load_scenario(child).scenario.deployments["main"]
    assert (main.gpu, main.tensor_parallel, main.precision.kv_cache) == ("h200-sxm", 2, "fp8")


def test_lists_are_replaced_not_merged(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        expect:
          - {metric: pnl.gross_margin_usd, min: 5}
        """,
    )
    doc = compose.load_document(child)
    assert doc.data["expect"] == [{"metric": "pnl.gross_margin_usd", "min": 5}]
    assert doc.locate(("expect", 0, "metric")) == (str(child), 3)
    assert ("expect", 1) not in doc.origins  # the base's second item is gone
    assert [e.metric for e in load_scenario(child).scenario.expect] == ["pnl.gross_margin_usd"]


def test_dotted_keys_in_a_child_override_nested_values(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        deployments.main.gpu: b200
        workload.classes.chat.arrival.rate_per_s: 9.5
        """,
    )
    doc = compose.load_document(child)
    assert doc.data["deployments"]["main"]["gpu"] == "b200"
    assert doc.data["deployments"]["main"]["model"] == "llama-3.1-8b"
    assert doc.data["workload"]["classes"]["chat"]["arrival"] == {
        "process": "poisson",
        "rate_per_s": 9.5,
    }
    assert doc.locate(("deployments", "main", "gpu")) == (str(child), 2)
    assert doc.locate(("workload", "classes", "chat", "arrival", "rate_per_s")) == (str(child), 3)
    assert doc.locate(("deployments", "main", "model")) == (str(base), 4)
    assert "deployments.main.gpu" not in doc.data


def test_a_chain_of_three_files_each_relative_to_itself(tmp_path: Path) -> None:
    top = write(tmp_path, "top.yaml", "extends: sub/mid.yaml\nname: top\n")
    mid = write(
        tmp_path, "sub/mid.yaml", "extends: ../base.yaml\nname: mid\ndeployments.main.replicas: 3\n"
    )
    base = write(tmp_path, "base.yaml", BASE)
    doc = compose.load_document(top)
    assert doc.files == [str(top), str(mid), str(base)]
    assert doc.locate(("name",)) == (str(top), 2)
    assert doc.locate(("deployments", "main", "replicas")) == (str(mid), 3)
    assert doc.locate(("deployments", "main", "gpu")) == (str(base), 5)
    scenario = load_scenario(top).scenario
    assert (scenario.name, scenario.deployments["main"].replicas) == ("top", 3)


def test_extends_may_not_leave_the_first_files_directory(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "sub/child.yaml", "extends: ../base.yaml\n")
    file, line, path, message = problem(child)
    assert (file, line, path) == (str(child), 1, "extends")
    assert "leaves the scenario's directory tree" in message


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\n")
    assert problem(a) == (str(b), 1, "extends", "extends cycle: a.yaml -> b.yaml -> a.yaml")


def test_errors_point_at_the_file_and_line_that_wrote_the_value(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("tensor_parallel: 2", "tensor_parallel: 0"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n")
    file, line, path, message = problem(child)
    assert (file, line, path) == (str(base), 6, "deployments.main.tensor_parallel")
    assert "greater than or equal to 1" in message

    fixed = write(
        tmp_path, "fixed.yaml", "extends: child.yaml\ndeployments.main.tensor_parallel: 1\n"
    )
    assert load_scenario(fixed).scenario.deployments["main"].tensor_parallel == 1


def test_variants_apply_dotted_overrides_and_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        BASE
        + "variants:\n"
        + "  h200:\n"
        + "    deployments.main.gpu: h200-sxm\n"
        + "    deployments.main.tensor_parallel: 1\n"
        + "  slow:\n"
        + "    workload.classes.chat.arrival.rate_per_s: -1\n",
    )
    plain = load_scenario(path).scenario
    assert (plain.variant, plain.deployments["main"].gpu) == (None, "h100-sxm")
    h200 = load_scenario(path, "h200").scenario
    assert h200.variant == "h200"
    assert (h200.deployments["main"].gpu, h200.deployments["main"].tensor_parallel) == (
        "h200-sxm",
        1,
    )
    assert h200.deployments["main"].model == "llama-3.1-8b"
    file, line, where, message = problem(path, "slow")
    assert (file, line, where) == (str(path), 22, "workload.classes.chat.arrival.rate_per_s")
    assert "greater than 0" in message


def test_apply_variant_leaves_the_document_alone(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", BASE + "variants:\n  v:\n    deployments.main.gpu: b200\n")
    doc = compose.load_document(path)
    assert doc.data["variants"] == {"v": {"deployments.main.gpu": "b200"}}  # kept verbatim
    applied = compose.apply_variant(doc, "v")
    assert applied.data["deployments"]["main"]["gpu"] == "b200"
    assert applied.data["variant"] == "v"
    assert doc.data["deployments"]["main"]["gpu"] == "h100-sxm"
    assert "variant" not in doc.data
    assert doc.locate(("deployments", "main", "gpu")) == (str(path), 5)


@pytest.mark.parametrize(
    ("variants", "asked", "message"),
    [
        ("variants:\n  h200: {name: x}\n  int4: {name: y}\n", "h20", "did you mean 'h200'?"),
        ("variants:\n  h200: {name: x}\n", "zzz", "unknown variant 'zzz'; known: h200"),
        ("", "h200", "the scenario has no variants"),
    ],
)
def test_unknown_variant(tmp_path: Path, variants: str, asked: str, message: str) -> None:
    path = write(tmp_path, "s.yaml", BASE + variants)
    file, _, where, text = problem(path, asked)
    assert (file, where) == (str(path), "variants")
    assert message in text


def test_origins_survive_a_variant_override(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yaml",
        BASE
        + "variants:\n"
        + "  quant:\n"
        + "    deployments.main.precision:\n"
        + "      weights: int9\n",
    )
    child = write(
        tmp_path,
        "child.yaml",
        "extends: base.yaml\nvariants:\n  big:\n    deployments.main.replicas: 0\n",
    )
    assert problem(child, "big")[2] == "deployments.main.replicas"
    file, line, where, _ = problem(child, "quant")  # a variant inherited from the base
    assert (file, line, where) == (str(base), 20, "deployments.main.precision.weights")
    assert load_scenario(child).scenario.deployments["main"].replicas == 1


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        ("deployments.main.gpu: b200\n", 17, 5),
        ("deployments.main: {gpu: b200}\n", 17, 3),
        ("workload.classes.chat:\n  batch_api: true\n  batch_api: false\n", 19, 18),
    ],
    ids=["dotted-after-nested", "dotted-prefix", "duplicate-key"],
)
def test_set_twice(tmp_path: Path, text: str, line: int, first: int) -> None:
    path = write(tmp_path, "s.yaml", BASE + text)
    file, at, _, message = problem(path)
    assert (file, at) == (str(path), line)
    assert f"(also on line {first})" in message or f"(first defined on line {first})" in message


def test_set_twice_nested_after_dotted(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "deployments.main.gpu: b200\n" + BASE)
    assert problem(path) == (str(path), 6, "deployments.main.gpu", "set twice (also on line 1)")


def test_set_twice_inside_a_variant(tmp_path: Path) -> None:
    variant = (
        "variants:\n  v:\n    deployments.main.gpu: h200-sxm\n"
        "    deployments:\n      main: {gpu: b200}\n"
    )
    path = write(tmp_path, "s.yaml", BASE + variant)
    file, _, where, message = problem(path, "v")
    assert (file, where) == (str(path), "deployments.main.gpu")
    assert "set twice" in message


@pytest.mark.parametrize(
    ("child_text", "variant", "line", "where"),
    [
        (
            "extends: base.yaml\ndeployments:\n  main:\n    gpu: h100\n",
            None,
            4,
            "deployments.main.gpu",
        ),
        (
            "extends: base.yaml\ndeployments:\n  main:\n    precision: {weights: int9}\n",
            None,
            4,
            "deployments.main.precision.weights",
        ),
        (
            "extends: base.yaml\nvariants:\n  big:\n    deployments.main.replicas: 0\n",
            "big",
            4,
            "deployments.main.replicas",
        ),
    ],
    ids=["nested-gpu", "nested-flow-mapping", "variant-in-child"],
)
def test_nested_override_in_a_child_keeps_its_line(
    tmp_path: Path, child_text: str, variant: str | None, line: int, where: str
) -> None:
    write(tmp_path, "base.yaml", BASE + "variants:\n  other: {name: other}\n")
    child = write(tmp_path, "child.yaml", child_text)
    assert problem(child, variant)[:3] == (str(child), line, where)
