"""A run's output document, defined once: what `run -f json` prints for each run, and what
`check`, `sweep` and Monte Carlo read their metrics from (`infersim.checks.metrics` paths).

Margins first (economics), then routing and levers when the scenario has them, then serving.
Everything here is computed by the pipeline and carried on the `RunResult`; this module only
formats it (money in cents, other figures to 6 significant digits).
"""

from __future__ import annotations

from typing import Any

from infersim.pipeline.run import RunResult
from infersim.report.economics import economics_json
from infersim.report.levers import lever_json
from infersim.report.routing import routing_json
from infersim.report.serving import serving_json
from infersim.scenario.load import LoadedScenario


def run_outputs(result: RunResult) -> dict[str, Any]:
    """The figures of a run: every metric path of `infersim check` resolves in it."""
    levers = lever_json(result)
    return {
        **economics_json(result),
        **({} if result.routing is None else {"routing": routing_json(result.routing)}),
        **({} if levers is None else {"levers": levers}),
        "serving": serving_json(result.serving),
    }


def run_document(loaded: LoadedScenario, result: RunResult) -> dict[str, Any]:
    """One run as `infersim run -f json` lists it: which scenario, then its figures."""
    return {
        "scenario": loaded.scenario.name,
        "variant": loaded.scenario.variant,
        "source": loaded.source,
        "seed": result.serving.seed,
        **run_outputs(result),
    }
