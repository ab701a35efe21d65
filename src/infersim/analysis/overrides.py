"""`--set` and `--vary` specs: which inputs an analysis moves, and to what values.

One spec names one parameter and its values:

    PATH=V1,V2,...           listed values, each read as a YAML scalar: 20, 1e6, h200-sxm, null
    PATH=LOW..HIGH[:STEP]    LOW, LOW+STEP, ... up to HIGH, included when a step lands on it
                             (STEP 1 when left out): 10..30:5 is 10,15,20,25,30
    PATH=linspace(A,B,N)     N evenly spaced values from A to B, both included
    PATH=geomspace(A,B,N)    N values from A to B, evenly spaced on a log scale
    PATH*=F1,F2,...          factors on the base value, in any of the forms above:
                             deployments.api.output_usd_per_mtok*=1,1.3,1.5

PATH is a dotted path into the scenario as written (`pricing.plans.plus.price_usd_per_month`;
list items by index, `expect.0.min`). A part with `*`, `?` or `[..]` is a pattern over the keys
present there, and every match moves together: `deployments.api.*_usd_per_mtok*=1.3` raises
all of that deployment's per-token prices by 30%. (`*=` is the factor operator; a path whose
last part is only `*` sets every key there: `a.b.*=0`.) A path that holds a distribution or a
curve is replaced by the plain value; a factor applies to its base value (the median, or
month 0's value). Values are checked against the field's bounds before anything runs.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

import numpy as np

from infersim.analysis import AnalysisError
from infersim.errors import ConfigError, PathKey, did_you_mean
from infersim.scenario.compose import Document
from infersim.scenario.model import Scenario
from infersim.schema_paths import allowed_keys, annotations_at, unwrap
from infersim.yamlio import load_yaml_text

Op = Literal["set", "scale"]
Assignment = tuple[PathKey, Any]

#: The most values one spec may expand to (a typo like 0..1e9 fails instead of hanging).
MAX_VALUES = 100_000
_NUMBER = r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*\.\.\s*({_NUMBER})(?:\s*:\s*({_NUMBER}))?$")
_RANGE_LIKE = re.compile(r"^[-+]?\d[^,]*\.\.")
_SPACE = re.compile(r"^(linspace|geomspace)\((.*)\)$")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class OverrideSpec:
    """One `--set`/`--vary` option as parsed: a path pattern, an operator, its values."""

    text: str
    pattern: tuple[str, ...]
    op: Op
    values: tuple[Any, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.pattern)

    @property
    def label(self) -> str:
        """The parameter as a column name: the option's text before '='."""
        return self.dotted + ("*" if self.op == "scale" else "")


@dataclass(frozen=True)
class ResolvedOverride:
    """A spec bound to a scenario: the concrete paths it moves and, for factors, their base
    values."""

    spec: OverrideSpec
    paths: tuple[PathKey, ...]
    bases: tuple[float, ...] = ()
    integer: tuple[bool, ...] = ()

    def assignments(self, value: Any) -> tuple[Assignment, ...]:
        """What setting this parameter to `value` (a factor, for `*=`) puts where."""
        if self.spec.op == "set":
            return tuple((path, value) for path in self.paths)
        factor = float(value)
        out: list[Assignment] = []
        for path, base, integer in zip(self.paths, self.bases, self.integer, strict=True):
            scaled = base * factor
            out.append((path, round(scaled) if integer else _tidy(scaled)))
        return tuple(out)


def _fail(option: str, text: str, message: str) -> AnalysisError:
    return AnalysisError(f"{option} {text}: {message}")


def _tidy(value: float) -> float:
    """Round away binary noise (0.30000000000000004 -> 0.3)."""
    return 0.0 if value == 0 else float(f"{value:.12g}")


