"""Load catalogs: the data shipped in the package, plus user directories and inline entries.

A catalog directory holds any of `gpus.yaml`, `models.yaml`, `prices.yaml` and `grids.yaml`
(electricity grids' carbon intensity), each a YAML
list of entries. Entries are validated by the strict models of `infersim.catalog.types`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infersim.catalog.types import ApiPrice, GpuSpec, GridRegion, ModelArch
from infersim.errors import ConfigError, Problem, did_you_mean, problems_from_validation
from infersim.yamlio import LoadedYaml, load_yaml_text, read_text_file

E = TypeVar("E", GpuSpec, ModelArch, ApiPrice, GridRegion)

KINDS: dict[str, type[BaseModel]] = {
    "gpus": GpuSpec,
    "models": ModelArch,
    "prices": ApiPrice,
    "grids": GridRegion,
}


@dataclass(frozen=True)
class Catalog:
    """Catalog entries by id. Immutable once built; `merged` returns a new catalog."""

    gpus: Mapping[str, GpuSpec] = field(default_factory=dict)
    models: Mapping[str, ModelArch] = field(default_factory=dict)
    prices: Mapping[str, ApiPrice] = field(default_factory=dict)
    grids: Mapping[str, GridRegion] = field(default_factory=dict)

    def merged(
        self,
        gpus: Iterable[GpuSpec] = (),
        models: Iterable[ModelArch] = (),
        prices: Iterable[ApiPrice] = (),
        grids: Iterable[GridRegion] = (),
    ) -> Catalog:
        """A catalog with these entries added; an entry with an existing id replaces it."""
        return Catalog(
            gpus={**self.gpus, **{g.id: g for g in gpus}},
            models={**self.models, **{m.id: m for m in models}},
            prices={**self.prices, **{p.id: p for p in prices}},
            grids={**self.grids, **{g.id: g for g in grids}},
        )

    def gpu(self, gpu_id: str) -> GpuSpec:
        return _lookup(self.gpus, gpu_id, "gpu")

    def model(self, model_id: str) -> ModelArch:
        return _lookup(self.models, model_id, "model")

    def price(self, price_id: str) -> ApiPrice:
        return _lookup(self.prices, price_id, "price")

    def grid(self, grid_id: str) -> GridRegion:
        return _lookup(self.grids, grid_id, "grid region")

    def gpu_of(self, ref: str | GpuSpec) -> GpuSpec:
        """A deployment's GPU: the catalog entry it names, or the inline spec it gives."""
        return ref if isinstance(ref, GpuSpec) else self.gpu(ref)

    def model_of(self, ref: str | ModelArch) -> ModelArch:
        """A deployment's model: the catalog entry it names, or the inline one it gives."""
        return ref if isinstance(ref, ModelArch) else self.model(ref)


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    hint = did_you_mean(name, choices)
    if hint:
        return f"unknown {kind} '{name}'{hint}"
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f"unknown {kind} '{name}'; known: {shown}"


def _lookup(entries: Mapping[str, E], key: str, kind: str) -> E:
    try:
        return entries[key]
    except KeyError:
        raise KeyError(unknown_name_message(kind, key, entries)) from None


def parse_entries(loaded: LoadedYaml, model: type[E], kind: str) -> tuple[list[E], list[Problem]]:
    """Validate a YAML list of catalog entries; problems carry file, line and field path."""
    entries: list[E] = []
    problems: list[Problem] = []
    data = loaded.data
    if not isinstance(data, list):
        problems.append(
            Problem(loaded.source, loaded.line_of(()), "", f"a {kind} catalog is a YAML list")
        )
        return entries, problems
    seen: dict[str, int] = {}
    for index, raw in enumerate(data):
        try:
            entry = model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(
                problems_from_validation(exc, data, loaded.locate, prefix=(index,), model=model)
            )
            continue
        if entry.id in seen:
            problems.append(
                Problem(
                    loaded.source,
                    loaded.line_of((index, "id")),
                    f"{index}.id",
                    f"duplicate {kind} id '{entry.id}' (first at entry {seen[entry.id]})",
                )
            )
            continue
        seen[entry.id] = index
        entries.append(entry)
    return entries, problems


def _load_kind_text(text: str, source: str, kind: str) -> list[Any]:
    loaded = load_yaml_text(text, source)
    entries, problems = parse_entries(loaded, KINDS[kind], kind)  # type: ignore[type-var]
    if problems:
        raise ConfigError(problems)
    return entries


@functools.cache
def load_builtin() -> Catalog:
    """The catalog shipped inside the package (parsed once a process: a `Catalog` is
    immutable, and `merged` returns a new one)."""
    root = resources.files("infersim.catalog") / "data"
    parts: dict[str, list[Any]] = {}
    for kind in KINDS:
        resource = root / f"{kind}.yaml"
        text = resource.read_text(encoding="utf-8") if resource.is_file() else "[]"
        parts[kind] = _load_kind_text(text, f"<builtin>/{kind}.yaml", kind)
    return Catalog().merged(parts["gpus"], parts["models"], parts["prices"], parts["grids"])


def load_dirs(base: Catalog, dirs: Sequence[Path]) -> Catalog:
    """Add the entries of user catalog directories (later directories win)."""
    catalog = base
    for directory in dirs:
        if not directory.is_dir():
            raise ConfigError([Problem(str(directory), None, "", "--catalog expects a directory")])
        parts: dict[str, list[Any]] = {}
        for kind in KINDS:
            path = directory / f"{kind}.yaml"
            if path.is_file():
                parts[kind] = _load_kind_text(read_text_file(path), str(path), kind)
        catalog = catalog.merged(
            parts.get("gpus", []),
            parts.get("models", []),
            parts.get("prices", []),
            parts.get("grids", []),
        )
    return catalog
