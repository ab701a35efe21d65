"""Output metrics by dotted path, over one run's JSON (a run of `infersim run -f json`).

Canonical paths name one number each: the JSON keys joined by dots, with the `months` list
keyed by month number (`months.12.revenue_usd`). Text and lists of names are not metrics; a
null is a metric without a value in this run (a margin where nothing was sold).

Aliases, tried where a key is missing:
1. `months.last.X`: the horizon's last month.
2. `NAME_STAT_UNIT` for `NAME_UNIT.STAT` (STAT: p50, p90, p99, mean, low, high): `ttft_p99_s`
   is `ttft_s.p99`; without a unit, `batch_size_p99` is `batch_size.p99`.
3. `serving.X` for `serving.deployments.D.X`, and `costs.X` for `costs.D.X`, over every
   deployment D that has X: `serving.ttft_p99_s` is the TTFT p99 of each served deployment.
4. `margins.PRODUCT.X`: the segments sold as PRODUCT (`margins.main-api.gross_margin_pct`).
5. A bare name is looked up in `pnl`, then in `projection`: `gross_margin_pct` is
   `pnl.gross_margin_pct`.

An alias may name several numbers (one per deployment): a bound holds only when it holds for
each, so the worst of them decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from infersim.errors import InfersimError, did_you_mean

Leaf = float | None
Found = list[tuple[str, Leaf]]

#: Top-level keys of a run that describe it rather than measure it.
META_KEYS = frozenset({"scenario", "variant", "source", "seed"})

#: `ttft_p99_s` -> name `ttft`, stat `p99`, unit `_s`.
STAT_ALIAS = re.compile(r"(?P<name>.+?)_(?P<stat>p\d{1,2}|mean|low|high)(?P<unit>_[a-z]+)?")
UNITS = frozenset({"s", "usd", "pct", "share"})

#: What a baseline records of each run (patterns over canonical paths, `*` one part of the
#: path), besides every
#: metric an expectation names: money, margins, unit costs and service levels, not the
#: engine's internals (event counts, per-class breakdowns, confidence intervals, months).
KEY_METRICS = (
    "margins.*.revenue_usd",
    "margins.*.cost_usd",
    "margins.*.gross_margin_usd",
    "margins.*.gross_margin_pct",
    "margins.*.cost_usd_per_mtok",
    "margins.*.price_usd_per_mtok",
    "users.*.margin_p10_usd",
    "users.*.margin_p50_usd",
    "users.*.share_losing_money",
    "users.*.breakeven_requests_per_user_per_month",
    "pnl.*",
    "projection.*",
    "costs.*.*",
    "serving.deployments.*.replicas",
    "serving.deployments.*.ttft_s.p50",
    "serving.deployments.*.ttft_s.p99",
    "serving.deployments.*.tpot_s.p50",
    "serving.deployments.*.tpot_s.p99",
    "serving.deployments.*.e2e_s.p99",
    "serving.deployments.*.slo_met_share",
    "serving.deployments.*.busy_share",
    "serving.deployments.*.gpu_hours_provisioned",
    "serving.deployments.*.output_tokens_per_gpu_hour",
)


class MetricError(InfersimError):
    """A metric path that names no number of the run."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _children(node: Any) -> dict[str, Any] | None:
    """A node's named children: a mapping's keys, or the months of a list keyed by month."""
    if isinstance(node, dict):
        return node
    if (
        isinstance(node, list)
        and node
        and all(isinstance(item, dict) and _is_number(item.get("month")) for item in node)
    ):
        return {str(int(item["month"])): item for item in node}
    return None


def _leaf(node: Any, prefix: Sequence[str]) -> Found:
    if node is None:
        return [(".".join(prefix), None)]
    if _is_number(node):
        return [(".".join(prefix), float(node))]
    return []


def _walk(node: Any, parts: Sequence[str], prefix: tuple[str, ...]) -> Found:
    if not parts:
        return _leaf(node, prefix)
    children = _children(node)
    if children is None:
        return []
    head, rest = parts[0], parts[1:]
    if head in children and not (not prefix and head in META_KEYS):
        return _walk(children[head], rest, (*prefix, head))
    return _alias(node, children, head, rest, prefix)


def _fan_out(groups: Mapping[str, Any], parts: Sequence[str], prefix: tuple[str, ...]) -> Found:
    found: Found = []
    for name, node in groups.items():
        found.extend(_walk(node, parts, (*prefix, name)))
    return found


