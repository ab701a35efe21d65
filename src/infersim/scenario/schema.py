"""The JSON Schema of scenario files, for editors (yaml-language-server) and for docs."""

from __future__ import annotations

import json
from typing import Any

from infersim.scenario.model import SCHEMA_URL, Scenario

SCHEMA_PATH = "schema/scenario.schema.json"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that scenario files follow."""
    schema = Scenario.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL,
        **schema,
    }


def scenario_json_schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=False) + "\n"
