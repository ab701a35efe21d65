"""The published trace formats, read as their owners publish them, streaming.

A format says which columns (CSV) or keys (JSONL) hold the arrival time, the prompt and output
token counts, and optionally a class label, cached prefix tokens and prefix block hashes:

- `infersim`: CSV or JSONL `timestamp_s, prompt_tokens, output_tokens` (optional
  `cached_prefix_tokens`, `class`);
- `azure`: Azure LLM inference 2023/2024 CSV `TIMESTAMP` (a datetime), `ContextTokens`,
  `GeneratedTokens`;
- `mooncake`: Mooncake JSONL `timestamp` (ms), `input_length`, `output_length`, `hash_ids`;
- `burstgpt`: BurstGPT CSV `Timestamp` (s), `Model`, `Request tokens`, `Response tokens`,
  `Total tokens`, `Log Type`; `Model` is the class label; rows with zero tokens (failed
  requests) are counted and dropped;
- any CSV through a column mapping.

Files are read in chunks of rows: each chunk's columns are converted with numpy at once, and
only a chunk that fails is scanned row by row to name the line and the column at fault.
Errors quote at most a short, printable excerpt of the file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from infersim.errors import ConfigError, Problem

#: Largest trace file read (bytes): above the published week-long traces, below what a
#: laptop holds as arrays.
MAX_TRACE_BYTES = 4 * 1024**3
MAX_ROWS = 20_000_000
#: The most tokens one row may give (the scenario's bound on token counts).
MAX_TOKENS = 10_000_000
#: Rows converted at once.
CHUNK_ROWS = 65_536
#: Characters of a data file an error may quote.
EXCERPT_CHARS = 40

TimeUnit = str  # "s" | "ms" | "datetime"


@dataclass(frozen=True)
class TraceFormat:
    """Where a format keeps each field (column or key names) and its time unit."""

    name: str
    timestamp: str
    prompt_tokens: str
    output_tokens: str
    timestamp_unit: TimeUnit = "s"
    cached_prefix_tokens: str | None = None
    label: str | None = None
    hash_ids: str | None = None
    drop_zero_tokens: bool = False
    """Zero-token rows are failed requests (counted and dropped), not an error."""


INFERSIM = TraceFormat(
    "infersim", "timestamp_s", "prompt_tokens", "output_tokens", "s", "cached_prefix_tokens",
    "class",
)  # fmt: skip
AZURE = TraceFormat("azure", "TIMESTAMP", "ContextTokens", "GeneratedTokens", "datetime")
MOONCAKE = TraceFormat(
    "mooncake", "timestamp", "input_length", "output_length", "ms", hash_ids="hash_ids"
)
BURSTGPT = TraceFormat(
    "burstgpt", "Timestamp", "Request tokens", "Response tokens", "s", label="Model",
    drop_zero_tokens=True,
)  # fmt: skip
FORMATS = {f.name: f for f in (INFERSIM, AZURE, MOONCAKE, BURSTGPT)}
FORMAT_NAMES = ("csv", "jsonl", *FORMATS)


@dataclass(frozen=True)
class RawTrace:
    """A trace's rows as read, in file order (times in seconds since the format's origin)."""

    format: str
    times_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    cached_prefix_tokens: NDArray[np.int64]
    labels: tuple[str | None, ...]
    hash_ids: NDArray[np.int64]
    hash_counts: NDArray[np.int64]
    """Per row, how many of `hash_ids` are its blocks (0 without hashes)."""
    dropped_zero_token_rows: int


def excerpt(value: object) -> str:
    """A short, printable quotation of a value read from a data file."""
    if not isinstance(value, str):
        text = ascii(value)
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."
    shown = ascii(value[:EXCERPT_CHARS])
    return shown if len(value) <= EXCERPT_CHARS else shown[:-1] + "...'"


def _fail(path: Path, line: int | None, column: str, message: str) -> ConfigError:
    return ConfigError([Problem(str(path), line, column, message)])


def check_size(path: Path) -> None:
    """A regular file within the size limit, else a one-line error."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _fail(path, None, "", "file not found") from None
    except OSError as exc:
        raise _fail(path, None, "", f"cannot read: {exc.strerror}") from None
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, None, "", "is a directory, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, None, "", "not a regular file")
    if info.st_size > MAX_TRACE_BYTES:
        raise _fail(
            path, None, "", f"file too large ({info.st_size:,} bytes, limit {MAX_TRACE_BYTES:,})"
        )


