"""Load a scenario: compose its files, apply a variant, validate, check every reference.

`load_scenario` is the one entry point the CLI uses. It returns a `LoadedScenario` (the
validated `Scenario`, the catalog it resolves against, and where each value was written) or
raises `ConfigError` listing every problem as `file:line: dotted.path: message`. Besides the
schema and the references it runs the preflight (`infersim.scenario.preflight`): whatever
the run itself would reject (a split that does not divide the heads, weights that do not fit,
a malformed trace, an unknown `expect:` metric...) fails here, before anything runs.
`validate_file` does the same for a file and every variant it defines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from infersim.catalog.load import Catalog, load_builtin, load_dirs
from infersim.errors import ConfigError, PathKey, Problem, problems_from_validation
from infersim.scenario.compose import (
    Document,
    apply_variant,
    expand,
    load_document,
    variant_names,
)
from infersim.scenario.model import Scenario
from infersim.scenario.params import ParamSet, extract, materialize
from infersim.scenario.references import check_references
from infersim.yamlio import load_yaml_text

if TYPE_CHECKING:
    from infersim.scenario.preflight import DataFiles

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
    loaded = validate_document(document, base_dir, catalog, catalog_dirs)
    check_runnable(loaded)
    return loaded


def check_runnable(loaded: LoadedScenario, files: DataFiles | None = None) -> None:
    """Raise `ConfigError` with what the run of this valid scenario would reject (see
    `infersim.scenario.preflight`; `files` shares the data files read across variants)."""
    from infersim.scenario.preflight import preflight_problems  # above the engine: lazily

    problems = preflight_problems(loaded, files)
    if problems:
        raise ConfigError(problems)


@dataclass(frozen=True)
class FileCheck:
    """A scenario file checked with every variant: its problems, and what loaded."""

    problems: list[Problem]
    variants: int
    loaded: dict[str | None, LoadedScenario]
    """By variant name (None: the file as written), those that loaded without a problem."""


def validate_file(
    path: Path | None, catalog: Catalog | None = None, catalog_dirs: Sequence[Path] = ()
) -> FileCheck:
    """Check a scenario file (None: the built-in default) and each of its variants as
    `load_scenario` would; a variant's problems say which variant they are in."""
    from infersim.scenario.preflight import DataFiles

    try:
        document, base_dir = load_document_or_default(path)
    except ConfigError as exc:
        return FileCheck(exc.problems, 0, {})
    names = variant_names(document)
    files = DataFiles()
    problems: list[Problem] = []
    loaded: dict[str | None, LoadedScenario] = {}
    for name in [None, *names]:
        try:
            doc = document if name is None else apply_variant(document, name)
            loaded[name] = validate_document(doc, base_dir, catalog, catalog_dirs)
            check_runnable(loaded[name], files)
        except ConfigError as exc:
            loaded.pop(name, None)
            if name is None:
                problems.extend(exc.problems)
                continue
            problems.extend(
                Problem(p.file, p.line, p.path, f"{p.message} (in variant '{name}')")
                for p in exc.problems
                if p not in problems and not _covered(p.path, problems)
            )
    return FileCheck(problems, len(names), loaded)


def _covered(path: str, problems: Sequence[Problem]) -> bool:
    """Whether a variant's problem lies under a key the file as written already gets wrong
    (a misspelt `deployments:` leaves every variant's `deployments.main` incomplete)."""
    broken = {p.path for p in problems} | {c for p in problems for c in p.covers}
    return any(path == b or path.startswith(f"{b}.") for b in broken if b)


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
