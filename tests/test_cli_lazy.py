"""Commands are imported on first use: `--version` and `validate` stay light, help is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import CONFIGS
from infersim.cli.app import COMMANDS, app, load_command

#: Run `infersim ARGS` in a fresh interpreter, then print the modules it had imported.
PROBE = """
import json, sys
from infersim.cli.app import main
sys.argv = ["infersim", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)))
"""

#: Stacks no light command should import.
HEAVY = (
    "infersim.analysis",
    "infersim.pipeline",
    "infersim.serving",
    "infersim.report.html",
    "infersim.report.charts",
    "matplotlib",
    "dask",
    "genai_prices",
)


def imported_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_version_imports_no_command_and_no_numpy() -> None:
    modules = imported_by("--version")
    assert not any(
        m.startswith("infersim.cli.") for m in modules - {"infersim.cli.app", "infersim.cli.common"}
    )
    assert "numpy" not in modules and "infersim.catalog.load" not in modules
    assert heavy(modules) == []


def test_validate_runs_the_preflight_without_the_serving_or_report_stacks() -> None:
    modules = imported_by("-q", "validate", str(CONFIGS / "chat-70b-h100.yaml"))
    assert "infersim.scenario.preflight" in modules and "infersim.perf" in modules
    assert heavy(modules) == []
    # no numpy: the preflight builds perf models and prices, it draws and reads no arrays
    assert not any(m == "numpy" or m.startswith("numpy.") for m in modules)
    assert not {"infersim.workload.stream", "infersim.workload.trace"} & modules
    assert not {"infersim.economics.evaluate", "infersim.economics.margins"} & modules
    assert {m for m in modules if m.startswith("infersim.cli.")} == {
        "infersim.cli.app",
        "infersim.cli.common",
        "infersim.cli.validate",
    }


@pytest.mark.parametrize(
    "config",
    [
        "traces/azure-conv-replay.yaml",  # a trace, read into arrays
        "analysis/s2-price-decline.yaml",  # a difficulty router, planned on a grid
    ],
)
def test_validate_imports_numpy_where_the_scenario_needs_it(config: str) -> None:
    modules = imported_by("validate", str(CONFIGS / config))
    assert "numpy" in modules


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_loads_under_its_name(name: str) -> None:
    assert load_command(name).name == name


def test_help_lists_every_command_in_order(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    first_words = [line.strip("│ ").split(" ")[0] for line in result.stdout.splitlines()]
    assert [word for word in first_words if word in COMMANDS] == list(COMMANDS)


def test_a_mistyped_command_is_still_suggested(runner: CliRunner) -> None:
    result = runner.invoke(app, ["valdate"])
    assert result.exit_code == 2
    assert "Did you mean 'validate'?" in result.stderr
