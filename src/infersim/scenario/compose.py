"""Compose scenario documents: `extends`, dotted-key overrides and named variants.

Every value keeps the `(file, line)` where it was written, through merging, so that a
validation error in a scenario built from three files still points at the right line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infersim.catalog.load import unknown_name_message
from infersim.errors import ConfigError, PathKey, Problem
from infersim.yamlio import LoadedYaml, load_yaml_file

Where = tuple[str, int | None]
Origins = dict[PathKey, Where]

#: Keys whose contents are kept as written (their own keys may contain dots).
VERBATIM_KEYS = frozenset({"variants"})
MAX_EXTENDS_DEPTH = 32
#: Keys that tag which kind of mapping this is; changing one replaces the mapping.
TAG_KEYS = ("kind", "process", "dist", "strategy", "method")


@dataclass
class Document:
    """Plain scenario data and where each path in it was written."""

    data: dict[str, Any]
    origins: Origins = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def locate(self, path: PathKey) -> Where:
        """(file, line) of `path`, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(tuple(path[:end]))
            if origin is not None:
                return origin
        return (self.files[0] if self.files else "<scenario>"), None


def _split(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if "." in key else (key,)


def _set_path(
    target: dict[str, Any],
    origins: Origins,
    path: PathKey,
    value: Any,
    value_origins: Origins,
    where: Where,
) -> None:
    """Deep-merge `value` at `path`: mappings merge key by key, anything else replaces."""
    node: Any = target
    for depth, part in enumerate(path[:-1]):
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            if child is not None:
                _drop_origins(origins, path[: depth + 1])
            child = {}
            node[part] = child
            origins.setdefault(path[: depth + 1], where)
        node = child
    last = path[-1]
    existing = node.get(last)
    if isinstance(existing, dict) and isinstance(value, dict) and not _retagged(existing, value):
        origins[path] = where
        for key, sub in value.items():
            _set_path(
                target,
                origins,
                (*path, key),
                sub,
                _subtree_origins(value_origins, (key,)),
                value_origins.get((key,), where),
            )
        return
    _drop_origins(origins, path)
    node[last] = copy.deepcopy(value)
    origins[path] = where
    for sub_path, sub_origin in value_origins.items():
        if sub_path:
            origins[(*path, *sub_path)] = sub_origin


def _retagged(base: dict[str, Any], override: dict[str, Any]) -> bool:
    """Whether the override changes the mapping's type tag (e.g. kind: rented -> owned);
    then it replaces the base mapping instead of merging into it."""
    return any(key in override and key in base and override[key] != base[key] for key in TAG_KEYS)


def _drop_origins(origins: Origins, path: PathKey) -> None:
    n = len(path)
    for key in [k for k in origins if len(k) >= n and k[:n] == path]:
        del origins[key]


def _subtree_origins(origins: Origins, path: PathKey) -> Origins:
    n = len(path)
    return {k[n:]: v for k, v in origins.items() if len(k) >= n and k[:n] == path}


def expand(loaded: LoadedYaml) -> Document:
    """A document from one file: dotted keys expanded (except under `variants`)."""
    source = loaded.source
    file_origins: Origins = {path: (source, line) for path, line in loaded.lines.items()}
    doc = Document({}, {(): (source, loaded.lines.get((), 1))}, [source])
    seen: dict[PathKey, int | None] = {}
    _expand_into(doc, loaded.data, (), (), file_origins, seen)
    return doc


def _expand_into(
    doc: Document,
    data: dict[str, Any],
    raw_path: PathKey,
    path: PathKey,
    file_origins: Origins,
    seen: dict[PathKey, int | None],
) -> None:
    for key, value in data.items():
        raw = (*raw_path, key)
        where = file_origins.get(raw, (doc.files[0], None))
        target = (*path, *_split(key))
        if target in seen:
            dotted = ".".join(str(p) for p in target)
            first = seen[target]
            raise ConfigError(
                [Problem(where[0], where[1], dotted, f"set twice (also on line {first})")]
            )
        seen[target] = where[1]
        if isinstance(value, dict) and key not in VERBATIM_KEYS:
            _set_path(doc.data, doc.origins, target, {}, {}, where)
            _expand_into(doc, value, raw, target, file_origins, seen)
        else:
            _set_path(
                doc.data, doc.origins, target, value, _subtree_origins(file_origins, raw), where
            )


def merge(base: Document, override: Document) -> Document:
    """`override` deep-merged over `base` (a new document; neither input changes)."""
    result = Document(copy.deepcopy(base.data), dict(base.origins), [*base.files])
    for key, value in override.data.items():
        _set_path(
            result.data,
            result.origins,
            (key,),
            value,
            _subtree_origins(override.origins, (key,)),
            override.origins.get((key,), (override.files[0], None)),
        )
    result.files = [*override.files, *(f for f in base.files if f not in override.files)]
    return result


def load_document(path: Path) -> Document:
    """Load a scenario file and everything it `extends`, merged (the file wins)."""
    root = path.resolve().parent
    return _load_chain(path, root, [])


def _load_chain(path: Path, root: Path, stack: list[Path]) -> Document:
    resolved = path.resolve()
    loaded = load_yaml_file(path)
    if loaded.data is None:
        raise ConfigError([Problem(str(path), None, "", "empty file: expected a scenario mapping")])
    if not isinstance(loaded.data, dict):
        raise ConfigError(
            [
                Problem(
                    str(path),
                    loaded.line_of(()),
                    "",
                    f"expected a mapping of scenario keys, got a {type(loaded.data).__name__}",
                )
            ]
        )
    doc = expand(loaded)
    base_ref = doc.data.get("extends")
    if base_ref is None:
        return doc
    file, line = doc.locate(("extends",))
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ConfigError([Problem(file, line, "extends", "must be a relative file path")])
    base_path = (resolved.parent / base_ref).resolve()
    if not base_path.is_relative_to(root):
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    "extends",
                    f"'{base_ref}' leaves the scenario's directory tree ({root}); "
                    "keep base scenarios beside or below the file you run",
                )
            ]
        )
    chain = [*stack, resolved]
    if base_path in chain:
        cycle = " -> ".join(p.name for p in [*chain, base_path])
        raise ConfigError([Problem(file, line, "extends", f"extends cycle: {cycle}")])
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise ConfigError([Problem(file, line, "extends", "extends chain too deep")])
    if not base_path.is_file():
        raise ConfigError([Problem(file, line, "extends", f"base file not found: {base_ref}")])
    base = _load_chain(_display_path(base_path), root, chain)
    base.data.pop("extends", None)
    return merge(base, doc)