def split_top(text: str) -> list[str]:
    """Split on commas outside quotes, brackets and braces."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _scalar(text: str) -> Any:
    """A YAML scalar (or flow mapping/list), as the scenario file would read it."""
    return load_yaml_text(text, "--set").data


def _number(text: str) -> int | float:
    value = _scalar(text.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{text.strip()}' is not a number")
    return value


def _range(match: re.Match[str]) -> tuple[Any, ...]:
    low, high = _number(match[1]), _number(match[2])
    step = _number(match[3]) if match[3] is not None else 1
    if step <= 0:
        raise ValueError(f"the step must be > 0, got {step}")
    if high < low:
        raise ValueError(f"the range goes down ({low} > {high}); write it low..high")
    count = math.floor((high - low) / step * (1 + 1e-12) + 1e-9) + 1
    if count > MAX_VALUES:
        raise ValueError(f"{count:,} values, more than {MAX_VALUES:,}")
    whole = all(isinstance(v, int) for v in (low, high, step))
    return tuple(low + i * step if whole else _tidy(low + i * step) for i in range(count))


def _space(kind: str, args: str) -> tuple[Any, ...]:
    parts = split_top(args)
    if len(parts) != 3:
        raise ValueError(f"{kind}(A,B,N) takes three numbers, got {len(parts)}")
    a, b, n = _number(parts[0]), _number(parts[1]), _number(parts[2])
    if not isinstance(n, int) or n < 1 or n > MAX_VALUES:
        raise ValueError(f"N must be a whole number from 1 to {MAX_VALUES:,}, got {n}")
    if kind == "geomspace" and (a <= 0 or b <= 0):
        raise ValueError("geomspace needs A and B > 0")
    values = np.linspace(a, b, n) if kind == "linspace" else np.geomspace(a, b, n)
    whole = isinstance(a, int) and isinstance(b, int)
    return tuple(
        int(v) if whole and float(v).is_integer() else _tidy(float(v)) for v in values.tolist()
    )


def parse_values(text: str) -> tuple[Any, ...]:
    """The values of a spec's right-hand side (see the module docstring)."""
    text = text.strip()
    if not text:
        raise ValueError("no values after '='")
    space = _SPACE.match(text)
    if space is not None:
        return _space(space[1], space[2])
    span = _RANGE.match(text)
    if span is not None:
        return _range(span)
    if _RANGE_LIKE.match(text):
        raise ValueError(f"'{text}' is not a range: write LOW..HIGH[:STEP] with numbers")
    items = split_top(text)
    if any(not item for item in items):
        raise ValueError("an empty value in the list (two commas, or a trailing comma)")
    return tuple(_scalar(item) for item in items)


def _split_path(text: str, option: str, whole: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.strip().split("."))
    if not text.strip() or any(not part for part in parts):
        raise _fail(option, whole, "the path has an empty part; write e.g. a.b.c=1,2")
    return parts


def parse_override(text: str, option: str = "--set", values_required: bool = True) -> OverrideSpec:
    """Parse `PATH=VALUES` or `PATH*=FACTORS` (or a bare `PATH` when values are optional)."""
    name, eq, rhs = text.partition("=")
    op: Op = "set"
    if not eq:
        if values_required:
            raise _fail(option, text, "expected PATH=VALUES, e.g. pricing.plans.plus.price=10,20")
        return OverrideSpec(text, _split_path(name, option, text), op, ())
    if name.endswith("*") and not name.endswith(".*"):
        name, op = name[:-1], "scale"
    pattern = _split_path(name, option, text)
    try:
        values = parse_values(rhs)
    except ValueError as exc:
        raise _fail(option, text, str(exc)) from None
    except ConfigError as exc:  # YAML that does not parse
        message = exc.problems[0].message if exc.problems else str(exc)
        raise _fail(option, text, message) from None
    if op == "scale":
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | float)]
        if bad:
            raise _fail(option, text, f"factors must be numbers, got {bad[0]!r}")
    return OverrideSpec(text, pattern, op, values)


def check_distinct(specs: Sequence[OverrideSpec], option: str = "--set") -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.dotted in seen:
            raise AnalysisError(
                f"{option} {spec.dotted} is given twice; give it once, with all its values"
            )
        seen.add(spec.dotted)


