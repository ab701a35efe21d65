"""Errors in infersim's words: enum and tag typos name the choices and a suggestion, a
misspelt key is one line, one did-you-mean helper serves every lookup, and `validate` ends
each problem's line before its summary."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONFIGS, ROOT
from infersim.errors import closest, did_you_mean

SRC = ROOT / "src" / "infersim"
SMALL = ROOT / "tests" / "scenarios" / "cli-small.yaml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infersim", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def edited(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("run", "--format", "jsn"),
            "error: --format: 'jsn' is not a format; choose table, json, csv, markdown or html "
            "— did you mean 'json'? (see 'python -m infersim run --help')",
        ),
        (
            ("catalog", "gpus", "-f", "CSV"),
            "error: --format: 'CSV' is not a format; choose table, json, csv, markdown or html "
            "— did you mean 'csv'? (see 'python -m infersim catalog gpus --help')",
        ),
    ],
)
def test_an_option_typo_names_the_choices_and_a_suggestion(
    args: tuple[str, ...], line: str
) -> None:
    done = cli(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [line]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "process: poisson",
            "process: poison",
            "workload.classes.chat.arrival.process: 'poison' is not a process; choose poisson, "
            "bursty, diurnal or trace — did you mean 'poisson'?",
        ),
        (
            "dist: lognormal, mean_tokens: 600",
            "dist: lognromal, mean_tokens: 600",
            "workload.classes.chat.prompt_tokens.dist: 'lognromal' is not a dist; choose",
        ),
        (
            "fleet: {replications: 2",
            "fleet: {load_balancer: round_robn, replications: 2",
            "fleet.load_balancer: 'round_robn' is not a load_balancer; choose",
        ),
    ],
)
def test_a_value_typo_names_the_choices_and_a_suggestion(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    done = cli("validate", str(edited(tmp_path, SMALL, old, new)))
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stdout
    assert problem in lines[0]
    assert "Input tag" not in lines[0] and "Input should be" not in lines[0]


@pytest.mark.parametrize("key", ["deployments", "workload", "fleet", "horizon"])
def test_a_misspelt_top_level_key_is_one_line(tmp_path: Path, key: str) -> None:
    """Not 'required field is missing' beside it, nor once more per variant."""
    path = edited(tmp_path, SMALL, f"\n{key}:", f"\n{key}s:")
    done = cli("validate", str(path))
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        f"{path}:{_line(path, key + 's:')}: {key}s: unknown key '{key}s' — did you mean '{key}'?"
    ]


def _line(path: Path, start: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(start))


def test_validate_ends_the_last_problem_before_its_summary(tmp_path: Path) -> None:
    path = edited(tmp_path, SMALL, "\nworkload:", "\nworkloads:")
    done = subprocess.run(
        [sys.executable, "-m", "infersim", "validate", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert lines[-1] == "1 of 1 file(s) invalid" and lines[-2].endswith("did you mean 'workload'?")
    assert done.stdout.endswith("\n")


def test_one_did_you_mean_helper() -> None:
    assert closest("H100", ["h100-sxm", "h100"]) == "h100"
    assert did_you_mean("jsn", ["table", "json"]) == " — did you mean 'json'?"
    assert did_you_mean("zzz", ["table", "json"]) == ""
    users = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(
            isinstance(node, ast.Import | ast.ImportFrom)
            and "difflib" in ([a.name for a in node.names] if isinstance(node, ast.Import)
                              else [node.module or ""])
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )  # fmt: skip
    assert users == ["errors.py"]


def test_shipped_configs_still_validate() -> None:
    done = cli("validate", *map(str, sorted(CONFIGS.glob("*.yaml"))))
    assert done.returncode == 0, done.stdout + done.stderr
