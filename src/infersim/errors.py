"""User-facing errors: each problem names the file, the line, the field path and the fix.

`ConfigError` carries one or more `Problem`s; the CLI prints one line per problem and exits 2.
`problems_from_validation` turns a pydantic `ValidationError` into such problems, mapping the
error location back to the line of the YAML key and suggesting near-miss key names.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from infersim.schema_paths import allowed_keys


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    file: str
    line: int | None
    path: str
    message: str

    def format(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class InfersimError(Exception):
    """Base for errors the user can fix; the CLI prints them without a traceback, exit 2."""


class ConfigError(InfersimError):
    """One or more problems with a scenario or catalog file."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class UsageError(InfersimError):
    """A wrong command-line value (not tied to a file)."""


PathKey = tuple[str | int, ...]


class Locate(Protocol):
    """Where a data path was written: (file, line)."""

    def __call__(self, path: PathKey, /) -> tuple[str, int | None]: ...


def short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


KEY_ERRORS = frozenset({"missing", "extra_forbidden"})


def data_path(
    data: Any, loc: Sequence[str | int], error_type: str = "missing"
) -> tuple[str | int, ...]:
    """Map a pydantic error location onto the data, dropping union tags that are not keys.

    The last element of `loc` is a key only for missing or unknown keys; otherwise a string
    not found in the data is a union tag (e.g. 'lognormal') and is dropped.
    """
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
            elif last and error_type in KEY_ERRORS:
                path.append(part)  # a missing or unknown key
            # else: a discriminator tag such as 'poisson', not a key of the data
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            break  # the rest names union members of a scalar ('str', 'float', ...)
    return tuple(path)


def _message(error: Any, path: tuple[str | int, ...], model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        allowed = allowed_keys(model, error["loc"][:-1]) if model is not None else []
        allowed = [name for name in allowed if name != key]
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            return f"unknown key '{key}' — did you mean '{close[0]}'?"
        if allowed:
            return f"unknown key '{key}'; allowed: {', '.join(allowed)}"
        return f"unknown key '{key}'"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f", got {short_repr(error['input'])}"
    return message


def problems_from_validation(
    exc: ValidationError,
    data: Any,
    locate: Locate,
    prefix: PathKey = (),
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """One Problem per pydantic error, located on the YAML line of the offending key.

    `data` is the whole document and `prefix` the path of what was validated inside it.
    """
    found: list[tuple[PathKey, str, str]] = []
    root = data
    for part in prefix:
        root = root[part] if isinstance(root, dict | list) else None  # type: ignore[index]
    for error in exc.errors(include_url=False):
        path = (*prefix, *data_path(root, error["loc"], error["type"]))
        found.append((path, str(error["type"]), _message(error, path[len(prefix) :], model)))
    problems: list[Problem] = []
    seen: set[str] = set()
    for path, kind, message in found:
        deeper = any(len(other) > len(path) and other[: len(path)] == path for other, _, _ in found)
        if deeper and kind.endswith("_type"):
            continue  # a union alternative that the user plainly did not mean
        dotted = ".".join(str(p) for p in path)
        if dotted in seen:
            continue
        seen.add(dotted)
        file, line = locate(path)
        problems.append(Problem(file, line, dotted, message))
    return problems
