"""Analysis at scale: many runs of one scenario, and what they say together.

- `overrides`: `--set` / `--vary` specs (dotted paths, value lists, ranges, factors), checked
  against the scenario with "did you mean" and the fields' bounds;
- `runs`: one point (a scenario with some inputs set) run to its output metrics, with the
  per-worker caches (catalog, external data, serving simulations);
- `execute`: points run serially, on local processes (`jobs`), or on a Dask cluster, with the
  same results for the same seed;
- `sweep`, `montecarlo`, `sensitivity`, `breakeven`: the analyses themselves.

Pure like the rest of the core: nothing here writes files or touches the terminal (a progress
callback reports how far a run is); the CLI renders and writes.
"""

from __future__ import annotations

from infersim.errors import InfersimError


class AnalysisError(InfersimError):
    """An analysis that cannot run as asked (the CLI prints it on one line, exit 2)."""
