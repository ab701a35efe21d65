"""Runs side by side: key figures, segments and deployments, each against the baseline.

The first run is the baseline. Every metric declares which direction is better (lower cost
and latency, higher margin). Each other run gets, per metric, its value, the delta from the
baseline (absolute, and in percent of the baseline's magnitude; percentages change in
points) and a verdict: `better`, `worse` or `same` (a change too small to show in the
table's format is the same, and reads "unchanged"). A metric one run lacks (a deployment
only the other has, a margin without revenue) has no delta and no verdict; a zero baseline
has no percent delta.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from infersim.pipeline.run import RunResult
from infersim.report.tables import DataTable, cents, significant

Better = Literal["higher", "lower"]
Verdict = Literal["better", "worse", "same"]
Unit = Literal["usd", "usd_per_mtok", "usd_per_gpu_hour", "pct", "share", "s", "ratio", "count"]

AREAS = {"key_figures": "key figures", "segments": "segments", "deployments": "deployments"}
GROUP_COLUMN = {"segments": "segment", "deployments": "deployment"}

#: Relative difference under which two values count as the same (floating-point noise).
SAME_REL_TOL = 1e-9


@dataclass(frozen=True)
class Metric:
    key: str
    """JSON key, its unit in the name (`gross_margin_usd`, `ttft_p99_s`)."""
    label: str
    unit: Unit
    better: Better


@dataclass(frozen=True)
class Delta:
    """One run's value of a metric against the baseline's."""

    value: float | None
    delta: float | None
    delta_pct: float | None
    verdict: Verdict | None


@dataclass(frozen=True)
class ComparedRow:
    area: str
    group: str | None
    metric: Metric
    baseline: float | None
    others: tuple[Delta, ...]


@dataclass(frozen=True)
class Comparison:
    labels: tuple[str, ...]
    """Run labels, the baseline first (made unique)."""
    rows: tuple[ComparedRow, ...]


#: Half the last digit each unit shows in the tables (`FORMATS`): a change smaller than this
#: does not show, so it reads "unchanged" rather than "better" or "worse".
DISPLAY_TOLERANCE: dict[Unit, float] = {
    "usd": 0.005,
    "usd_per_mtok": 0.0005,
    "usd_per_gpu_hour": 0.005,
    "pct": 0.05,
    "share": 0.0005,
    "s": 0.00005,
    "ratio": 0.005,
    "count": 0.5,
}


def delta(
    baseline: float | None, value: float | None, better: Better, unit: Unit | None = None
) -> Delta:
    """`value` against `baseline` (see the module doc); with `unit`, a change too small to
    show in that unit's format (`DISPLAY_TOLERANCE`) is the same."""
    if baseline is None or value is None:
        return Delta(value, None, None, None)
    change = value - baseline
    scale = max(abs(baseline), abs(value))
    if abs(change) <= SAME_REL_TOL * scale or change == 0:
        return Delta(value, 0.0, 0.0 if baseline != 0 else None, "same")
    pct = change / abs(baseline) * 100.0 if baseline != 0 else None
    if unit is not None and abs(change) < DISPLAY_TOLERANCE[unit]:
        return Delta(value, change, pct, "same")  # the change as it is; too small to show
    up_is_good = better == "higher"
    return Delta(value, change, pct, "better" if (change > 0) == up_is_good else "worse")


# --- the metrics of one run ---------------------------------------------------------------

Key = tuple[str, str | None, str]
Figures = dict[Key, tuple[Metric, float | None]]