def _lines(handle: TextIO, path: Path) -> Iterator[str]:
    try:
        yield from handle
    except UnicodeDecodeError:
        raise _fail(path, None, "", "not a UTF-8 text file") from None


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------


def container_of(path: Path, fmt: str | None) -> str:
    """'jsonl' or 'csv': from the format, else the first non-blank character, else suffix."""
    if fmt in ("csv", "jsonl"):
        return fmt
    if fmt is not None:
        return "jsonl" if fmt == "mooncake" else "csv"
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("{"):
        return "jsonl"
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"


def detect(path: Path, fields: Sequence[str], line: int, container: str) -> TraceFormat:
    """The format whose required fields the header (or first object) holds."""
    present = set(fields)
    best: tuple[int, TraceFormat] | None = None
    for candidate in FORMATS.values():
        needed = [candidate.timestamp, candidate.prompt_tokens, candidate.output_tokens]
        have = sum(name in present for name in needed)
        if have == 3:
            return candidate
        if have and (best is None or have > best[0]):
            best = (have, candidate)
    if best is not None:  # most of a known format: name the column it lacks
        spec = best[1]
        gone = [n for n in (spec.timestamp, spec.prompt_tokens, spec.output_tokens)
                if n not in present]  # fmt: skip
        kind = "key" if container == "jsonl" else "column"
        raise _fail(
            path, line, gone[0], f"missing {kind} (a {spec.name} trace has "
            f"{spec.timestamp}, {spec.prompt_tokens}, {spec.output_tokens})"
        )  # fmt: skip
    shown = excerpt(",".join(fields))
    kind = "keys" if container == "jsonl" else "header"
    raise _fail(
        path,
        line,
        "",
        f"unknown trace format: {kind} {shown}; known: infersim (timestamp_s, prompt_tokens, "
        "output_tokens), azure (TIMESTAMP, ContextTokens, GeneratedTokens), mooncake "
        "(timestamp, input_length, output_length), burstgpt (Timestamp, Request tokens, "
        "Response tokens); or map the columns with arrival.columns",
    )


# ---------------------------------------------------------------------------------------------
# Column conversion (vectorized, with a row-by-row scan to name a failure)
# ---------------------------------------------------------------------------------------------


def _times(values: Sequence[Any], unit: TimeUnit) -> NDArray[np.float64]:
    if unit == "datetime":
        stamps = np.asarray(values, dtype="datetime64[ns]")
        if np.isnat(stamps).any():
            raise ValueError
        return stamps.astype(np.int64).astype(np.float64) / 1e9
    seconds = np.asarray(values, dtype=np.float64)
    return seconds / 1000.0 if unit == "ms" else seconds


def _time_error(path: Path, line: int, column: str, value: Any, unit: TimeUnit) -> ConfigError:
    want = {"s": "seconds", "ms": "milliseconds", "datetime": "a datetime"}[unit]
    try:
        if isinstance(value, bool):
            raise ValueError
        got = float(_times([value], unit)[0])
    except (ValueError, TypeError, OverflowError):
        return _fail(path, line, column, f"expected {want}, got {excerpt(value)}")
    if not math.isfinite(got):
        return _fail(path, line, column, f"expected a finite time, got {excerpt(value)}")
    return _fail(path, line, column, f"must be >= 0, got {excerpt(value)}")


def _checked_times(
    path: Path, lines: Sequence[int], column: str, values: Sequence[Any], unit: TimeUnit
) -> NDArray[np.float64]:
    try:
        if any(isinstance(v, bool) for v in values):
            raise ValueError
        times = _times(values, unit)
        bad = ~np.isfinite(times) | (times < 0)
    except (ValueError, TypeError, OverflowError):
        bad = None
    if bad is None or bad.any():
        for index, value in enumerate(values):
            try:
                if isinstance(value, bool):
                    raise ValueError
                one = float(_times([value], unit)[0])
                ok = math.isfinite(one) and one >= 0
            except (ValueError, TypeError, OverflowError):
                ok = False
            if not ok:
                raise _time_error(path, lines[index], column, value, unit)
    return times


def _token_error(path: Path, line: int, column: str, value: Any, minimum: int) -> ConfigError:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        return _fail(path, line, column, f"expected a number >= {minimum}, got {excerpt(value)}")
    if not number.is_integer() or number < minimum:
        return _fail(path, line, column, f"expected an integer >= {minimum}, got {number:g}")
    return _fail(path, line, column, f"expected at most {MAX_TOKENS:,} tokens, got {number:g}")


