"""Check that every name a scenario uses exists: catalog entries, deployments, plans, files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from infersim.catalog.load import Catalog, unknown_name_message
from infersim.catalog.prices import PriceLookupError, resolve_price
from infersim.errors import Locate, PathKey, Problem
from infersim.scenario.deployment import ApiModel, RouterKind, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Empirical, Trace


class _Checker:
    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str) -> None:
        file, line = self.locate(path)
        self.problems.append(Problem(file, line, ".".join(str(p) for p in path), message))

    def name_in(self, path: PathKey, name: str, known: Iterable[str], kind: str) -> None:
        known = list(known)
        if name not in known:
            self.add(path, unknown_name_message(kind, name, known))

    def price(self, path: PathKey, ref: str, catalog: Catalog) -> None:
        try:
            resolve_price(ref, catalog)
        except PriceLookupError as exc:
            self.add(path, str(exc))


def check_references(
    scenario: Scenario, catalog: Catalog, locate: Locate, base_dir: Path | None
) -> list[Problem]:
    """Every problem with the names and files a valid-shaped scenario refers to."""
    check = _Checker(locate)
    deployments = list(scenario.deployments)
    for name, dep in scenario.deployments.items():
        here: PathKey = ("deployments", name)
        if isinstance(dep, SelfHosted):
            if isinstance(dep.model, str):
                check.name_in((*here, "model"), dep.model, catalog.models, "model")
            if isinstance(dep.gpu, str):
                check.name_in((*here, "gpu"), dep.gpu, catalog.gpus, "gpu")
            spec = dep.speculative
            if spec is not None and spec.draft_model is not None:
                check.name_in(
                    (*here, "speculative", "draft_model"), spec.draft_model, catalog.models, "model"
                )
        elif isinstance(dep, ApiModel) and dep.list_price is not None:
            check.price((*here, "list_price"), dep.list_price, catalog)

    _check_fleet(check, scenario)
    routed = scenario.routing is not None
    if scenario.routing is not None:
        for target in scenario.routing.split:
            check.name_in(("routing", "split", target), target, deployments, "deployment")
        for index, target in enumerate(scenario.routing.order):
            check.name_in(("routing", "order", index), target, deployments, "deployment")
            known = scenario.deployments.get(target)
            if (
                scenario.routing.strategy is RouterKind.DIFFICULTY
                and known is not None
                and known.quality is None
            ):
                check.add(
                    ("routing", "order", index),
                    f"difficulty routing needs deployments.{target}.quality (its capability "
                    "in [0, 1])",
                )

    workload = scenario.workload
    for name, cls in workload.classes.items():
        here = ("workload", "classes", name)
        _deployment_of(check, here, cls.deployment, deployments, routed)
        if isinstance(cls.arrival, Trace):
            _file_exists(check, (*here, "arrival", "path"), cls.arrival.path, base_dir)
        for field in ("prompt_tokens", "output_tokens"):
            dist = getattr(cls, field)
            if isinstance(dist, Empirical):
                _file_exists(check, (*here, field, "path"), dist.path, base_dir)

    plans = [*scenario.pricing.plans, "free"]
    for name, pop in workload.users.items():
        here = ("workload", "users", name)
        check.name_in((*here, "plan"), pop.plan, plans, "plan")
        _deployment_of(check, here, pop.deployment, deployments, routed)

    for name, product in scenario.pricing.api.items():
        here = ("pricing", "api", name)
        check.name_in((*here, "deployment"), product.deployment, deployments, "deployment")
        if product.list_price is not None:
            check.price((*here, "list_price"), product.list_price, catalog)
    for name, plan in scenario.pricing.plans.items():
        if plan.cap is not None and plan.cap.downgrade_deployment is not None:
            check.name_in(
                ("pricing", "plans", name, "cap", "downgrade_deployment"),
                plan.cap.downgrade_deployment,
                deployments,
                "deployment",
            )
    for name, contract in scenario.pricing.contracts.items():
        if contract.deployment is not None:
            check.name_in(
                ("pricing", "contracts", name, "deployment"),
                contract.deployment,
                deployments,
                "deployment",
            )
    return check.problems


def _check_fleet(check: _Checker, scenario: Scenario) -> None:
    fleet = scenario.fleet
    if not fleet.disaggregated:
        return
    if fleet.mode != "fixed":
        check.add(("fleet", "mode"), "disaggregated serving needs mode 'fixed'")
    for name, dep in scenario.deployments.items():
        if not isinstance(dep, SelfHosted):
            continue
        if dep.replicas < 2:
            check.add(
                ("deployments", name, "replicas"),
                f"disaggregated serving needs at least 2 replicas (a prefill and a decode pool), "
                f"got {dep.replicas}",
            )
        elif fleet.prefill_replicas is not None and fleet.prefill_replicas >= dep.replicas:
            check.add(
                ("fleet", "prefill_replicas"),
                f"must leave a decode pool: {fleet.prefill_replicas} of {dep.replicas} replicas "
                f"of deployment '{name}'",
            )


def _deployment_of(
    check: _Checker, here: PathKey, name: str | None, deployments: list[str], routed: bool
) -> None:
    if name is not None:
        check.name_in((*here, "deployment"), name, deployments, "deployment")
    elif len(deployments) > 1 and not routed:
        check.add(
            here,
            f"several deployments ({', '.join(deployments)}): name one with 'deployment', "
            "or add 'routing'",
        )


def _file_exists(check: _Checker, path: PathKey, ref: str, base_dir: Path | None) -> None:
    if base_dir is None:
        check.add(path, "a file path needs a scenario file to be relative to")
        return
    target = (base_dir / ref).resolve()
    if not target.is_file():
        check.add(path, f"file not found: {ref} (looked in {base_dir})")