KEY_FIGURES = (
    Metric("revenue_usd", "revenue", "usd", "higher"),
    Metric("serving_cost_usd", "cost of serving", "usd", "lower"),
    Metric("gpu_cost_usd", "  GPUs", "usd", "lower"),
    Metric("api_cost_usd", "  API purchases", "usd", "lower"),
    Metric("gross_margin_usd", "gross margin", "usd", "higher"),
    Metric("gross_margin_pct", "gross margin %", "pct", "higher"),
    Metric("operating_margin_usd", "operating margin", "usd", "higher"),
    Metric("operating_margin_pct", "operating margin %", "pct", "higher"),
    Metric("spent_per_revenue_usd", "$ spent per $ of revenue", "ratio", "lower"),
    Metric("cost_usd_per_mtok", "cost $/Mtok", "usd_per_mtok", "lower"),
)
SEGMENT_MARGIN = Metric("gross_margin_pct", "gross margin %", "pct", "higher")
SEGMENT_COST = Metric("cost_usd_per_mtok", "cost $/Mtok", "usd_per_mtok", "lower")
LOSING_MONEY = Metric("share_losing_money", "users losing money", "share", "lower")
DEPLOYMENT_COST = Metric("cost_usd_per_month", "cost $/month", "usd", "lower")
GPU_HOURS = Metric("gpu_hours_per_month", "GPU-hours/month", "count", "lower")
GPU_HOUR_PRICE = Metric("usd_per_gpu_hour", "$/GPU-hour", "usd_per_gpu_hour", "lower")
LATENCIES = (
    ("ttft", "p50", "TTFT p50 ms"),
    ("ttft", "p99", "TTFT p99 ms"),
    ("tpot", "p50", "TPOT p50 ms"),
    ("tpot", "p99", "TPOT p99 ms"),
    ("e2e", "p50", "E2E p50 ms"),
)
THROUGHPUT = Metric("output_tokens_per_s", "throughput out tok/s", "count", "higher")
TOKENS_PER_GPU_HOUR = Metric("output_tokens_per_gpu_hour", "out tok/GPU-hour", "count", "higher")
BUSY = Metric("busy_share", "busy share", "share", "higher")  # idle GPU-hours are paid for
WITHIN_SLO = Metric("slo_met_share", "within SLO", "share", "higher")


def run_figures(result: RunResult) -> Figures:
    """Every compared metric of one run, keyed by (area, group, metric key), in order."""
    first = result.first_month
    pnl, total = first.pnl, first.table.total
    out: Figures = {}

    def put(area: str, group: str | None, metric: Metric, value: float | None) -> None:
        out[(area, group, metric.key)] = (metric, value)

    for metric in KEY_FIGURES:
        source: Any = total if metric.key == "cost_usd_per_mtok" else pnl
        put("key_figures", None, metric, getattr(source, metric.key))
    for row in first.table.rows:
        if row.kind == "unallocated":
            continue
        put("segments", row.segment, SEGMENT_MARGIN, row.gross_margin_pct)
        put("segments", row.segment, SEGMENT_COST, row.cost_usd_per_mtok)
        dist = first.distributions.get(row.segment)
        if dist is not None:
            put("segments", row.segment, LOSING_MONEY, dist.share_losing_money)
    fleets = {f.deployment: f for f in result.ledger.fleets}
    served = {d.name: d for d in result.serving.deployments}
    for name in result.scenario.deployments:
        charged = first.deployments.get(name)
        put("deployments", name, DEPLOYMENT_COST, None if charged is None else charged.charged_usd)
        fleet = fleets.get(name)
        if fleet is not None:
            put("deployments", name, GPU_HOURS, fleet.gpu_hours_per_month)
            put("deployments", name, GPU_HOUR_PRICE, fleet.usd_per_gpu_hour)
        d = served.get(name)
        if d is None:
            continue
        for kind, stat, label in LATENCIES:
            percentiles = getattr(d, f"{kind}_s")
            put("deployments", name, Metric(f"{kind}_{stat}_s", label, "s", "lower"),
                getattr(percentiles, stat))  # fmt: skip
        put("deployments", name, THROUGHPUT, d.output_tokens_per_s)
        put("deployments", name, TOKENS_PER_GPU_HOUR, d.output_tokens_per_gpu_hour)
        put("deployments", name, BUSY, d.busy_share)
        if d.slo_met_share is not None:
            put("deployments", name, WITHIN_SLO, d.slo_met_share)
    return out


def unique_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Labels as given, a repeated one numbered (`x`, `x #2`)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return tuple(out)


def compare_runs(runs: Sequence[tuple[str, RunResult]]) -> Comparison:
    """The runs side by side, the first the baseline (two or more runs)."""
    if len(runs) < 2:
        raise ValueError(f"a comparison needs two or more runs, got {len(runs)}")
    figures = [run_figures(result) for _, result in runs]
    keys: dict[Key, Metric] = {}
    for area in AREAS:  # area by area; within one, the order the runs name things in
        for run in figures:
            for key, (metric, _) in run.items():
                if key[0] == area:
                    keys.setdefault(key, metric)
    rows = []
    for key, metric in keys.items():
        values = [run.get(key, (metric, None))[1] for run in figures]
        base = _finite(values[0])
        others = tuple(delta(base, _finite(v), metric.better, metric.unit) for v in values[1:])
        rows.append(ComparedRow(key[0], key[1], metric, base, others))
    return Comparison(unique_labels([label for label, _ in runs]), tuple(rows))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# --- JSON -------------------------------------------------------------------------------


