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
import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
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
#: Rows converted at once (CSV), and bytes of lines read at once (JSONL).
CHUNK_ROWS = 65_536
CHUNK_BYTES = 8 * 1024 * 1024
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
    hashes: list[NDArray[np.int64]]
    hash_counts: list[NDArray[np.int64]]
    rows: int = 0
    dropped: int = 0


def _convert(
    path: Path,
    spec: TraceFormat,
    lines: Sequence[int],
    cols: dict[str, list[Any]],
    out: _Columns,
    hashes: tuple[NDArray[np.int64], NDArray[np.int64]] | None,
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
            flat, counts = hashes
            hashes = (flat[np.repeat(keep, counts)], counts[keep])
    out.times.append(times)
    out.prompts.append(prompts)
    out.outputs.append(outputs)
    out.cached.append(cached)
    out.labels.extend(labels)
    if hashes is not None:
        out.hashes.append(hashes[0])
        out.hash_counts.append(hashes[1])
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
            start = reader.line_num
            try:
                rows = list(itertools.islice(reader, CHUNK_ROWS))
            except csv.Error as exc:
                raise _fail(path, reader.line_num, "", f"bad CSV: {exc}") from None
            if not rows:
                break
            if reader.line_num - start == len(rows) and set(map(len, rows)) == {width}:
                lines: Sequence[int] = range(start + 1, reader.line_num + 1)  # one row a line
            else:  # blank lines or quoted line breaks: find each row's line, check widths
                rows, lines = _located_rows(path, rows, start, width)
                if not rows:
                    continue
            _count_rows(path, out, len(rows), lines[-1])
            cols = {
                name: list(map(itemgetter(p), rows))
                for name, p in zip(used, positions, strict=True)
            }
            _convert(path, spec, lines, cols, out, None)
    return spec


def _located_rows(
    path: Path, rows: list[list[str]], start: int, width: int
) -> tuple[list[list[str]], list[int]]:
    """A chunk's non-blank rows and the line each ends on (rare: a chunk with blank lines or
    quoted line breaks); a row of the wrong width is an error at its line."""
    kept: list[list[str]] = []
    lines: list[int] = []
    line = start
    for row in rows:
        line += 1 + sum(v.count("\n") for v in row)
        if not row:
            continue
        if len(row) != width:
            raise _fail(path, line, "", f"expected {width} columns (as the header), got {len(row)}")
        kept.append(row)
        lines.append(line)
    return kept, lines


def _read_jsonl(path: Path, spec: TraceFormat | None, out: _Columns) -> TraceFormat:
    number = 0  # lines read so far
    with path.open(encoding="utf-8-sig") as handle:
        while True:
            try:
                chunk = handle.readlines(CHUNK_BYTES)
            except UnicodeDecodeError:
                raise _fail(path, None, "", "not a UTF-8 text file") from None
            if not chunk:
                break
            first, number = number + 1, number + len(chunk)
            blank = [text.isspace() for text in chunk]
            lines = [first + k for k, b in enumerate(blank) if not b]
            texts = [text for text, b in zip(chunk, blank, strict=True) if not b]
            if spec is None and texts:
                spec = detect(path, list(_object(path, lines[0], texts[0])), lines[0], "jsonl")
            if spec is not None:
                _jsonl_texts(path, spec, lines, texts, out)
    if spec is None:
        raise _fail(path, None, "", "trace is empty")
    return spec


def _object(path: Path, number: int, text: str) -> dict[str, Any]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, number, "", f"bad JSON: {exc.msg}") from None
    if not isinstance(row, dict):
        raise _fail(path, number, "", "each line must be a JSON object")
    return row


def _objects(path: Path, lines: list[int], texts: list[str]) -> list[dict[str, Any]]:
    """A chunk's lines parsed at once (one JSON array); a failure is found line by line."""
    if not texts:
        return []
    try:
        rows = json.loads("[" + ",".join(texts) + "]")
        if len(rows) == len(texts) and set(map(type, rows)) == {dict}:
            parsed: list[dict[str, Any]] = rows
            return parsed
    except json.JSONDecodeError:
        pass
    return [_object(path, number, text) for number, text in zip(lines, texts, strict=True)]


def _jsonl_texts(
    path: Path, spec: TraceFormat, lines: list[int], texts: list[str], out: _Columns
) -> None:
    """One chunk of lines: Mooncake's published shape by the fast path, else parsed."""
    if not texts:
        return
    if spec is MOONCAKE:
        fast = _mooncake_fast(texts)
        if fast is not None:
            _count_rows(path, out, len(texts), lines[-1])
            _convert(path, spec, lines, fast[0], out, fast[1])
            return
    _jsonl_chunk(path, spec, lines, _objects(path, lines, texts), out)


