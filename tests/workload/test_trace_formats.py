"""Traces read in their published formats (detected or named), replay shaping, and the safety
of reading them: confined paths, short excerpts, one-line errors naming file:line and column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from infersim.errors import ConfigError
from infersim.scenario.model import Scenario
from infersim.scenario.paths import confined
from infersim.scenario.workload import Trace
from infersim.workload.stream import build_requests
from infersim.workload.trace import (
    TraceData,
    describe_replay,
    load_external_data,
    read_trace,
    replay,
    replay_rate_per_s,
)

TRACES = Path(__file__).resolve().parents[2] / "configs" / "traces"
AZURE = TRACES / "azure-llm-2023-conv.csv"
MOONCAKE = TRACES / "mooncake-synthetic.jsonl"
BURST = (
    "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
    "5,ChatGPT,472,18,490,Conversation log\n"
    "45,ChatGPT,1087,0,1087,Conversation log\n"
    "118,GPT-4,417,276,693,Conversation log\n"
    "100,ChatGPT,230,12,242,API log\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def trace(**fields: object) -> Trace:
    return Trace.model_validate({"process": "trace", "path": "t", **fields})


def test_the_shipped_azure_trace_reads_as_published() -> None:
    t = read_trace(AZURE, None)
    assert t.format == "azure" and len(t.times_s) == 19_366
    assert (t.times_s[-1] - t.times_s[0]) / 3600 == pytest.approx(0.973, abs=5e-4)
    assert t.prompt_tokens.mean() == pytest.approx(1154.7, abs=0.05)
    assert t.output_tokens.mean() == pytest.approx(211.1, abs=0.05)
    assert (int(t.prompt_tokens.max()), int(t.output_tokens.max())) == (14_050, 1_000)
    # TIMESTAMP keeps its 7 decimals to the 100 ns numpy reads: 2023-11-16 18:15:46.6805900
    assert t.times_s[0] == pytest.approx(1700158546.68059, abs=1e-6)


def test_the_shipped_mooncake_trace_reads_with_its_block_hashes() -> None:
    t = read_trace(MOONCAKE, None)
    assert t.format == "mooncake" and len(t.times_s) == 3_993
    assert t.prompt_tokens.mean() == pytest.approx(15_325, abs=0.5)
    assert t.output_tokens.mean() == pytest.approx(149, abs=0.5)
    assert t.times_s[-1] == pytest.approx(1022.025)  # milliseconds read as seconds
    first = json.loads(MOONCAKE.read_text(encoding="utf-8").splitlines()[0])
    assert t.blocks_of(0).tolist() == first["hash_ids"]
    assert len(t.hash_offsets) == len(t.times_s) + 1


def test_burstgpt_model_is_the_label_and_zero_token_failures_are_counted_and_dropped(
    tmp_path: Path,
) -> None:
    t = read_trace(write(tmp_path, "burst.csv", BURST), None)
    assert t.format == "burstgpt"
    assert t.dropped_zero_token_rows == 1
    assert t.times_s.tolist() == [5.0, 100.0, 118.0]  # sorted
    assert t.rows_out_of_order == 1
    assert t.classes == ("ChatGPT", "ChatGPT", "GPT-4")
    shaped = replay(trace(label="GPT-4"), t, 1e6)
    assert shaped.rows.tolist() == [2] and shaped.times_s.tolist() == [0.0]


def test_a_column_mapping_reads_any_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.csv", "when_ms,in,out\n1500,10,3\n500,20,4\n")
    arrival = trace(columns={"timestamp": "when_ms", "prompt_tokens": "in",
                             "output_tokens": "out", "timestamp_unit": "ms"})  # fmt: skip
    t = read_trace(path, None, arrival)
    assert t.times_s.tolist() == [0.5, 1.5] and t.prompt_tokens.tolist() == [20, 10]
    assert t.rows_out_of_order == 1


def test_rows_out_of_order_keep_their_own_block_hashes(tmp_path: Path) -> None:
    rows = [
        {"timestamp": 2000, "input_length": 600, "output_length": 1, "hash_ids": [7, 8]},
        {"timestamp": 1000, "input_length": 100, "output_length": 1, "hash_ids": [5]},
        {"timestamp": 3000, "input_length": 1100, "output_length": 1, "hash_ids": [7, 8, 9]},
    ]
    path = write(tmp_path, "m.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    t = read_trace(path, None)
    assert [t.blocks_of(i).tolist() for i in range(3)] == [[5], [7, 8], [7, 8, 9]]
    assert t.prompt_tokens.tolist() == [100, 600, 1100]


BAD = [
    # (file name, text, format, expected start after the path, words)
    ("a.csv", "when,in,out\n1,2,3\n", None, ":1: ", ["unknown trace format", "arrival.columns"]),
    ("a.csv", "TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.68,3\n", None, ":1: GeneratedTokens: ",
     ["missing column"]),
    ("a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,3,4\n", None, ":2: TIMESTAMP: ",
     ["expected a datetime", "'yesterday'"]),
    ("a.csv", "timestamp_s,prompt_tokens,output_tokens\n-3,3,4\n", None, ":2: timestamp_s: ",
     [">= 0"]),
    ("a.csv", "timestamp_s,prompt_tokens,output_tokens\n1,3\n", None, ":2: ",
     ["expected 3 columns"]),
    ("a.jsonl", '{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [1.5]}\n',
     None, ":1: hash_ids: ", ["list of block ids"]),
    ("a.jsonl", '{"timestamp": 1, "input_length": 5000, "output_length": 1, "hash_ids": [1]}\n',
     None, ": hash_ids: ", ["hash_block_tokens"]),
    ("a.jsonl", '{"timestamp": -1, "input_length": 5, "output_length": 1}\n', None,
     ":1: timestamp: ", [">= 0"]),
    ("a.csv", "timestamp_s,prompt_tokens,output_tokens\n1,3,4\n", "azure", ":1: TIMESTAMP: ",
     ["missing column"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "fmt", "where", "words"), BAD)
def test_bad_trace_is_one_line_naming_file_line_and_column(
    tmp_path: Path, name: str, text: str, fmt: str | None, where: str, words: list[str]
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        read_trace(path, fmt)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}"), message
    assert "\n" not in message
    for word in words:
        assert word in message


def test_errors_quote_only_a_short_printable_excerpt(tmp_path: Path) -> None:
    secret = "SECRET_TOKEN=" + "x" * 500 + "\x1b[31m"
    path = write(tmp_path, "a.csv", f"timestamp_s,prompt_tokens,output_tokens\n{secret},1,1\n")
    with pytest.raises(ConfigError) as caught:
        read_trace(path, None)
    message = str(caught.value)
    assert "x" * 60 not in message and "\x1b" not in message
    assert len(message) < len(str(path)) + 200


def test_a_file_that_is_not_utf8_or_not_regular_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"timestamp_s,prompt_tokens,output_tokens\n1,2,\xff\xfe\n")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        read_trace(path, None)
    with pytest.raises(ConfigError, match="directory"):
        read_trace(tmp_path, None)


@pytest.mark.parametrize("ref", ["../outside.csv", "/etc/passwd", "../../../../proc/self/environ",
                                 "sub/../../outside.csv"])  # fmt: skip
def test_data_paths_are_confined_to_the_scenario_tree(tmp_path: Path, ref: str) -> None:
    base = tmp_path / "scenarios"
    base.mkdir()
    with pytest.raises(ConfigError) as caught:
        confined(base, ref)
    assert "directory" in str(caught.value)


def test_a_link_pointing_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "scenarios"
    base.mkdir()
    write(tmp_path, "outside.csv", "timestamp_s,prompt_tokens,output_tokens\n0,1,1\n")
    (base / "link.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(ConfigError, match="outside the scenario's directory tree"):
        confined(base, "link.csv")
    assert confined(base, "./sub/../link.csv".replace("link", "ok")) == (base / "ok.csv")


# ---------------------------------------------------------------------------------------------
# Replay shaping
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def azure() -> TraceData:
    return read_trace(AZURE, None)


def test_window_and_speed(azure: TraceData) -> None:
    base = replay(trace(), azure, 1e9)
    assert len(base.times_s) == 19_366 and base.times_s[0] == 0.0
    window = replay(trace(start_s=600, duration_s=600), azure, 1e9)
    inside = (azure.times_s - azure.times_s[0] >= 600) & (azure.times_s - azure.times_s[0] < 1200)
    assert len(window.times_s) == int(inside.sum())
    assert window.times_s.min() >= 0 and window.times_s.max() < 600
    fast = replay(trace(rate_scale=2.0), azure, 1e9)
    np.testing.assert_allclose(fast.times_s, base.times_s / 2)
    rate = replay_rate_per_s(trace(target_rate_per_s=10.0), azure)
    assert rate == pytest.approx(10.0)
    target = replay(trace(target_rate_per_s=10.0), azure, 1e9)
    assert len(target.times_s) / target.period_s == pytest.approx(10.0)


def test_loop_fills_the_horizon_at_the_traces_rate(azure: TraceData) -> None:
    day = 86_400.0
    looped = replay(trace(loop=True), azure, day)
    assert looped.passes == 25 and looped.times_s.max() < day
    assert np.all(np.diff(looped.times_s) >= 0)
    assert len(looped.times_s) / day == pytest.approx(replay_rate_per_s(trace(), azure), rel=0.01)
    assert "looped x25" in describe_replay(trace(loop=True), azure, day)


def test_sample_share_thins_the_replay_reproducibly(tmp_path: Path) -> None:
    s = Scenario.model_validate(
        {
            "name": "t",
            "deployments": {"main": {"model": "llama-3.1-8b", "gpu": "h100-sxm"}},
            "workload": {
                "classes": {
                    "c": {
                        "arrival": {
                            "process": "trace",
                            "path": "azure-llm-2023-conv.csv",
                            "sample_share": 0.25,
                        }
                    }
                }
            },
        }
    )
    data = load_external_data(s, TRACES)
    one = build_requests(s, data, 3600.0, np.random.default_rng(5))
    two = build_requests(s, data, 3600.0, np.random.default_rng(5))
    np.testing.assert_array_equal(one.time_s, two.time_s)
    assert len(one) == pytest.approx(19_366 * 0.25, rel=0.05)
    assert one.trace_row is not None and np.all(one.trace_row >= 0)


def test_one_speed_only() -> None:
    with pytest.raises(ValueError, match="at most one of"):
        trace(rate_scale=2.0, target_rate_per_s=3.0)


def test_mooncake_lines_read_the_same_by_the_fast_path_and_by_json(tmp_path: Path) -> None:
    """The published line shape is read without a JSON parser; any other shape (keys in
    another order, other spacing) goes through JSON, with the same result."""
    canonical = MOONCAKE.read_text(encoding="utf-8").splitlines()[:300]
    other = [json.dumps(dict(reversed(json.loads(line).items())), indent=None,
                        separators=(",", ":")) for line in canonical]  # fmt: skip
    fast = read_trace(write(tmp_path, "a.jsonl", "\n".join(canonical) + "\n"), None)
    slow = read_trace(write(tmp_path, "b.jsonl", "\n\n".join(other) + "\n"), None)
    for field in ("times_s", "prompt_tokens", "output_tokens", "hash_ids", "hash_offsets"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))
    assert slow.format == "mooncake"
