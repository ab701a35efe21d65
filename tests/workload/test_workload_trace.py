"""Reading traces (CSV and JSONL) and empirical length files; a bad row is a `ConfigError`
that names the file and the line, never a traceback. Fixtures live in `data/`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infersim.errors import ConfigError
from infersim.scenario.model import Scenario
from infersim.serving.simulate import simulate
from infersim.workload.stream import build_requests
from infersim.workload.trace import (
    ExternalData,
    load_external_data,
    read_empirical,
    read_trace,
)

DATA = Path(__file__).resolve().parent / "data"
HEADER = "timestamp_s,prompt_tokens,output_tokens,cached_prefix_tokens,class\n"


@pytest.mark.parametrize("name", ["trace.csv", "trace.jsonl"])
def test_trace_fixture_is_read_in_time_order(name: str) -> None:
    trace = read_trace(DATA / name, None)
    np.testing.assert_array_equal(trace.times_s, [100.0, 100.25, 100.5, 101.25, 102.0, 103.0])
    np.testing.assert_array_equal(trace.prompt_tokens, [1200, 600, 800, 4000, 2500, 90])
    np.testing.assert_array_equal(trace.output_tokens, [300, 400, 150, 50, 700, 10])
    np.testing.assert_array_equal(trace.cached_prefix_tokens, [200, 0, 0, 1000, 500, 0])
    assert trace.classes == ("chat", None, "chat", "summarize", "summarize", "chat")
    assert trace.prompt_tokens.dtype == np.int64


def test_csv_and_jsonl_fixtures_agree() -> None:
    csv, jsonl = read_trace(DATA / "trace.csv", None), read_trace(DATA / "trace.jsonl", None)
    for field in ("times_s", "prompt_tokens", "output_tokens", "cached_prefix_tokens"):
        np.testing.assert_array_equal(getattr(csv, field), getattr(jsonl, field))
    assert csv.classes == jsonl.classes


def test_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    path.write_text((DATA / "trace.jsonl").read_text())
    assert len(read_trace(path, "jsonl").times_s) == 6


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_CSV = [
    # (rows after the header, line of the bad row, words the message must hold)
    ("0,10,5,,\n1,abc,5,,\n", 3, ["prompt_tokens", "'abc'"]),
    ("0,10,5,,\n1,10,5,,\n2,10,2.5,,\n", 4, ["output_tokens", "integer", "2.5"]),
    ("-1,10,5,,\n", 2, ["timestamp_s", ">= 0"]),
    ("0,10,5,,\nsoon,10,5,,\n", 3, ["timestamp_s", "'soon'"]),
    ("0,0,5,,\n", 2, ["prompt_tokens", ">= 1"]),
    ("0,10,5,11,\n", 2, ["cached_prefix_tokens", "exceeds prompt_tokens"]),
    ("0,10,5,-1,\n", 2, ["cached_prefix_tokens", ">= 0"]),
    ("0,10,nan,,\n", 2, ["output_tokens"]),
]


@pytest.mark.parametrize(("rows", "line", "words"), BAD_CSV)
def test_bad_csv_row_names_file_and_line(
    tmp_path: Path, rows: str, line: int, words: list[str]
) -> None:
    path = write(tmp_path, "bad.csv", HEADER + rows)
    with pytest.raises(ConfigError) as caught:
        read_trace(path, None)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    for word in words:
        assert word in message


def test_missing_column_names_the_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "timestamp_s,prompt_tokens\n0,10\n")
    with pytest.raises(ConfigError, match=r"bad\.csv:1: output_tokens: missing column"):
        read_trace(path, None)


def test_bad_csv_row_after_a_blank_line_names_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", HEADER + "0,10,5,,\n\n1,abc,5,,\n")
    with pytest.raises(ConfigError) as caught:
        read_trace(path, None)
    assert str(caught.value).startswith(f"{path}:4: ")


BAD_JSONL = [
    ('{"timestamp_s": 0, "prompt_tokens": 10, "output_tokens": 5}\n{"timestamp_s": 1,\n', 2,
     "bad JSON"),
    ('{"timestamp_s": 0, "prompt_tokens": 10, "output_tokens": 5}\n\n[1, 2, 3]\n', 3,
     "each line must be a JSON object"),
    ('{"timestamp_s": 0, "prompt_tokens": 10}\n', 1, "output_tokens"),
    ('{"timestamp_s": 0, "prompt_tokens": "ten", "output_tokens": 5}\n', 1, "'ten'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "words"), BAD_JSONL)
def test_bad_jsonl_row_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(ConfigError) as caught:
        read_trace(path, None)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message


@pytest.mark.parametrize(("name", "text"), [("empty.csv", HEADER), ("empty.jsonl", "\n\n")])
def test_empty_trace_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match="trace is empty"):
        read_trace(path, None)


def test_missing_trace_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_trace(tmp_path / "nowhere.csv", None)


def test_empirical_lengths_one_per_line_or_a_column() -> None:
    lines = read_empirical(DATA / "lengths.txt", None)
    column = read_empirical(DATA / "lengths.csv", "output_tokens")
    np.testing.assert_array_equal(lines, [120, 35, 980, 35, 410])
    np.testing.assert_array_equal(lines, column)
    assert lines.dtype == np.int64


def test_bad_empirical_value_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "lengths.txt", "# comment\n12\n0\n")
    with pytest.raises(ConfigError) as caught:
        read_empirical(path, None)
    assert str(caught.value).startswith(f"{path}:3: ")
    path = write(tmp_path, "lengths.csv", "id,tokens\na,12\nb,x\n")
    with pytest.raises(ConfigError) as caught:
        read_empirical(path, "tokens")
    assert str(caught.value).startswith(f"{path}:3: tokens")


def test_empirical_file_without_values_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no token counts"):
        read_empirical(write(tmp_path, "lengths.txt", "# nothing yet\n\n"), None)


def trace_scenario(**trace: object) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "replay",
            "deployments": {"main": {"model": "llama-3.1-8b", "gpu": "h100-sxm"}},
            "fleet": {"replications": 1},
            "workload": {
                "classes": {
                    "replay": {
                        "arrival": {"process": "trace", "path": "trace.csv", **trace},
                    }
                }
            },
            "horizon": {"simulated_s": 60},
        }
    )


def test_trace_replay_uses_the_trace_rows_from_time_zero() -> None:
    s = trace_scenario(time_scale=2.0)
    data = load_external_data(s, DATA)
    assert set(data.traces) == {"trace.csv"} and not data.empirical
    r = build_requests(s, data, 60.0, np.random.default_rng(1))
    np.testing.assert_array_equal(r.time_s, [0.0, 0.5, 1.0, 2.5, 4.0, 6.0])
    np.testing.assert_array_equal(r.prompt_tokens, [1200, 600, 800, 4000, 2500, 90])
    np.testing.assert_array_equal(r.output_tokens, [300, 400, 150, 50, 700, 10])
    np.testing.assert_array_equal(r.cached_tokens, [200, 0, 0, 1000, 500, 0])


def test_trace_replay_stops_at_the_horizon() -> None:
    s = trace_scenario()
    r = build_requests(s, load_external_data(s, DATA), 2.0, np.random.default_rng(1))
    np.testing.assert_array_equal(r.time_s, [0.0, 0.25, 0.5, 1.25])


def test_simulating_a_trace_serves_every_row() -> None:
    s = trace_scenario()
    d = simulate(s, data=load_external_data(s, DATA)).deployments[0]
    assert d.requests == d.completed == 6
    assert d.input_tokens == 1200 + 600 + 800 + 4000 + 2500 + 90
    assert d.output_tokens == 300 + 400 + 150 + 50 + 700 + 10


def test_no_base_dir_reads_nothing() -> None:
    assert load_external_data(trace_scenario(), None) == ExternalData()
