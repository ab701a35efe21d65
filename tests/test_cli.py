"""The command line: formats, atomic output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CONFIGS
from infersim import __version__
from infersim.cli.app import app
from infersim.scenario.schema import scenario_json_schema_text

SMALL = str(CONFIGS.parent / "tests" / "scenarios" / "cli-small.yaml")


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stdout: str, stderr: str, fragment: str) -> None:
    assert code == 2
    assert "Traceback" not in stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_version(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "--version")
    assert (code, out) == (0, f"infersim {__version__}\n")


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infersim", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == f"infersim {__version__}"


def test_run_without_a_file_uses_the_builtin_default(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "run")
    assert code == 0
    assert "default-chat: serving" in out and "llama-3.1-70b" in out
    assert "TTFT p99" in out and err == ""


def test_run_json_is_deterministic_and_versioned(runner: CliRunner) -> None:
    first = invoke(runner, "run", SMALL, "--format", "json")
    second = invoke(runner, "run", SMALL, "--format", "json")
    assert first[0] == 0 and first[1] == second[1]
    data = json.loads(first[1])
    assert data["schema_version"] == 1
    served = data["runs"][0]["serving"]["deployments"]["main"]
    assert served["gpu"] == "h100-sxm" and served["mode"] == "des"
    assert served["completed"] == served["requests"] > 0


def test_run_variant_and_all_variants(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "run", SMALL, "--variant", "h200", "-f", "json")
    assert code == 0
    assert json.loads(out)["runs"][0]["serving"]["deployments"]["main"]["gpu"] == "h200-sxm"
    code, out, _ = invoke(runner, "run", SMALL, "--all-variants", "-f", "json")
    runs = json.loads(out)["runs"]
    assert [r["variant"] for r in runs] == [None, "int4", "h200", "b200-fp4"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("run", SMALL, "--variant", "h20"), "unknown variant 'h20' — did you mean 'h200'?"),
        (("run", SMALL, "--variant", "h200", "--all-variants"), "not both"),
        (("run", "missing.yaml"), "missing.yaml: file not found"),
        (("run", str(CONFIGS)), "is a directory"),
        (("catalog", "show", "gpus", "h100"), "did you mean 'h100-sxm'?"),
        (("catalog", "show", "prices", "openai:gpt4o"), "did you mean 'gpt-4o'?"),
        (("catalog", "prices", "--provider", "opnai"), "did you mean 'openai'?"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    runner: CliRunner, args: tuple[str, ...], fragment: str
) -> None:
    assert_one_line_error(*invoke(runner, *args), fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("catalog", "gpus", "--format", "xml"), "--format: 'xml' is not a format"),
        (("run", "--bogus"), "No such option: --bogus"),
        (("run", "-o", "/nonexistent/dir/out.json"), "/nonexistent/dir does not exist"),
        (("schema", "-o", "/"), "is a directory"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: tuple[str, ...], fragment: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infersim", *args], capture_output=True, text=True, check=False
    )
    assert_one_line_error(done.returncode, done.stdout, done.stderr, fragment)


def test_output_file_is_written_atomically(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = invoke(runner, "run", SMALL, "-f", "json", "-o", str(target))
    assert code == 0 and out == "" and f"wrote {target}" in err
    assert target.read_text(encoding="utf-8") == invoke(runner, "run", SMALL, "-f", "json")[1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_failed_run_leaves_an_existing_output_untouched(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous", encoding="utf-8")
    code, _, _ = invoke(runner, "run", SMALL, "--variant", "nope", "-o", str(target))
    assert code == 2 and target.read_text(encoding="utf-8") == "previous"


@pytest.mark.parametrize("kind", ["gpus", "models", "prices"])
def test_catalog_listings_in_every_format(runner: CliRunner, kind: str) -> None:
    table = invoke(runner, "catalog", kind)[1]
    as_json = json.loads(invoke(runner, "catalog", kind, "-f", "json")[1])
    csv_text = invoke(runner, "catalog", kind, "-f", "csv")[1]
    markdown = invoke(runner, "catalog", kind, "-f", "markdown")[1]
    assert len(as_json) >= 8
    assert len(csv_text.strip().splitlines()) == len(as_json) + 1
    assert markdown.startswith(f"### {kind}")
    assert all(entry["id"] in table for entry in as_json)
    assert "\x1b[" not in table  # NO_COLOR and not a terminal: plain text


def test_catalog_show_lists_sources(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "catalog", "show", "gpus", "h100-sxm", "-f", "json")
    data = json.loads(out)
    assert code == 0 and data["sources"] and data["checked"]
    code, out, _ = invoke(runner, "catalog", "show", "prices", "openai:gpt-4o@2025-06-01")
    assert code == 0 and "genai-prices" in out and "2025-06-01" in out


def test_schema_command_prints_the_committed_schema(runner: CliRunner) -> None:
    assert invoke(runner, "schema")[1] == scenario_json_schema_text()


def test_quiet_silences_diagnostics(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "--quiet", "run")
    assert code == 0 and out and err == ""


def test_internal_error_is_one_line_unless_debug(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("infersim.cli.run.validate_file", boom)
    assert_one_line_error(*invoke(runner, "run"), "internal error: RuntimeError: kaboom")
    result = runner.invoke(app, ["--debug", "run"])
    assert isinstance(result.exception, RuntimeError)


def test_catalog_dir_adds_entries_for_every_command(runner: CliRunner, tmp_path: Path) -> None:
    import yaml

    from infersim.catalog.load import load_builtin

    h100 = load_builtin().gpu("h100-sxm").model_dump(mode="json")
    entry = {**h100, "id": "my-h100", "name": "My H100", "memory_gb": 96.0}
    (tmp_path / "gpus.yaml").write_text(yaml.safe_dump([entry]), encoding="utf-8")
    code, out, _ = invoke(runner, "--catalog", str(tmp_path), "catalog", "show", "gpus", "my-h100")
    assert code == 0 and "My H100" in out
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        Path(SMALL).read_text(encoding="utf-8").replace("gpu: h100-sxm", "gpu: my-h100"),
        encoding="utf-8",
    )
    assert invoke(runner, "validate", str(scenario))[0] == 2  # unknown without the directory
    assert invoke(runner, "--catalog", str(tmp_path), "validate", str(scenario))[0] == 0


def test_inline_catalog_entries_are_validated_and_usable(tmp_path: Path) -> None:
    import yaml

    from infersim.catalog.load import load_builtin
    from infersim.errors import ConfigError
    from infersim.scenario.load import load_scenario

    model = load_builtin().model("llama-3.1-8b").model_dump(mode="json")
    data = yaml.safe_load(Path(SMALL).read_text(encoding="utf-8"))
    data["catalog"] = {"models": [{**model, "id": "my-8b"}]}
    data["deployments"]["main"]["model"] = "my-8b"
    path = tmp_path / "inline.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_scenario(path).catalog.model("my-8b").num_layers == 32
    data["catalog"]["models"][0]["num_layers"] = -1
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"catalog\.models\.0\.num_layers"):
        load_scenario(path)


def test_html_report_is_written_for_run_and_refused_elsewhere(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    code, _, _ = invoke(runner, "run", SMALL, "-f", "html", "-o", str(target))
    page = target.read_text(encoding="utf-8")
    assert code == 0 and page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "cli-small" in page and __version__ in page
    assert_one_line_error(*invoke(runner, "catalog", "gpus", "-f", "html"), "--format html is")


def test_html_without_the_report_extra_names_it_before_any_work(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    target = tmp_path / "report.html"
    result = invoke(runner, "run", SMALL, "-f", "html", "-o", str(target))
    assert_one_line_error(*result, "pip install 'infersim[report]'")
    assert not target.exists()


def test_terminal_histogram_follows_the_run_tables_in_plain_text(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "run")
    assert code == 0
    assert "margin per subscriber of plus, month 1" in out
    assert "|#" in out and "█" not in out  # not a terminal: plain characters


def test_sweep_writes_an_html_report(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "sweep.html"
    args = ("sweep", SMALL, "--set", "deployments.main.replicas=1,2", "-f", "html")
    code, _, _ = invoke(runner, *args, "-o", str(target))
    assert code == 0 and "<svg" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS))
)
def test_every_shipped_configs_summary_tables_render(path: Path) -> None:
    """The tables `run` prints before its results, for every shipped scenario (a GPU with no
    rental quote, like a local one, has an empty catalog-rate cell)."""
    from infersim.cli.run import summary_tables
    from infersim.report.tables import render_markdown, render_rich
    from infersim.scenario.load import load_scenario

    tables = summary_tables(load_scenario(path))
    assert tables and render_rich(tables, width=100) and render_markdown(tables)
