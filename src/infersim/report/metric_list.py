"""The metric paths a scenario's run will have, listed without running it.

`infersim check --list-metrics` and `infersim validate --list-metrics` show the paths that
`expect:` and tolerances may name, with their short aliases and whether a baseline records
them, from the shape of the run (`infersim.checks.metric_paths.skeleton`): nothing is
simulated. The `routing` and `levers` sections follow the run's results, so they are named
as open sections, not listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infersim.checks.metric_paths import OPEN_SECTIONS, skeleton
from infersim.checks.metrics import flatten, key_metrics, short_aliases
from infersim.report.tables import DataTable
from infersim.scenario.model import Scenario

CAPTION = (
    "Paths for expect: and tolerances, known before any run. Aliases: serving.X and costs.X "
    "(every deployment), NAME_p99_UNIT for NAME_UNIT.p99, months.last.X, margins.PRODUCT.X, "
    "bare names in pnl. Not listed: {open} (they follow the run's results; "
    "infersim run -f json shows them)."
)


def metric_listing(
    scenarios: Sequence[tuple[str, Scenario]],
) -> tuple[dict[str, Any], list[DataTable]]:
    """For each (key, scenario): its metric paths, aliases and what a baseline records."""
    tables: list[DataTable] = []
    data: list[dict[str, Any]] = []
    for key, scenario in scenarios:
        shape = skeleton(scenario)
        known = flatten(shape)
        aliases = short_aliases(shape, known)
        alias_of = {path: alias for alias, path in aliases.items()}
        recorded = key_metrics(shape)
        open_sections = [s for s in OPEN_SECTIONS if s != "routing" or scenario.routing]
        rows = [[path, alias_of.get(path), "yes" if path in recorded else ""] for path in known]
        tables.append(
            DataTable(
                f"{key}: metrics",
                ["metric", "alias", "in baseline"],
                rows,
                caption=CAPTION.format(open=" and ".join(f"{s}.*" for s in open_sections)),
            )
        )
        data.append(
            {
                "key": key,
                "metrics": list(known),
                "aliases": aliases,
                "recorded_in_baseline": [path for path in known if path in recorded],
                "open_sections": open_sections,
            }
        )
    return {"scenarios": data}, tables
