"""Check that every name a scenario uses exists: catalog entries, deployments, plans, files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from infersim.catalog.load import Catalog, unknown_name_message
from infersim.catalog.prices import PriceLookupError, resolve_price
from infersim.errors import Locate, PathKey, Problem
from infersim.scenario.deployment import ApiModel, RentedGpu, RouterKind, SelfHosted
from infersim.scenario.model import Scenario
from infersim.scenario.paths import confinement_problem
from infersim.scenario.plan import catalog_providers, unknown_provider
from infersim.scenario.workload import Empirical, Trace


class ProblemLog:
    """Problems found in a scenario, each placed at its file and line."""

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
    check = ProblemLog(locate)
    deployments = list(scenario.deployments)
    for name, dep in scenario.deployments.items():
        here: PathKey = ("deployments", name)
        if isinstance(dep, SelfHosted):
            if isinstance(dep.model, str):
                check.name_in((*here, "model"), dep.model, catalog.models, "model")
            if dep.pools is not None:
                for index, pool in enumerate(dep.pools):
                    check.name_in((*here, "pools", index, "gpu"), pool.gpu, catalog.gpus, "gpu")
                    if pool.grid is not None:
                        at = (*here, "pools", index, "grid")
                        check.name_in(at, pool.grid, catalog.grids, "grid region")
            elif isinstance(dep.gpu, str):
                check.name_in((*here, "gpu"), dep.gpu, catalog.gpus, "gpu")
            spec = dep.speculative
            if spec is not None and spec.draft_model is not None:
                check.name_in(
                    (*here, "speculative", "draft_model"), spec.draft_model, catalog.models, "model"
                )
        elif isinstance(dep, ApiModel) and dep.list_price is not None:
            check.price((*here, "list_price"), dep.list_price, catalog)

    energy = scenario.costs.energy
    if energy is not None and energy.grid is not None:
        check.name_in(("costs", "energy", "grid"), energy.grid, catalog.grids, "grid region")
    _check_fleet(check, scenario)
    _check_pools(check, scenario)
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

    if not check.problems:  # where traffic goes is known only once every name resolves
        _check_cached_shares(check, scenario)
        _check_class_scheduling(check, scenario)

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
    _check_plan(check, scenario, catalog)
    return check.problems


def _check_plan(check: ProblemLog, scenario: Scenario, catalog: Catalog) -> None:
    """The `plan:` section's names: catalog GPUs, and providers the catalog's quotes name."""
    plan = scenario.plan
    if plan is None:
        return
    for index, gpu in enumerate(plan.gpus or []):
        check.name_in(("plan", "gpus", index), gpu, catalog.gpus, "gpu")
    known = catalog_providers(catalog.gpus.values())
    for index, provider in enumerate(plan.providers or []):
        problem = unknown_provider(provider, known)
        if problem is not None:
            check.add(("plan", "providers", index), problem)


def _check_fleet(check: ProblemLog, scenario: Scenario) -> None:
    fleet = scenario.fleet
    bounds = (fleet.slo.ttft_p99_s, fleet.slo.tpot_p50_s, fleet.slo.tpot_p99_s)
    if fleet.mode == "size_to_slo" and all(bound is None for bound in bounds):  # as size_fleet
        check.add(
            ("fleet", "mode"),
            "mode 'size_to_slo' sizes the fleet to meet fleet.slo, and none is given: set "
            "fleet.slo.ttft_p99_s, tpot_p50_s or tpot_p99_s, or use mode 'fixed'",
        )
    if not fleet.disaggregated:
        for name, dep in scenario.deployments.items():
            if isinstance(dep, SelfHosted) and dep.prefill_pool is not None:
                check.add(
                    ("deployments", name, "prefill_pool"),
                    "a prefill pool's layout takes effect only with disaggregated serving: "
                    "set fleet.disaggregated: true, or remove prefill_pool",
                )
        return
    for name, dep in scenario.deployments.items():
        if not isinstance(dep, SelfHosted):
            continue
        path: PathKey = ("deployments", name, "cost")
        cost = dep.cost
        if cost is None:
            path, cost = ("costs", "gpu"), scenario.costs.gpu
        if isinstance(cost, RentedGpu) and cost.spot and cost.spot.interruptions_per_gpu_hour:
            check.add(
                (*path, "spot", "interruptions_per_gpu_hour"),
                f"spot reclaims are simulated on fleets that are not disaggregated, and "
                f"deployment '{name}' is (fleet.disaggregated): set it to 0, remove spot, or "
                "set fleet.disaggregated: false",
            )
    if fleet.mode in ("size_to_slo", "autoscale"):
        if fleet.prefill_replicas is not None:
            verb = "sizes" if fleet.mode == "size_to_slo" else "autoscales"
            check.add(
                ("fleet", "prefill_replicas"),
                f"mode '{fleet.mode}' {verb} both pools: remove prefill_replicas, or use "
                "mode 'fixed'",
            )
        return
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


def _check_pools(check: ProblemLog, scenario: Scenario) -> None:
    """A mixed fleet (a deployment's pools) is a fixed fleet, each pool priced, bought and
    powered on its own; what would not take effect on it is refused."""
    fleet = scenario.fleet
    for name, dep in scenario.deployments.items():
        if not isinstance(dep, SelfHosted) or dep.pools is None:
            continue
        here: PathKey = ("deployments", name, "pools")
        if fleet.mode != "fixed":
            check.add(
                ("fleet", "mode"),
                f"deployment '{name}' has pools (a mixed fleet), which take fleet mode 'fixed' "
                f"only, got '{fleet.mode}'",
            )
        if fleet.disaggregated:
            check.add(
                ("fleet", "disaggregated"),
                f"deployment '{name}' has pools (a mixed fleet), which is not disaggregated: "
                "set fleet.disaggregated: false",
            )
        if fleet.load_balancer != "least_outstanding":
            check.add(
                ("fleet", "load_balancer"),
                f"deployment '{name}' routes between its pools by its pool_routing (within a "
                f"pool: least outstanding), got '{fleet.load_balancer}': remove load_balancer",
            )
        for index, pool in enumerate(dep.pools):
            for key in ("grid", "gco2e_per_kwh"):
                if getattr(pool, key) is not None and scenario.costs.energy is None:
                    check.add(
                        (*here, index, key),
                        f"is pool '{pool.name}'s carbon intensity, which takes effect with "
                        f"costs.energy only: add costs.energy, or remove {key}",
                    )


def _deployment_of(
    check: ProblemLog, here: PathKey, name: str | None, deployments: list[str], routed: bool
) -> None:
    if name is not None:
        check.name_in((*here, "deployment"), name, deployments, "deployment")
    elif len(deployments) > 1 and not routed:
        check.add(
            here,
            f"several deployments ({', '.join(deployments)}): name one with 'deployment', "
            "or add 'routing'",
        )


def _file_exists(check: ProblemLog, path: PathKey, ref: str, base_dir: Path | None) -> None:
    if base_dir is None:
        check.add(path, "a file path needs a scenario file to be relative to")
        return
    problem = confinement_problem(base_dir, ref)
    if problem is not None:
        check.add(path, problem)
        return
    target = (base_dir / ref).resolve()
    if not target.is_file():
        check.add(path, f"file not found: {ref} (looked in {base_dir})")


def reached_deployments(scenario: Scenario, named: str | None) -> list[str]:
    """The deployments traffic can reach: the one it names, the only one, or every deployment
    the routing may send it to (split shares above 0, every model of an order)."""
    if named is not None:
        return [named]
    routing = scenario.routing
    if routing is None:
        return list(scenario.deployments)[:1]
    if routing.order:
        return list(dict.fromkeys(routing.order))
    return [name for name, share in routing.split.items() if share > 0]


def _check_class_scheduling(check: ProblemLog, scenario: Scenario) -> None:
    """A class's `priority` or `deadline_s` only acts on self-hosted replicas, against other
    traffic ranked differently there: refuse one that would change nothing. (A `deadline_s`
    also bills the class in its API deployments' batch tier: the preflight, which has the
    prices, refuses one that reaches only API deployments without a batch tier.)"""
    workload = scenario.workload
    ranks: dict[str, set[tuple[bool, int]]] = {}  # deployment -> ranks of its traffic
    for cls in workload.classes.values():
        for dep in reached_deployments(scenario, cls.deployment):
            ranks.setdefault(dep, set()).add((cls.deadline_s is None, cls.priority))
    for pop in workload.users.values():
        for dep in reached_deployments(scenario, pop.deployment):
            ranks.setdefault(dep, set()).add((True, 0))
    _check_batch_caps(check, scenario, ranks)
    for name, cls in workload.classes.items():
        hosted = _self_hosted(scenario, reached_deployments(scenario, cls.deployment))
        if cls.priority == 0:
            continue
        here: PathKey = ("workload", "classes", name, "priority")
        if not hosted:
            check.add(
                here,
                f"priority {cls.priority:g} given, but the class reaches no self-hosted "
                "deployment (an API schedules its own requests), so it would be ignored: remove it",
            )
        elif all(len(ranks[d]) < 2 for d in hosted):
            where = " and ".join(f"deployments.{d}" for d in hosted)
            check.add(
                here,
                f"priority {cls.priority:g} given, but every request {where} serves ranks the "
                "same, so it would change nothing: give another class there a different "
                "priority (or a deadline_s), or remove it",
            )


def _check_batch_caps(
    check: ProblemLog, scenario: Scenario, ranks: dict[str, set[tuple[bool, int]]]
) -> None:
    """`scheduler.batch_slowdown_max` caps what batch classes add to interactive work on the
    same replicas: refuse it where either kind of traffic is missing (it would never act)."""
    for name, dep in _self_hosted(scenario, list(scenario.deployments)).items():
        cap = None if dep.scheduler is None else dep.scheduler.batch_slowdown_max
        if cap is None:
            continue
        kinds = {interactive for interactive, _ in ranks.get(name, set())}
        missing = [
            words
            for kind, words in ((False, "no batch class (one with deadline_s)"),
                                (True, "no interactive class (one without deadline_s)"))
            if kind not in kinds
        ]  # fmt: skip
        if missing:
            check.add(
                ("deployments", name, "scheduler", "batch_slowdown_max"),
                f"batch_slowdown_max {cap:g} given, but deployments.{name} serves "
                f"{' and '.join(missing)}, so it cannot take effect: remove it, or send "
                "batch and interactive classes there",
            )


def _check_cached_shares(check: ProblemLog, scenario: Scenario) -> None:
    """A cached prefix share sent to a self-hosted deployment without prefix caching would be
    ignored there (no prefill is skipped, no cached token billed): refuse it. A routed class
    or population must find prefix caching on every self-hosted deployment it can reach."""
    workload = scenario.workload
    for name, cls in workload.classes.items():
        share = cls.cached_prefix_share
        if share <= 0:
            continue
        here: PathKey = ("workload", "classes", name, "cached_prefix_share")
        hosted = _self_hosted(scenario, reached_deployments(scenario, cls.deployment))
        if isinstance(cls.arrival, Trace) and hosted:
            check.add(
                here,
                f"cached_prefix_share {share:g} is not used with arrival 'trace' on a "
                "self-hosted deployment: the trace's cached_prefix_tokens column gives each "
                "request's cached tokens; remove cached_prefix_share",
            )
            continue
        if cls.sessions is not None and hosted:
            check.add(
                here,
                f"cached_prefix_share {share:g} is not used with sessions on a self-hosted "
                "deployment: the prefix cache finds each turn's cached tokens from the "
                "session's earlier turns; remove cached_prefix_share",
            )
            continue
        routed = cls.deployment is None and scenario.routing is not None
        _require_prefix_caching(check, here, share, hosted, routed)
    for name, pop in workload.users.items():
        share = pop.cached_prefix_share
        if share <= 0:
            continue
        reached = reached_deployments(scenario, pop.deployment)
        plan = scenario.pricing.plans.get(pop.plan)
        if plan is not None and plan.cap is not None and plan.cap.at_cap == "downgrade":
            reached += [d for d in [plan.cap.downgrade_deployment] if d and d not in reached]
        hosted = _self_hosted(scenario, reached)
        here = ("workload", "users", name, "cached_prefix_share")
        routed = pop.deployment is None and scenario.routing is not None
        _require_prefix_caching(check, here, share, hosted, routed)


def _self_hosted(scenario: Scenario, names: list[str]) -> dict[str, SelfHosted]:
    return {n: d for n in names if isinstance(d := scenario.deployments[n], SelfHosted)}


def _require_prefix_caching(
    check: ProblemLog,
    here: PathKey,
    share: float,
    hosted: dict[str, SelfHosted],
    routed: bool,
) -> None:
    missing = [name for name, dep in hosted.items() if dep.prefix_caching is None]
    if not missing:
        return
    fix = " and ".join(
        f"deployments.{d}.prefix_caching: {{cached_share: {share:g}}}" for d in missing
    )
    if routed and len(missing) > 1:
        where = f"the self-hosted deployments the routing sends it to ({', '.join(missing)}) have"
    elif routed:
        where = f"the routing sends it to deployments.{missing[0]}, which has"
    else:
        where = f"deployments.{missing[0]} has"
    check.add(
        here,
        f"cached_prefix_share {share:g} given, but {where} no prefix_caching, so the share "
        f"would be ignored there: add {fix}, or remove cached_prefix_share",
    )