def _display_path(path: Path) -> Path:
    """The path as a user would type it: relative to the working directory when below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _check_set_once(overrides: dict[str, Any], vpath: PathKey, doc: Document) -> None:
    """A variant may not set the same path twice (once dotted, once nested)."""
    seen: dict[PathKey, PathKey] = {}

    def visit(mapping: dict[str, Any], raw: PathKey, target: PathKey) -> None:
        for key, value in mapping.items():
            here, full = (*raw, key), (*target, *_split(str(key)))
            if full in seen:
                file, line = doc.locate(here)
                _, first = doc.locate(seen[full])
                dotted = ".".join(str(p) for p in full)
                raise ConfigError(
                    [Problem(file, line, dotted, f"set twice (also on line {first})")]
                )
            seen[full] = here
            if isinstance(value, dict):
                visit(value, here, full)

    visit(overrides, vpath, ())


def variant_names(doc: Document) -> list[str]:
    variants = doc.data.get("variants")
    return list(variants) if isinstance(variants, dict) else []


def apply_variant(doc: Document, name: str) -> Document:
    """The document with the named variant's overrides applied."""
    variants = doc.data.get("variants")
    if not isinstance(variants, dict) or name not in variants:
        known = variant_names(doc)
        message = (
            unknown_name_message("variant", name, known)
            if known
            else "the scenario has no variants"
        )
        raise ConfigError([Problem(doc.files[0], None, "variants", message)])
    overrides = variants[name]
    vpath: PathKey = ("variants", name)
    if not isinstance(overrides, dict):
        file, line = doc.locate(vpath)
        raise ConfigError(
            [Problem(file, line, f"variants.{name}", "a variant is a mapping of overrides")]
        )
    _check_set_once(overrides, vpath, doc)
    result = Document(copy.deepcopy(doc.data), dict(doc.origins), [*doc.files])
    for key, value in overrides.items():
        where = doc.origins.get((*vpath, key)) or doc.locate(vpath)
        _set_path(
            result.data,
            result.origins,
            _split(str(key)),
            value,
            _subtree_origins(doc.origins, (*vpath, key)),
            where,
        )
    result.data["variant"] = name
    return result
