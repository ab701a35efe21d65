"""`infersim validate` refuses every file in tests/scenarios/broken with one clear line, and
`infersim run` refuses it with the same line before simulating anything (exit 2, no traceback).

Each broken file starts with comment lines saying what validation must report:

    # expect-file: support/base.yaml      where the problem is, if not the file itself
    # expect-line: 7                      omitted: the problem has no line
    # expect-path: deployments.main.gpu   omitted: the problem has no path
    # expect-message: unknown gpu 'h100'  a substring of the message
    # expect-xfail: where the bug is      a known bug in src/: the case is xfail(strict=True)

Files under broken/support/ are helpers (bases for `extends`) and are not cases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infersim.cli.app import app

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
BROKEN = SCENARIOS / "broken"
VALID = SCENARIOS / "valid.yaml"
CASES = sorted(BROKEN.glob("*.yaml"))  # not recursive: support/ is skipped
ONE_LINE = re.compile(r"^\S[^\r]*?(?::\d+)?: \S[^\r]*$")  # file[:line]: [path: ]message
BY_SUBPROCESS = [
    "unknown_gpu_near_miss",
    "extends_cycle",
    "alias_bomb",
    "python_object_tag",
    "binary_nul",
    "variant_bad_value",
    "model_does_not_fit",
    "trace_malformed",
]


def expectations(path: Path) -> dict[str, str]:
    """The `# expect-KEY: value` comments at the top of a broken scenario."""
    found: dict[str, str] = {}
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if not line.startswith("#"):
            break
        if match := re.match(r"# expect-([a-z]+): (.+)$", line):
            found[match[1]] = match[2]
    return found


def case(path: Path) -> object:
    bug = expectations(path).get("xfail")
    marks = [pytest.mark.xfail(strict=True, reason=f"BUG in src/infersim/{bug}")] if bug else []
    return pytest.param(path, id=path.stem, marks=marks)


def snapshot() -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in SCENARIOS.rglob("*") if p.is_file()}


def validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def check_refused(path: Path, code: int, stdout: str, stderr: str) -> None:
    """Exit 2 and exactly one `file:line: path: message` line, as the file's comments say."""
    want = expectations(path)
    assert code == 2, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stdout + stderr
    lines = stdout.splitlines()
    assert len(lines) == 1, f"expected one problem, got {lines}"
    assert ONE_LINE.match(lines[0]), lines[0]
    where = str((path.parent / want["file"]).resolve()) if "file" in want else str(path)
    prefix = where + (f":{want['line']}" if "line" in want else "") + ": "
    prefix += f"{want['path']}: " if "path" in want else ""
    assert lines[0].startswith(prefix), f"{lines[0]!r} does not start with {prefix!r}"
    assert want["message"] in lines[0][len(prefix) :]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 67
    assert all("message" in expectations(p) for p in CASES)


@pytest.mark.parametrize("path", [case(p) for p in CASES])
def test_broken_scenario_is_refused(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a YAML tag that ran a command would leave a file here
    before = snapshot()
    started = time.monotonic()
    check_refused(path, *validate(str(path)))
    assert time.monotonic() - started < 10  # alias bombs fail fast
    code, stdout, _ = validate("--format", "json", str(path))
    assert code == 2
    [report] = json.loads(stdout)
    assert report["file"] == str(path) and report["valid"] is False
    [problem] = report["problems"]
    want = expectations(path)
    assert problem["line"] == (int(want["line"]) if "line" in want else None)
    assert problem["path"] == want.get("path", "")
    assert want["message"] in problem["message"]
    assert snapshot() == before, "validate changed or wrote files"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [case(p) for p in CASES])
