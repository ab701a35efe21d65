"""Data files a scenario names (traces, empirical lengths) stay within its directory tree,
as `extends` does: an absolute path, a `..` that climbs out, or a link that points out is
refused before anything is opened, so a scenario cannot read (and echo) files elsewhere."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from infersim.errors import ConfigError, Problem


def confinement_problem(base_dir: Path, ref: str) -> str | None:
    """Why `ref` may not be read from a scenario in `base_dir`, or None when it may."""
    if PurePosixPath(ref).is_absolute() or PureWindowsPath(ref).is_absolute():
        return f"must be a path relative to the scenario's directory, got {ref!r}"
    root = base_dir.resolve()
    target = (root / ref).resolve()
    if not target.is_relative_to(root):
        return (
            f"{ref!r} is outside the scenario's directory tree ({root}): data files must sit "
            "in or below the scenario's directory"
        )
    return None


def confined(base_dir: Path, ref: str) -> Path:
    """The data file `ref` names, relative to `base_dir` and within its tree."""
    problem = confinement_problem(base_dir, ref)
    if problem is not None:
        raise ConfigError([Problem(str(base_dir), None, "path", problem)])
    return (base_dir / ref).resolve()