# Paths against a scenario ---------------------------------------------------------------------


def _children(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        return {str(k): v for k, v in node.items()}
    if isinstance(node, list):
        return {str(i): v for i, v in enumerate(node)}
    return {}


def _key(node: Any, part: str) -> str | int:
    return int(part) if isinstance(node, list) else part


def _unknown(part: str, where: PathKey, candidates: Iterable[str]) -> str:
    names = sorted(set(candidates))
    at = ".".join(str(p) for p in where) or "the top level"
    hint = did_you_mean(part, names)
    if hint:
        return f"unknown key '{part}' at {at}{hint}"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"unknown key '{part}' at {at}" + (f"; known: {shown}" if names else "")


def resolve_paths(pattern: Sequence[str], data: Mapping[str, Any]) -> list[PathKey]:
    """The concrete paths a pattern names in the document; ValueError says what is wrong.

    A part must be a key present in the data, or a field the scenario model accepts there
    (it then takes its default until set); a pattern part matches present keys only.
    """
    found: list[PathKey] = []

    def walk(node: Any, index: int, prefix: PathKey) -> None:
        if index == len(pattern):
            found.append(prefix)
            return
        part = pattern[index]
        children = _children(node)
        if _GLOB.search(part):
            matches = [k for k in children if fnmatchcase(k, part)]
            for key in matches:
                walk(children[key], index + 1, (*prefix, _key(node, key)))
            return
        if part in children:
            walk(children[part], index + 1, (*prefix, _key(node, part)))
            return
        allowed = allowed_keys(Scenario, prefix)
        if part in allowed and (node is None or isinstance(node, dict)):
            walk(None, index + 1, (*prefix, part))
            return
        raise ValueError(_unknown(part, prefix, [*children, *allowed]))

    walk(data, 0, ())
    if not found:
        raise ValueError(f"no key matches '{'.'.join(pattern)}'")
    return found


def is_integer_at(path: PathKey) -> bool:
    kinds = {c for a in annotations_at(Scenario, path) for c in unwrap(a)}
    return int in kinds and float not in kinds


def _value_at(data: Any, path: PathKey) -> Any:
    node = data
    for part in path:
        children = _children(node)
        if str(part) not in children:
            return None
        node = children[str(part)]
    return node


def resolve(
    spec: OverrideSpec, document: Document, base: Scenario, option: str = "--set"
) -> ResolvedOverride:
    """Bind a spec to a scenario: its concrete paths, and base values for factors."""
    try:
        paths = tuple(resolve_paths(spec.pattern, document.data))
    except ValueError as exc:
        raise _fail(option, spec.text, str(exc)) from None
    if spec.op == "set":
        return ResolvedOverride(spec, paths)
    dumped = base.model_dump(mode="python")
    bases: list[float] = []
    for path in paths:
        value = _value_at(dumped, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            dotted = ".".join(str(p) for p in path)
            raise _fail(option, spec.text, f"{dotted} is {value!r}, not a number to scale")
        bases.append(float(value))
    return ResolvedOverride(spec, paths, tuple(bases), tuple(is_integer_at(p) for p in paths))


def with_assignments(document: Document, assignments: Iterable[Assignment], label: str) -> Document:
    """A copy of the document with these values put at their paths (creating mappings on the
    way); errors about them will point at `label` (e.g. '--set')."""
    data = copy.deepcopy(document.data)
    origins = dict(document.origins)
    for path, value in assignments:
        node: Any = data
        for depth, part in enumerate(path[:-1]):
            child = node[int(part)] if isinstance(node, list) else node.get(part)
            if not isinstance(child, dict | list):
                child = {}
                node[part] = child
                origins[path[: depth + 1]] = (label, None)
            node = child
        node[path[-1]] = copy.deepcopy(value)
        n = len(path)
        for key in [k for k in origins if len(k) >= n and k[:n] == path]:
            del origins[key]
        origins[path] = (label, None)
    return Document(data, origins, [*document.files])