def checked_tokens(
    path: Path, lines: Sequence[int], column: str, values: Sequence[Any], minimum: int
) -> NDArray[np.int64]:
    """Token counts: integers in [minimum, MAX_TOKENS], else the first bad row's error."""
    try:
        if any(isinstance(v, bool) for v in values):
            raise TypeError
        numbers = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(numbers) | (numbers < minimum) | (numbers > MAX_TOKENS)
        bad |= np.where(np.isfinite(numbers), numbers != np.floor(numbers), True)
    except (TypeError, ValueError, OverflowError):
        bad = None
    if bad is not None and not bad.any():
        return numbers.astype(np.int64)
    for index, value in enumerate(values):
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
            ok = number.is_integer() and minimum <= number <= MAX_TOKENS
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise _token_error(path, lines[index], column, value, minimum)
    raise AssertionError("unreachable: a bad value was flagged")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


@dataclass
class _Columns:
    """Accumulated converted chunks."""

    times: list[NDArray[np.float64]]
    prompts: list[NDArray[np.int64]]
    outputs: list[NDArray[np.int64]]
    cached: list[NDArray[np.int64]]
    labels: list[str | None]
    hashes: list[int]
    hash_counts: list[int]
    rows: int = 0
    dropped: int = 0


def _convert(
    path: Path,
    spec: TraceFormat,
    lines: list[int],
    cols: dict[str, list[Any]],
    out: _Columns,
    hashes: list[list[Any]] | None,
) -> None:
    """Convert one chunk of rows and append it (dropping failed zero-token rows if the format
    says they are failures)."""
    if not lines:
        return
    times = _checked_times(path, lines, spec.timestamp, cols[spec.timestamp], spec.timestamp_unit)
    minimum = 0 if spec.drop_zero_tokens else 1
    prompts = checked_tokens(path, lines, spec.prompt_tokens, cols[spec.prompt_tokens], minimum)
    outputs = checked_tokens(path, lines, spec.output_tokens, cols[spec.output_tokens], minimum)
    cached = np.zeros(len(lines), dtype=np.int64)
    if spec.cached_prefix_tokens is not None and spec.cached_prefix_tokens in cols:
        raw = [v if v not in (None, "") else 0 for v in cols[spec.cached_prefix_tokens]]
        cached = checked_tokens(path, lines, spec.cached_prefix_tokens, raw, 0)
        over = np.flatnonzero(cached > prompts)
        if len(over):
            raise _fail(path, lines[over[0]], spec.cached_prefix_tokens, "exceeds prompt_tokens")
    keep: NDArray[np.bool_] | None = None
    if spec.drop_zero_tokens:
        keep = (prompts > 0) & (outputs > 0)
        out.dropped += int(len(keep) - np.count_nonzero(keep))
    labels: list[str | None] = [None] * len(lines)
    if spec.label is not None and spec.label in cols:
        labels = [str(v) if v not in (None, "") else None for v in cols[spec.label]]
    if keep is not None and not keep.all():
        times, prompts, outputs, cached = times[keep], prompts[keep], outputs[keep], cached[keep]
        labels = [label for label, k in zip(labels, keep, strict=True) if k]
        if hashes is not None:
            hashes = [h for h, k in zip(hashes, keep, strict=True) if k]
    out.times.append(times)
    out.prompts.append(prompts)
    out.outputs.append(outputs)
    out.cached.append(cached)
    out.labels.extend(labels)
    if hashes is not None:
        for row in hashes:
            out.hashes.extend(row)
            out.hash_counts.append(len(row))
    out.rows += len(times)


def _count_rows(path: Path, out: _Columns, adding: int, line: int) -> None:
    if out.rows + adding > MAX_ROWS:
        raise _fail(path, line, "", f"trace has over {MAX_ROWS:,} rows (the limit)")