def _jsonl_chunk(
    path: Path, spec: TraceFormat, lines: list[int], objects: list[dict[str, Any]], out: _Columns
) -> None:
    if not objects:
        return
    _count_rows(path, out, len(objects), lines[-1])
    names = [spec.timestamp, spec.prompt_tokens, spec.output_tokens]
    cols: dict[str, list[Any]] = {}
    for name in names:
        try:
            cols[name] = [row[name] for row in objects]
        except KeyError:
            line = next(n for n, row in zip(lines, objects, strict=True) if name not in row)
            raise _fail(path, line, name, "missing key") from None
    for extra in (spec.cached_prefix_tokens, spec.label):
        if extra is not None:
            cols[extra] = [row.get(extra) for row in objects]
    for name, values in cols.items():  # JSON true/false is no number (numpy reads 1/0)
        if name != spec.label and bool in set(map(type, values)):
            at = next(i for i, v in enumerate(values) if isinstance(v, bool))
            if name == spec.timestamp:
                raise _time_error(path, lines[at], name, values[at], spec.timestamp_unit)
            raise _token_error(path, lines[at], name, values[at], 0 if name != spec.prompt_tokens
                               and name != spec.output_tokens else 1)  # fmt: skip
    hashes: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
    if spec.hash_ids is not None:
        key = spec.hash_ids
        rows = [row.get(key, []) for row in objects]
        flat = _block_ids(rows)
        if flat is None:
            for line, got in zip(lines, rows, strict=True):
                if _block_ids([got]) is None:
                    raise _fail(
                        path, line, key, f"expected a list of block ids, got {excerpt(got)}"
                    )
        assert flat is not None
        hashes = (flat, np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)))
    _convert(path, spec, lines, cols, out, hashes)


def _block_ids(rows: list[Any]) -> NDArray[np.int64] | None:
    """The rows' block ids concatenated, if every row is a list of non-negative integers
    (below 2**63); else None."""
    if set(map(type, rows)) - {list}:
        return None
    flat = list(itertools.chain.from_iterable(rows))
    if flat and set(map(type, flat)) != {int}:
        return None
    try:
        ids = np.asarray(flat, dtype=np.int64)
    except OverflowError:
        return None
    return ids if bool((ids >= 0).all()) else None


#: Mooncake's published line, exactly: parsed by one regular expression per chunk (the
#: numbers are non-negative integers by construction); any other line goes through JSON.
MOONCAKE_LINE = re.compile(
    r'^\{"timestamp": (\d+), "input_length": (\d+), "output_length": (\d+), '
    r'"hash_ids": \[((?:\d+(?:, \d+)*)?)\]\}$',
    re.MULTILINE,
)


def _mooncake_fast(
    texts: list[str],
) -> tuple[dict[str, list[Any]], tuple[NDArray[np.int64], NDArray[np.int64]]] | None:
    """A chunk of Mooncake lines in their published shape, without a JSON parser: each line
    matches whole (anchored at both ends) or the chunk goes through JSON."""
    groups = MOONCAKE_LINE.findall("".join(texts))
    if len(groups) != len(texts):
        return None
    columns = [list(map(itemgetter(k), groups)) for k in range(4)]
    hash_text: list[str] = columns[3]
    counts = np.fromiter((h.count(",") + 1 if h else 0 for h in hash_text), dtype=np.int64)
    joined = ",".join(h for h in hash_text if h)
    try:
        flat = np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)
    except ValueError:  # an id beyond int64
        return None
    if len(flat) != int(counts.sum()):
        return None
    names = (MOONCAKE.timestamp, MOONCAKE.prompt_tokens, MOONCAKE.output_tokens)
    return {name: columns[i] for i, name in enumerate(names)}, (flat, counts)


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

    counts = (
        np.concatenate(out.hash_counts) if out.hash_counts else np.zeros(out.rows, dtype=np.int64)
    )
    hash_ids = np.concatenate(out.hashes) if out.hashes else np.zeros(0, dtype=np.int64)
    return RawTrace(
        spec.name,
        joined(out.times, np.float64),
        joined(out.prompts, np.int64),
        joined(out.outputs, np.int64),
        joined(out.cached, np.int64),
        tuple(out.labels),
        hash_ids,
        counts,
        out.dropped,
    )
