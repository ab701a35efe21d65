"""The README's two set-up commands are the ones CI runs, and they stay true."""

from __future__ import annotations

import re

from conftest import ROOT


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_run_and_test_commands() -> None:
    run_cmd, test_cmd = setup_commands()
    assert "\n" not in run_cmd and "\n" not in test_cmd
    assert run_cmd.endswith("infersim run")
    assert "pytest" in test_cmd


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_cmd = setup_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_cmd in ci_lines