def _json_value(unit: Unit, value: float | None) -> float | None:
    if value is None:
        return None
    return cents(value) if unit == "usd" else significant(value)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """Stable JSON: per area, one entry per metric with the baseline and every other run."""
    areas: dict[str, list[dict[str, Any]]] = {area: [] for area in AREAS}
    for row in comparison.rows:
        m = row.metric
        areas[row.area].append(
            {
                "group": row.group,
                "metric": m.key,
                "label": m.label.strip(),
                "unit": m.unit,
                "better": m.better,
                "baseline": _json_value(m.unit, row.baseline),
                "compared": [
                    {
                        "run": label,
                        "value": _json_value(m.unit, d.value),
                        "delta": _json_value(m.unit, d.delta),
                        "delta_pct": None if d.delta_pct is None else significant(d.delta_pct),
                        "verdict": d.verdict,
                    }
                    for label, d in zip(comparison.labels[1:], row.others, strict=True)
                ],
            }
        )
    return {"baseline": comparison.labels[0], "runs": list(comparison.labels), "areas": areas}


# --- tables -----------------------------------------------------------------------------


def _money(value: float, sign: str = "") -> str:
    digits = 0 if abs(value) >= 100 else 2
    return f"{'-' if value < 0 else sign}${abs(value):,.{digits}f}"


def _ms(value: float, sign: str = "") -> str:
    ms = value * 1e3
    digits = 2 if 0 < abs(ms) < 1 else 1
    return f"{ms:{sign},.{digits}f}"


FORMATS: dict[Unit, Callable[[float, str], str]] = {
    "usd": _money,
    "usd_per_mtok": lambda v, s: f"{'-' if v < 0 else s}${abs(v):,.3f}",
    "usd_per_gpu_hour": lambda v, s: f"{'-' if v < 0 else s}${abs(v):,.2f}",
    "pct": lambda v, s: f"{v:{s},.1f}%",
    "share": lambda v, s: f"{v * 100:{s},.1f}%",
    "s": _ms,
    "ratio": lambda v, s: f"{v:{s},.2f}",
    "count": lambda v, s: f"{v:{s},.0f}",
}
#: How a delta of a percentage or a share reads: in percentage points.
DELTA_SUFFIX: dict[Unit, str] = {"pct": " pp", "share": " pp"}


def format_value(unit: Unit, value: float | None) -> str | None:
    return None if value is None else FORMATS[unit](value, "")


def format_delta(unit: Unit, baseline: float | None, d: Delta) -> str:
    """`+$120 (+10.8%) better`; `+6.5 pp better` for percentages and shares (points, not a
    percent of a percent); `unchanged`; `new` / `missing` where one side has no value."""
    if d.verdict is None:
        if baseline is None and d.value is not None:
            return "new"
        return "missing" if d.value is None and baseline is not None else "-"
    if d.verdict == "same":
        return "unchanged"
    assert d.delta is not None
    text = FORMATS[unit](d.delta, "+").replace("%", "") + DELTA_SUFFIX.get(unit, "")
    if d.delta_pct is not None and unit not in DELTA_SUFFIX:
        text += f" ({d.delta_pct:+,.1f}%)"
    return f"{text} {d.verdict}"


def comparison_tables(comparison: Comparison, title: str | None = None) -> list[DataTable]:
    """One table per area: the baseline, then each run with its delta (rows no run has a value
    for are left out)."""
    labels = comparison.labels
    heading = title or f"{labels[0]} vs {', '.join(labels[1:])}"
    tables = []
    for area, area_title in AREAS.items():
        rows: list[list[Any]] = []
        for row in comparison.rows:
            if row.area != area:
                continue
            if row.baseline is None and all(d.value is None for d in row.others):
                continue
            unit = row.metric.unit
            cells: list[Any] = [row.group] if area in GROUP_COLUMN else []
            cells += [row.metric.label, format_value(unit, row.baseline)]
            for d in row.others:
                cells += [format_value(unit, d.value), format_delta(unit, row.baseline, d)]
            rows.append(cells)
        if not rows:
            continue
        columns = [GROUP_COLUMN[area]] if area in GROUP_COLUMN else []
        columns += ["metric", f"{labels[0]} (base)"]
        for label in labels[1:]:
            columns += [label, f"Δ {label}"]
        tables.append(DataTable(f"{heading}: {area_title}", columns, rows))
    return tables
