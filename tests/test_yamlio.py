"""Safe YAML loading: lines are kept, duplicates and unsafe constructs refused."""

from __future__ import annotations

import pytest

from infersim.errors import ConfigError
from infersim.yamlio import load_yaml_text


def test_lines_of_nested_keys_and_list_items() -> None:
    loaded = load_yaml_text("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml")
    assert loaded.data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert loaded.line_of(("a", "b")) == 2
    assert loaded.line_of(("a", "c", 1)) == 5
    assert loaded.line_of(("a", "missing", "deeper")) == 1  # nearest ancestor


def test_keys_stay_as_written() -> None:
    # YAML 1.1 would read these keys as booleans
    assert load_yaml_text("on: 1\nno: 2\n", "f").data == {"on": 1, "no": 2}


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_text("a:\n  b: 1\n  b: 2\n", "f.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.path) == (3, "a.b")
    assert "first defined on line 2" in problem.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!python/object/apply:os.system ['true']\n", "not allowed"),
        ("a: !!python/name:os.system\n", "not allowed"),
        ("a: &x {b: 1}\n<<: *x\n", "merge keys"),
        ("[1, 2\n", "YAML syntax error"),
        ("a: 1\x00\n", "NUL"),
        ("? [1, 2]\n: v\n", "plain strings"),
    ],
)
def test_unsafe_or_broken_yaml_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, "f.yaml")
    assert fragment in str(info.value)


def test_alias_bomb_fails_fast() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(ConfigError, match="too large"):
        load_yaml_text("\n".join(lines) + "\n", "bomb.yaml")


def test_empty_document_is_none() -> None:
    assert load_yaml_text("# only a comment\n", "f").data is None
