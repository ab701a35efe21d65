"""Read trace and empirical-length files (the only file reading in the workload package;
the CLI calls it, and `simulate` receives the data).

A trace is CSV (with a header) or JSONL with fields `timestamp_s`, `prompt_tokens`,
`output_tokens`, and optionally `cached_prefix_tokens` and `class`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infersim.errors import ConfigError, Problem
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Empirical, Trace
from infersim.yamlio import read_text_file

REQUIRED = ("timestamp_s", "prompt_tokens", "output_tokens")
MAX_ROWS = 20_000_000
#: The most tokens one row may give (the scenario's bound on token counts).
MAX_TOKENS = 10_000_000


@dataclass(frozen=True)
class TraceData:
    times_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    cached_prefix_tokens: NDArray[np.int64]
    classes: tuple[str | None, ...]


@dataclass(frozen=True)
class ExternalData:
    """File contents a scenario refers to, keyed by the path as written in the scenario."""

    traces: Mapping[str, TraceData] = field(default_factory=dict)
    empirical: Mapping[str, NDArray[np.int64]] = field(default_factory=dict)


def _rows(path: Path, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    text = read_text_file(path)
    if fmt == "jsonl":
        rows: list[tuple[int, dict[str, Any]]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    [Problem(str(path), number, "", f"bad JSON: {exc.msg}")]
                ) from None
            if not isinstance(row, dict):
                raise ConfigError(
                    [Problem(str(path), number, "", "each line must be a JSON object")]
                )
            rows.append((number, row))
        return rows
    reader = csv.DictReader(io.StringIO(text))
    return [(reader.line_num, dict(row)) for row in reader]


def _int(path: Path, line: int, row: dict[str, Any], key: str, minimum: int) -> int:
    got = row.get(key)
    try:
        if isinstance(got, bool):  # JSON true is not a token count
            raise TypeError
        value = float(row[key])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            [Problem(str(path), line, key, f"expected a number >= {minimum}, got {got!r}")]
        ) from None
    if not value.is_integer() or value < minimum:
        raise ConfigError(
            [Problem(str(path), line, key, f"expected an integer >= {minimum}, got {value:g}")]
        )
    if value > MAX_TOKENS:
        raise ConfigError(
            [
                Problem(
                    str(path), line, key, f"expected at most {MAX_TOKENS:,} tokens, got {value:g}"
                )
            ]
        )
    return int(value)


def read_trace(path: Path, fmt: str | None) -> TraceData:
    kind = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    rows = _rows(path, kind)
    if not rows:
        raise ConfigError([Problem(str(path), None, "", "trace is empty")])
    if len(rows) > MAX_ROWS:
        raise ConfigError([Problem(str(path), None, "", f"trace has over {MAX_ROWS} rows")])
    times, prompts, outputs, cached, classes = [], [], [], [], []
    for line, row in rows:
        try:
            if isinstance(row.get("timestamp_s"), bool):
                raise TypeError
            t = float(row["timestamp_s"])
        except (KeyError, TypeError, ValueError):
            got = row.get("timestamp_s")
            raise ConfigError(
                [Problem(str(path), line, "timestamp_s", f"expected seconds, got {got!r}")]
            ) from None
        if not np.isfinite(t) or t < 0:
            raise ConfigError([Problem(str(path), line, "timestamp_s", f"must be >= 0, got {t}")])
        times.append(t)
        prompts.append(_int(path, line, row, "prompt_tokens", 1))
        outputs.append(_int(path, line, row, "output_tokens", 1))
        has_cached = row.get("cached_prefix_tokens") not in (None, "")
        cached.append(_int(path, line, row, "cached_prefix_tokens", 0) if has_cached else 0)
        if cached[-1] > prompts[-1]:
            raise ConfigError(
                [Problem(str(path), line, "cached_prefix_tokens", "exceeds prompt_tokens")]
            )
        label = row.get("class")
        classes.append(str(label) if label not in (None, "") else None)
    order = np.argsort(np.asarray(times), kind="stable")
    return TraceData(
        np.asarray(times, dtype=np.float64)[order],
        np.asarray(prompts, dtype=np.int64)[order],
        np.asarray(outputs, dtype=np.int64)[order],
        np.asarray(cached, dtype=np.int64)[order],
        tuple(classes[i] for i in order),
    )


def read_empirical(path: Path, column: str | None) -> NDArray[np.int64]:
    """Token counts, one per line, or a named column of a CSV file."""
    text = read_text_file(path)
    values: list[int] = []
    if column is not None:
        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            values.append(_int(path, reader.line_num, row, column, 1))
    else:
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip() and not raw.lstrip().startswith("#"):
                values.append(_int(path, line, {"value": raw.strip()}, "value", 1))
    if not values:
        raise ConfigError([Problem(str(path), None, "", "no token counts in file")])
    return np.asarray(values, dtype=np.int64)


def load_external_data(scenario: Scenario, base_dir: Path | None) -> ExternalData:
    """Read every trace and empirical file the scenario names (relative to base_dir)."""
    traces: dict[str, TraceData] = {}
    empirical: dict[str, NDArray[np.int64]] = {}
    if base_dir is None:
        return ExternalData()
    for cls in scenario.workload.classes.values():
        if isinstance(cls.arrival, Trace) and cls.arrival.path not in traces:
            traces[cls.arrival.path] = read_trace(base_dir / cls.arrival.path, cls.arrival.format)
        for dist in (cls.prompt_tokens, cls.output_tokens):
            if isinstance(dist, Empirical) and dist.path not in empirical:
                empirical[dist.path] = read_empirical(base_dir / dist.path, dist.column)
    return ExternalData(traces, empirical)
