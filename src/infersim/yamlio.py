"""Safe YAML loading that remembers the line of every key and refuses duplicate keys.

PyYAML's safe loader keeps the last of two equal keys without a word; here that is an error.
Only YAML's plain data types are built (no tags that construct objects), keys are taken as
written (so `on:` stays the string 'on'), and the line of each node is kept so that
validation errors can name `file:line`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infersim.errors import ConfigError, Problem

PathKey = tuple[str | int, ...]
_FLOAT_12 = re.compile(r"^[-+]?(?:\d[\d_]*\.?\d*|\.\d+)[eE][-+]?\d+$")

#: Guards against alias bombs ("billion laughs") and absurd files.
MAX_NODES = 200_000
MAX_FILE_BYTES = 8 * 1024 * 1024
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
)


@dataclass(frozen=True)
class LoadedYaml:
    """Plain data (dicts, lists, scalars) and the `file:line` of each path in it."""

    data: Any
    source: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def locate(self, path: PathKey) -> tuple[str, int | None]:
        return self.source, self.line_of(path)

    def line_of(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[PathKey, int] = {}
        self.nodes = 0
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey, line: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._error(node, f"document too large (over {MAX_NODES} nodes)")
        self.lines.setdefault(path, line)
        if node.tag not in PLAIN_TAGS:
            raise self._error(node, f"YAML tag '{node.tag}' is not allowed (plain data only)")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, i), item.start_mark.line + 1)
                for i, item in enumerate(node.value)
            ]
        if isinstance(node, yaml.ScalarNode):
            if not node.style and _FLOAT_12.match(node.value):  # plain: None, or "" (libyaml)
                return float(node.value)  # YAML 1.2 reads 1e30 as a number; 1.1 as a string
            try:
                return self._scalars.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, KeyError, AttributeError, TypeError) as exc:
                raise self._error(node, f"bad value {node.value!r}: {exc}") from None
        raise self._error(node, "unsupported YAML node")  # pragma: no cover

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, "mapping keys must be plain strings")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._error(key_node, "YAML merge keys ('<<') are not supported; use extends")
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in result:
                raise ConfigError(
                    [
                        Problem(
                            self.source,
                            line,
                            _dotted((*path, key)),
                            f"duplicate key '{key}' (first defined on line {first_line[key]})",
                        )
                    ]
                )
            first_line[key] = line
            result[key] = self.build(value_node, (*path, key), line)
        return result

    def _error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError([Problem(self.source, node.start_mark.line + 1, "", message)])


def _dotted(path: PathKey) -> str:
    return ".".join(str(p) for p in path)


#: libyaml's safe loader where PyYAML was built with it (the same nodes and marks, ~10x
#: faster than the pure-Python one), else the pure-Python one.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str, source: str) -> LoadedYaml:
    """Parse one YAML document safely; raise ConfigError naming the file and line."""
    if "\x00" in text:
        raise ConfigError([Problem(source, None, "", "not a text file (contains NUL bytes)")])
    try:
        node = yaml.compose(text, Loader=_SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "syntax error"
        if "'\\t'" in what or "tab character" in what:  # the two loaders word it differently
            what = "a tab character where YAML wants spaces: indent with spaces"
        raise ConfigError([Problem(source, line, "", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(source, None, "", f"YAML error: {exc}")]) from None
    if node is None:
        return LoadedYaml(None, source, {(): 1})
    builder = _Builder(source)
    data = builder.build(node, (), node.start_mark.line + 1)
    return LoadedYaml(data, source, builder.lines)


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file, turning every failure into a one-line ConfigError."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                [
                    Problem(
                        str(path),
                        None,
                        "",
                        f"file too large ({size} bytes, limit {MAX_FILE_BYTES})",
                    )
                ]
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, "", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(
            [Problem(str(path), None, "", "is a directory, expected a file")]
        ) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(path), None, "", "not a UTF-8 text file")]) from None


def load_yaml_file(path: Path) -> LoadedYaml:
    return load_yaml_text(read_text_file(path), str(path))


def walk_paths(data: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """Every (path, value) in nested plain data, parents before children."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk_paths(value, (*path, index))
