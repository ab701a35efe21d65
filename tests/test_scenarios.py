"""Shipped scenarios and the committed JSON Schema stay valid and current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CONFIGS, ROOT
from infersim.scenario.compose import load_document, variant_names
from infersim.scenario.deployment import OwnedGpu, SelfHosted
from infersim.scenario.load import load_scenario
from infersim.scenario.model import Scenario
from infersim.scenario.schema import SCHEMA_PATH, scenario_json_schema, scenario_json_schema_text

CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))


def test_committed_schema_is_current() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == scenario_json_schema_text(), (
        "schema is stale: run `infersim schema -o schema/scenario.schema.json`"
    )


def test_schema_describes_the_top_level_keys() -> None:
    schema = scenario_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(Scenario.model_fields)
    assert set(schema["required"]) == {"name", "deployments", "workload"}


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_config_and_variant_validates(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/scenario.schema.json"
    for variant in [None, *variant_names(load_document(path))]:
        loaded = load_scenario(path, variant)
        assert loaded.scenario.variant == variant


def test_builtin_default_loads_without_a_file() -> None:
    loaded = load_scenario(None)
    assert loaded.scenario.name == "default-chat"
    assert loaded.source.startswith("<builtin>")


def test_schema_round_trip_of_a_resolved_scenario() -> None:
    scenario = load_scenario(CONFIGS / "chat-70b-h100.yaml", "h200").scenario
    dumped = json.loads(scenario.model_dump_json())
    assert Scenario.model_validate(dumped) == scenario


def test_extends_child_changes_the_gpu_cost_kind() -> None:
    base = load_scenario(CONFIGS / "chat-70b-h100.yaml").scenario
    owned = load_scenario(CONFIGS / "chat-70b-owned.yaml").scenario
    assert owned.costs.gpu.kind == "owned" and isinstance(owned.costs.gpu, OwnedGpu)
    assert owned.workload == base.workload  # everything else inherited
    main = owned.deployments["main"]
    assert isinstance(main, SelfHosted) and main.replicas == 8


def test_variant_overrides_only_what_it_names() -> None:
    base = load_scenario(CONFIGS / "chat-70b-h100.yaml").scenario
    h200 = load_scenario(CONFIGS / "chat-70b-h100.yaml", "h200").scenario
    a, b = base.deployments["main"], h200.deployments["main"]
    assert isinstance(a, SelfHosted) and isinstance(b, SelfHosted)
    assert (b.gpu, b.tensor_parallel, b.replicas) == ("h200-sxm", 1, 10)
    assert b.precision == a.precision and b.model == a.model
