"""The resolved inputs of a scenario, as a baseline records them, and their diff.

A reviewer reads a cost change backwards: which input moved? The baseline keeps, per scenario,
every input of the validated scenario (defaults filled in, `extends:` and the variant applied)
by dotted path, and the catalog figures its deployments use (`catalog.gpus.h100-sxm.
rental_usd_per_hour`), so `check` can show "deployments.main.replicas: 8 -> 4" before the
output changes it causes, as infracost shows resource changes before cost changes. The
description and the catalog's sources are prose, not inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from infersim.scenario.deployment import SelfHosted

if TYPE_CHECKING:
    from infersim.scenario.load import LoadedScenario

InputValue = float | int | str | bool | None
#: Prose and provenance: not inputs of the model.
NOT_INPUTS = frozenset({"description", "sources", "source", "checked", "assumed", "notes"})


def _flat(node: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, InputValue]]:
    if isinstance(node, Mapping):
        for key, child in node.items():
            if str(key) not in NOT_INPUTS:
                yield from _flat(child, (*prefix, str(key)))
    elif isinstance(node, list | tuple):
        if not node:
            yield ".".join(prefix), None
        for index, child in enumerate(node):
            yield from _flat(child, (*prefix, str(index)))
    elif node is None or isinstance(node, bool | int | float | str):
        yield ".".join(prefix), node
    else:
        yield ".".join(prefix), str(node)


def resolved_inputs(loaded: LoadedScenario) -> dict[str, InputValue]:
    """Every input of the scenario as run, by dotted path, sorted."""
    scenario = loaded.scenario
    data: dict[str, Any] = scenario.model_dump(mode="json", exclude={"variants"})
    used: dict[str, dict[str, Any]] = {"gpus": {}, "models": {}}
    for dep in scenario.deployments.values():
        if isinstance(dep, SelfHosted):
            gpus = [p.gpu for p in dep.pools] if dep.pools is not None else [dep.gpu]
            for gpu in gpus:
                if isinstance(gpu, str):
                    used["gpus"][gpu] = loaded.catalog.gpu(gpu).model_dump(mode="json")
            if isinstance(dep.model, str):
                used["models"][dep.model] = loaded.catalog.model(dep.model).model_dump(mode="json")
    data["catalog"] = {**data.get("catalog", {}), **{k: v for k, v in used.items() if v}}
    return dict(sorted(_flat(data, ())))


InputStatus = Literal["changed", "added", "removed"]


@dataclass(frozen=True)
class InputChange:
    path: str
    old: InputValue
    new: InputValue
    status: InputStatus


def diff_inputs(
    old: Mapping[str, InputValue], new: Mapping[str, InputValue]
) -> tuple[InputChange, ...]:
    """The inputs that differ, in path order."""
    out: list[InputChange] = []
    for path in sorted({*old, *new}):
        if path not in old:
            out.append(InputChange(path, None, new[path], "added"))
        elif path not in new:
            out.append(InputChange(path, old[path], None, "removed"))
        elif old[path] != new[path] or type(old[path]) is not type(new[path]):
            if _same_number(old[path], new[path]):
                continue
            out.append(InputChange(path, old[path], new[path], "changed"))
    return tuple(out)


def _same_number(a: InputValue, b: InputValue) -> bool:
    """1 and 1.0 are one input (JSON does not keep the difference)."""
    numbers = (int, float)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and float(a) == float(b)
    )
