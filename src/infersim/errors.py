"""User-facing errors: each problem names the file, the line, the field path and the fix.

`ConfigError` carries one or more `Problem`s; the CLI prints one line per problem and exits 2.
`problems_from_validation` turns a pydantic `ValidationError` into such problems, mapping the
error location back to the line of the YAML key and suggesting near-miss key names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
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
    covers: tuple[str, ...] = ()
    """Other paths this problem accounts for (a misspelt key covers the key it stands for)."""

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


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice `name` most likely misspells (case aside), or None when none is close."""
    options = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(name.lower(), list(options), n=1, cutoff=0.6)
    return options[found[0]] if found else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`' — did you mean 'x'?'` for the closest choice, or `''`: the one suggestion helper."""
    close = closest(name, choices)
    return f" — did you mean '{close}'?" if close is not None else ""


def one_of(given: Any, what: str, choices: Sequence[str]) -> str:
    """`'jsn' is not a format; choose table, json or csv — did you mean 'json'?`"""
    if not choices:
        return f"{short_repr(given)} is not {what}"
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    hint = did_you_mean(given, choices) if isinstance(given, str) else ""
    return f"{short_repr(given)} is not {what}; choose {listed}{hint}"


def quoted(text: str) -> list[str]:
    """The values listed in pydantic's `'a', 'b' or 'c'` (or `1 or 3`, numbers unquoted)."""
    found = re.findall(r"'([^']*)'", text)
    return found or [part for part in re.split(r", | or ", text) if part]


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
        hint = did_you_mean(key, allowed)
        if hint:
            return f"unknown key '{key}'{hint}"
        if allowed:
            return f"unknown key '{key}'; allowed: {', '.join(allowed)}"
        return f"unknown key '{key}'"
    if kind == "missing":
        return "required field is missing"
    context = error.get("ctx") or {}
    if kind in ("literal_error", "enum") and "expected" in context:
        what = f"a {path[-1]}" if path and isinstance(path[-1], str) else "allowed here"
        return one_of(error.get("input"), what, quoted(str(context["expected"])))
    if kind == "union_tag_invalid" and "expected_tags" in context:
        names = quoted(str(context["discriminator"]))
        key = names[0] if names else "type"
        return one_of(context.get("tag"), f"a {key}", quoted(str(context["expected_tags"])))
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
        loc = tuple(error["loc"])
        if error["type"] == "union_tag_invalid":  # point at the tag's own key ('process')
            tag_key = quoted(str((error.get("ctx") or {}).get("discriminator", "")))
            loc = (*loc, *tag_key[:1])
        path = (*prefix, *data_path(root, loc, error["type"]))
        found.append((path, str(error["type"]), _message(error, path[len(prefix) :], model)))
    covers = _misspelt_keys(found)
    problems: list[Problem] = []
    seen: set[str] = set()
    for path, kind, message in found:
        deeper = any(len(other) > len(path) and other[: len(path)] == path for other, _, _ in found)
        if deeper and kind.endswith("_type"):
            continue  # a union alternative that the user plainly did not mean
        if kind == "missing" and any(path == meant for meant in covers.values()):
            continue  # reported as the misspelt key that stands for it
        dotted = ".".join(str(p) for p in path)
        if dotted in seen:
            continue
        seen.add(dotted)
        file, line = locate(path)
        meant = covers.get(path)
        if meant is None:
            problems.append(Problem(file, line, dotted, message))
        else:
            message = f"unknown key '{path[-1]}' — did you mean '{meant[-1]}'?"
            covered = (".".join(str(p) for p in meant),)
            problems.append(Problem(file, line, dotted, message, covered))
    return problems


def _misspelt_keys(found: Sequence[tuple[PathKey, str, str]]) -> dict[PathKey, PathKey]:
    """Unknown key -> the missing required key beside it that it misspells: one problem
    (`workloads: unknown key — did you mean 'workload'?`), not two."""
    missing = [path for path, kind, _ in found if kind == "missing" and path]
    out: dict[PathKey, PathKey] = {}
    for path, kind, _ in found:
        if kind != "extra_forbidden" or not path:
            continue
        siblings = {str(m[-1]): m for m in missing if m[:-1] == path[:-1] and m not in out.values()}
        close = closest(str(path[-1]), siblings)
        if close is not None:
            out[path] = siblings[close]
    return out
