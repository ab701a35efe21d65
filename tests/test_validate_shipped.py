"""Every shipped scenario (configs/, at any depth, and the built-in default) validates, in
every variant, as `infersim run` would check it: the deployments fit, the requests fit, the
expect: metrics exist, cached prefix shares are served with prefix caching."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CONFIGS
from infersim.cli.app import app
from infersim.scenario.load import validate_file

SHIPPED = sorted(CONFIGS.rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert len(SHIPPED) >= 15
    assert any(path.parent != CONFIGS for path in SHIPPED)  # the subdirectories too


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_validates_in_every_variant(path: Path) -> None:
    checked = validate_file(path)
    assert checked.problems == []
    assert None in checked.loaded  # the file itself, then each variant
    assert len(checked.loaded) == checked.variants + 1


def test_builtin_default_validates_in_every_variant() -> None:
    checked = validate_file(None)
    assert checked.problems == []
    assert list(checked.loaded) == [None, "int4", "h200"]
    main = checked.loaded[None].scenario.deployments["main"]
    chat = checked.loaded[None].scenario.workload.classes["chat"]
    assert getattr(main, "prefix_caching", None) is not None  # so chat's share counts
    assert chat.cached_prefix_share == 0.2


def test_validate_command_accepts_every_config() -> None:
    result = CliRunner().invoke(app, ["validate", *map(str, SHIPPED)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.count(": ok") == len(SHIPPED)