def _alias(
    node: Any, children: dict[str, Any], head: str, rest: Sequence[str], prefix: tuple[str, ...]
) -> Found:
    if head == "last" and isinstance(node, list):
        last = max(children, key=int)
        return _walk(children[last], rest, (*prefix, last))
    match = STAT_ALIAS.fullmatch(head)
    if match is not None:
        key = match["name"] + (match["unit"] or "")
        if key in children:
            return _walk(children[key], [match["stat"], *rest], (*prefix, key))
    if prefix == ("serving",) and isinstance(children.get("deployments"), dict):
        return _fan_out(children["deployments"], [head, *rest], (*prefix, "deployments"))
    if prefix == ("costs",):
        return _fan_out(children, [head, *rest], prefix)
    if prefix == ("margins",):
        sold = {
            name: row
            for name, row in children.items()
            if isinstance(row, dict) and row.get("product") == head
        }
        return _fan_out(sold, rest, prefix)
    return []


def flatten(run: Mapping[str, Any]) -> dict[str, Leaf]:
    """Every metric of a run by canonical path, in the JSON's order (nulls included)."""
    out: dict[str, Leaf] = {}

    def visit(node: Any, prefix: tuple[str, ...]) -> None:
        children = _children(node)
        if children is None:
            out.update(_leaf(node, prefix))
            return
        for key, child in children.items():
            if not prefix and key in META_KEYS:
                continue
            visit(child, (*prefix, key))

    visit(dict(run), ())
    return out


def _raw(run: Mapping[str, Any], parts: Sequence[str]) -> Any:
    node: Any = run
    for part in parts:
        children = _children(node)
        if children is None or part not in children:
            return None
        node = children[part]
    return node


def _unknown(run: Mapping[str, Any], metric: str) -> str:
    parts = metric.split(".")
    raw = _raw(run, parts)
    if isinstance(raw, str | bool | list):
        return f"metric '{metric}' is {type(raw).__name__} {raw!r}, not a number"
    known = flatten(run)
    below = [path for path in known if path.startswith(metric + ".")]
    if below:
        return (
            f"metric '{metric}' is a group of {len(below)} metrics, not one number "
            f"(e.g. '{below[0]}')"
        )
    candidates = [*known, *short_aliases(run, known)]
    hint = did_you_mean(metric, candidates)
    return f"unknown metric '{metric}'{hint} (infersim check --list-metrics FILE lists them)"


def resolve(run: Mapping[str, Any], metric: str) -> Found:
    """The canonical path and value of every number `metric` names, or `MetricError`."""
    parts = metric.split(".")
    if not all(parts):
        raise MetricError(f"metric '{metric}' has an empty part; write e.g. 'pnl.revenue_usd'")
    found = _walk(run, parts, ())
    if not found and len(parts) == 1:
        for section in ("pnl", "projection"):
            found = _walk(run, [section, metric], ())
            if found:
                break
    if not found:
        raise MetricError(_unknown(run, metric))
    return found


def _compress(rest: Sequence[str]) -> str | None:
    """`ttft_s.p99` -> `ttft_p99_s`, `batch_size.p99` -> `batch_size_p99`, `x` -> `x`."""
    if len(rest) == 1:
        return rest[0]
    if len(rest) == 2 and STAT_ALIAS.fullmatch(f"x_{rest[1]}") is not None:
        name, _, unit = rest[0].rpartition("_")
        if name and unit in UNITS:
            return f"{name}_{rest[1]}_{unit}"
        return f"{rest[0]}_{rest[1]}"
    return None


def _alias_candidates(path: str, last_month: str | None) -> Iterable[str]:
    parts = path.split(".")
    if parts[:2] == ["serving", "deployments"] and len(parts) > 3:
        short = _compress(parts[3:])
        if short is not None:
            yield f"serving.{short}"
    if parts[0] == "costs" and len(parts) == 3:
        yield f"costs.{parts[2]}"
    if parts[0] == "months" and len(parts) == 3 and parts[1] == last_month:
        yield f"months.last.{parts[2]}"


def short_aliases(
    run: Mapping[str, Any], known: Mapping[str, Leaf] | None = None
) -> dict[str, str]:
    """Alias -> canonical path, for the aliases that name exactly one metric of this run."""
    known = flatten(run) if known is None else known
    months = _children(run.get("months"))
    last_month = max(months, key=int) if months else None
    out: dict[str, str] = {}
    for path in known:
        for alias in _alias_candidates(path, last_month):
            found = _walk(run, alias.split("."), ())
            if [p for p, _ in found] == [path]:
                out[alias] = path
    return out


def _matches(path: str, pattern: str) -> bool:
    """Part by part: `serving.deployments.*.busy_share` skips the per-class figures."""
    parts, wanted = path.split("."), pattern.split(".")
    return len(parts) == len(wanted) and all(
        fnmatchcase(part, want) for part, want in zip(parts, wanted, strict=True)
    )


def key_metrics(run: Mapping[str, Any], also: Iterable[str] = ()) -> dict[str, float]:
    """What a baseline records: the `KEY_METRICS` with a value, and the paths in `also`."""
    extra = set(also)
    return {
        path: value
        for path, value in sorted(flatten(run).items())
        if value is not None
        and (path in extra or any(_matches(path, pattern) for pattern in KEY_METRICS))
    }
