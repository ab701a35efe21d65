"""The JSON Schema of scenario files, for editors (yaml-language-server) and for docs.

Every numeric field also accepts a distribution or a curve (`infersim.scenario.params`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from infersim.scenario.model import SCHEMA_URL, Scenario
from infersim.scenario.params import CurveSpec, DistSpec

SCHEMA_PATH = "schema/scenario.schema.json"
SPEC_REF = {"$ref": "#/$defs/NumericSpec"}


def _accept_specs(node: Any) -> Any:
    """Each numeric schema becomes anyOf [itself, a distribution or a curve]."""
    if isinstance(node, list):
        return [_accept_specs(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") in ("number", "integer"):
        return {"anyOf": [node, SPEC_REF]}
    return {key: _accept_specs(value) for key, value in node.items()}


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that scenario files follow."""
    schema = _accept_specs(Scenario.model_json_schema(mode="validation"))
    specs: dict[str, Any] = TypeAdapter(DistSpec | CurveSpec).json_schema(
        ref_template="#/$defs/{model}"
    )
    defs = {**schema.pop("$defs", {}), **specs.pop("$defs", {})}
    defs["NumericSpec"] = {
        "description": "a distribution (Monte Carlo) or a curve over months (projections)",
        **specs,
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_URL,
            **schema, "$defs": defs}  # fmt: skip


def scenario_json_schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=False) + "\n"