def _read_csv(path: Path, spec: TraceFormat | None, out: _Columns) -> TraceFormat:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(_lines(handle, path))
        try:
            header = next(reader)
        except StopIteration:
            raise _fail(path, None, "", "trace is empty") from None
        except csv.Error as exc:
            raise _fail(path, reader.line_num, "", f"bad CSV: {exc}") from None
        header = [h.strip() for h in header]
        if spec is None:
            spec = detect(path, header, 1, "csv")
        index = {name: i for i, name in enumerate(header)}
        wanted = [spec.timestamp, spec.prompt_tokens, spec.output_tokens]
        for name in wanted:
            if name not in index:
                raise _fail(
                    path, 1, name, f"missing column; the header has {excerpt(','.join(header))}"
                )
        optional = [c for c in (spec.cached_prefix_tokens, spec.label) if c and c in index]
        used = [*wanted, *optional]
        positions = [index[name] for name in used]
        width = len(header)
        while True:
            lines: list[int] = []
            rows: list[list[str]] = []
            try:
                for row in reader:
                    if not row:
                        continue
                    if len(row) != width:
                        raise _fail(
                            path,
                            reader.line_num,
                            "",
                            f"expected {width} columns (as the header), got {len(row)}",
                        )
                    rows.append(row)
                    lines.append(reader.line_num)
                    if len(rows) == CHUNK_ROWS:
                        break
            except csv.Error as exc:
                raise _fail(path, reader.line_num, "", f"bad CSV: {exc}") from None
            if not rows:
                break
            _count_rows(path, out, len(rows), lines[-1])
            cols = {name: [row[p] for row in rows] for name, p in zip(used, positions, strict=True)}
            _convert(path, spec, lines, cols, out, None)
    return spec


def _read_jsonl(path: Path, spec: TraceFormat | None, out: _Columns) -> TraceFormat:
    with path.open(encoding="utf-8-sig") as handle:
        number = 0
        lines: list[int] = []
        objects: list[dict[str, Any]] = []
        for text in _lines(handle, path):
            number += 1
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _fail(path, number, "", f"bad JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise _fail(path, number, "", "each line must be a JSON object")
            if spec is None:
                spec = detect(path, list(row), number, "jsonl")
            objects.append(row)
            lines.append(number)
            if len(objects) == CHUNK_ROWS:
                _jsonl_chunk(path, spec, lines, objects, out)
                lines, objects = [], []
        if spec is None:
            raise _fail(path, None, "", "trace is empty")
        _jsonl_chunk(path, spec, lines, objects, out)
    return spec


def _jsonl_chunk(
    path: Path, spec: TraceFormat, lines: list[int], objects: list[dict[str, Any]], out: _Columns
) -> None:
    if not objects:
        return
    _count_rows(path, out, len(objects), lines[-1])
    names = [spec.timestamp, spec.prompt_tokens, spec.output_tokens]
    cols: dict[str, list[Any]] = {}
    for name in names:
        column = []
        for line, row in zip(lines, objects, strict=True):
            if name not in row:
                raise _fail(path, line, name, "missing key")
            column.append(row[name])
        cols[name] = column
    for extra in (spec.cached_prefix_tokens, spec.label):
        if extra is not None:
            cols[extra] = [row.get(extra) for row in objects]
    hashes: list[list[Any]] | None = None
    if spec.hash_ids is not None:
        hashes = []
        for line, row in zip(lines, objects, strict=True):
            got = row.get(spec.hash_ids, [])
            if not isinstance(got, list) or not all(type(h) is int and 0 <= h < 2**63 for h in got):
                raise _fail(
                    path, line, spec.hash_ids, f"expected a list of block ids, got {excerpt(got)}"
                )
            hashes.append(got)
    _convert(path, spec, lines, cols, out, hashes)


def read_raw(path: Path, fmt: str | None, columns: TraceFormat | None = None) -> RawTrace:
    """A trace file's rows in file order, in its published format (or the given columns)."""
    check_size(path)
    if fmt is not None and fmt not in FORMAT_NAMES:
        raise _fail(path, None, "format", f"unknown format {fmt!r}; known: {FORMAT_NAMES}")
    container = "csv" if columns is not None else container_of(path, fmt)
    spec = columns if columns is not None else FORMATS.get(fmt or "")
    out = _Columns([], [], [], [], [], [], [])
    read = _read_jsonl if container == "jsonl" else _read_csv
    spec = read(path, spec, out)
    if out.rows == 0:
        dropped = f" ({out.dropped:,} zero-token rows dropped)" if out.dropped else ""
        raise _fail(path, None, "", f"trace is empty{dropped}")

    def joined(parts: list[NDArray[Any]], dtype: type[np.generic]) -> NDArray[Any]:
        return np.concatenate(parts).astype(dtype, copy=False)

    counts = np.asarray(out.hash_counts or [0] * out.rows, dtype=np.int64)
    return RawTrace(
        spec.name,
        joined(out.times, np.float64),
        joined(out.prompts, np.int64),
        joined(out.outputs, np.int64),
        joined(out.cached, np.int64),
        tuple(out.labels),
        np.asarray(out.hashes, dtype=np.int64),
        counts,
        out.dropped,
    )
