"""Load a scenario: compose its files, apply a variant, validate, check every reference.

`load_scenario` is the one entry point the CLI uses. It returns a `LoadedScenario` (the
validated `Scenario`, the catalog it resolves against, and where each value was written) or
raises `ConfigError` listing every problem as `file:line: dotted.path: message`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from infersim.catalog.load import Catalog, load_builtin, load_dirs
from infersim.errors import ConfigError, PathKey, Problem, problems_from_validation
from infersim.scenario.compose import Document, apply_variant, expand, load_document
from infersim.scenario.model import Scenario
from infersim.scenario.params import ParamSet, extract, materialize
from infersim.scenario.references import check_references
from infersim.yamlio import load_yaml_text

DEFAULT_SCENARIO = "default.yaml"


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    source: str
    base_dir: Path | None
    catalog: Catalog
    document: Document
    """The composed document with base values in place of distributions and curves."""
    params: ParamSet = field(default_factory=ParamSet)

    def with_values(self, values: Mapping[PathKey, float]) -> LoadedScenario:
        """The scenario with these inputs set (a Monte Carlo sample, a month), validated."""
        return validate_document(
            materialize(self.document, values), self.base_dir, self.catalog, params=self.params
        )

    @property
    def label(self) -> str:
        name = self.scenario.name
        return f"{name} [{self.scenario.variant}]" if self.scenario.variant else name


def builtin_default_text() -> str:
    return (resources.files("infersim.data") / DEFAULT_SCENARIO).read_text(encoding="utf-8")


def load_document_or_default(path: Path | None) -> tuple[Document, Path | None]:
    if path is None:
        loaded = load_yaml_text(builtin_default_text(), f"<builtin>/{DEFAULT_SCENARIO}")
        return expand(loaded), None
    return load_document(path), path.resolve().parent


def load_scenario(
    path: Path | None,
    variant: str | None = None,
    catalog: Catalog | None = None,
    catalog_dirs: Sequence[Path] = (),
) -> LoadedScenario:
    """Load, compose and validate a scenario file (None: the built-in default)."""
    document, base_dir = load_document_or_default(path)
    if variant is not None:
        document = apply_variant(document, variant)
    return validate_document(document, base_dir, catalog, catalog_dirs)


def validate_document(
    document: Document,
    base_dir: Path | None,
    catalog: Catalog | None = None,
    catalog_dirs: Sequence[Path] = (),
    params: ParamSet | None = None,
) -> LoadedScenario:
    if params is None:
        document, params = extract(document)
    try:
        scenario = Scenario.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(
            problems_from_validation(exc, document.data, document.locate, model=Scenario)
        ) from None
    base = catalog if catalog is not None else load_builtin()
    if catalog_dirs:
        base = load_dirs(base, catalog_dirs)
    full = base.merged(scenario.catalog.gpus, scenario.catalog.models, scenario.catalog.prices)
    problems: list[Problem] = check_references(scenario, full, document.locate, base_dir)
    if problems:
        raise ConfigError(problems)
    source = document.files[0] if document.files else "<scenario>"
    return LoadedScenario(scenario, source, base_dir, full, document, params)