def test_run_refuses_broken_scenario(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run FILE` (no variant chosen) says what `validate` says, on stderr, and runs nothing."""
    monkeypatch.chdir(tmp_path)
    _, validated, _ = validate(str(path))
    result = CliRunner().invoke(app, ["run", str(path), "-f", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.stdout == ""
    assert result.stderr == "".join(f"error: {line}\n" for line in validated.splitlines())
    assert list(tmp_path.iterdir()) == []


def test_run_of_a_good_variant_refuses_a_broken_one(tmp_path: Path) -> None:
    text = VALID.read_text(encoding="utf-8") + "  tp3:\n    deployments.main.tensor_parallel: 3\n"
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    deployments.main.tensor_parallel: 3") + 1
    want = (
        f"error: {path}:{line}: deployments.main.tensor_parallel: tensor_parallel 3 must divide "
        "the 32 attention heads of llama-3.1-8b (in variant 'tp3')\n"
    )
    for args in ([], ["--variant", "h200"], ["--all-variants"]):
        result = CliRunner().invoke(app, ["run", str(path), *args])
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", want)


@pytest.mark.parametrize("name", BY_SUBPROCESS)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_broken_scenario_in_subprocess(name: str, command: str, tmp_path: Path) -> None:
    path = BROKEN / f"{name}.yaml"
    run = subprocess.run(
        [sys.executable, "-m", "infersim", command, str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
    )
    if command == "validate":
        check_refused(path, run.returncode, run.stdout, run.stderr)
    else:  # run: the same one line, on stderr after 'error: '
        assert run.returncode == 2 and run.stdout == ""
        assert "Traceback" not in run.stderr
        [line] = run.stderr.splitlines()
        check_refused(path, 2, line.removeprefix("error: ") + "\n", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file: expected a scenario mapping"),
        (b"\n  \n", "empty file: expected a scenario mapping"),
        (b"\xef\xbb\xbf", "empty file: expected a scenario mapping"),
        (b"name: x\x00\n", "not a text file (contains NUL bytes)"),
        (bytes(range(256)), "not a UTF-8 text file"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "not a UTF-8 text file"),
        (None, "file not found"),
    ],
    ids=["empty", "blank", "bom-only", "nul", "all-bytes", "png-header", "missing"],
)
def test_unreadable_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "scenario.yaml"
    if content is not None:
        path.write_bytes(content)
    code, stdout, stderr = validate(str(path))
    assert (code, stdout) == (2, f"{path}: {message}\n")
    assert "Traceback" not in stderr
    assert sorted(tmp_path.iterdir()) == ([path] if content is not None else [])


def test_directory_is_refused(tmp_path: Path) -> None:
    code, stdout, _ = validate(str(tmp_path))
    assert (code, stdout) == (2, f"{tmp_path}: is a directory, expected a file\n")


def test_valid_file_passes() -> None:
    code, stdout, stderr = validate(str(VALID))
    assert (code, stdout) == (0, "")
    assert f"{VALID}: ok (1 variants)" in stderr


def test_one_valid_one_broken() -> None:
    broken = BROKEN / "unknown_gpu_near_miss.yaml"
    code, stdout, stderr = validate(str(VALID), str(broken))
    check_refused(broken, code, stdout, stderr)
    assert f"{VALID}: ok" in stderr
    assert "1 of 2 file(s) invalid" in stderr


def test_json_report_structure() -> None:
    files = [VALID, BROKEN / "unknown_gpu_near_miss.yaml", BROKEN / "binary_nul.yaml"]
    code, stdout, _ = validate("--format", "json", *map(str, files))
    assert code == 2
    assert json.loads(stdout) == [
        {"file": str(VALID), "valid": True, "variants": 1, "problems": []},
        {
            "file": str(files[1]),
            "valid": False,
            "variants": 0,
            "problems": [
                {
                    "file": str(files[1]),
                    "line": 9,
                    "path": "deployments.main.gpu",
                    "message": "unknown gpu 'h100' — did you mean 'h100-sxm'?",
                }
            ],
        },
        {
            "file": str(files[2]),
            "valid": False,
            "variants": 0,
            "problems": [
                {
                    "file": str(files[2]),
                    "line": None,
                    "path": "",
                    "message": "not a text file (contains NUL bytes)",
                }
            ],
        },
    ]
