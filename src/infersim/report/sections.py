"""From a command's JSON (the stable contract) to the sections of a report: each a title,
tables (`DataTable`), charts (SVG strings) and notes.

The charts fit the command: `run` a revenue -> cost -> margin waterfall, a histogram of the
margin per subscriber with the breakeven line, the months of the projection; `perf`
throughput, latency and cost against batch size; `compare` (and `run --all-variants`) bars
with deltas; `check` the results per scenario and the largest changes from the baseline;
`sweep` lines over the swept input; `montecarlo` a fan chart and histograms.

The tables a command already prints come in as `tables` and follow the charts: those titled
`"<run label>: ..."` under their run, the rest at the end.

Sweep and Monte Carlo come from `infersim.analysis` (`sweep_json`, `montecarlo_json`):

    sweep:      {"scenario", "variant", "parameters": [path, ...], "metrics": [metric, ...],
                 "points": [{"parameters": {path: value}, "metrics": {metric: value}}, ...]}
    montecarlo: {"samples": int, "outputs": {metric: {"p5", "p50", "p95", "mean", ...}},
                 "probability_margin_below_zero": {metric: p}, ...}

plus, optionally, per-month percentiles (`"months": {metric: [{"month", "p5", "p50", "p95"}]}`)
for fan charts, and the per-sample values (an argument, not JSON) for histograms. Keys not
named here are ignored; a part that is missing just leaves its chart out.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infersim.economics.value_chain import MARGIN as VALUE_CHAIN_MARGIN
from infersim.economics.value_chain import SHORT_LABELS as VALUE_CHAIN_SHORT
from infersim.report import charts
from infersim.report.charts import BarPanel, Panel
from infersim.report.formats import share
from infersim.report.headline import projection_words
from infersim.report.tables import DataTable


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart: its title (drawn in the chart, and its accessible name) and an
    optional caption below it."""

    title: str
    svg: str
    caption: str | None = None


@dataclass(frozen=True)
class Section:
    """One part of a report: charts first, then tables, then notes."""

    title: str
    charts: Sequence[Chart] = field(default_factory=tuple)
    tables: Sequence[DataTable] = field(default_factory=tuple)
    notes: Sequence[str] = field(default_factory=tuple)


def unit_of(name: str) -> str:
    """The display unit of a JSON key or metric path, from the unit in its name."""
    leaf = name.rsplit(".", 1)[-1]
    for suffix, unit in (
        ("_usd_per_mtok", "usd_per_mtok"),
        ("usd_per_mtok_output", "usd_per_mtok"),
        ("usd_per_mtok_input", "usd_per_mtok"),
        ("_usd_per_gpu_hour", "usd_per_gpu_hour"),
        ("_pct", "pct"),
        ("_usd", "usd"),
        ("_share", "share"),
        ("_s", "s"),
    ):
        if leaf.endswith(suffix):
            return unit
    if leaf.startswith("share_"):
        return "share"
    return {"usd_per_gpu_hour": "usd_per_gpu_hour"}.get(leaf, "count")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: Any, unit: str) -> str:
    number = _num(value)
    return "-" if number is None else charts.format_value(number, unit)


def run_label(run: Mapping[str, Any]) -> str:
    """A run's label as the CLI titles its tables: `name` or `name [variant]`."""
    name = str(run.get("scenario") or run.get("label") or "scenario")
    variant = run.get("variant")
    return f"{name} [{variant}]" if variant else name


def _take_tables(tables: list[DataTable], label: str) -> list[DataTable]:
    """Remove and return the tables titled `label: ...` (in their order)."""
    taken = [t for t in tables if t.title.startswith(f"{label}:")]
    tables[:] = [t for t in tables if not t.title.startswith(f"{label}:")]
    return taken


def _rest(tables: list[DataTable], title: str = "tables") -> list[Section]:
    return [Section(title, tables=tuple(tables))] if tables else []


# --- run ----------------------------------------------------------------------------------


def _waterfall(label: str, pnl: Mapping[str, Any]) -> Chart | None:
    revenue = _num(pnl.get("revenue_usd"))
    if revenue is None:
        return None
    steps: list[tuple[str, float, str]] = [("revenue", revenue, "total")]
    for key, name in (
        ("gpu_cost_usd", "GPUs"),
        ("api_cost_usd", "API purchases"),
        ("serving_overhead_usd", "serving overhead"),
    ):
        cost = _num(pnl.get(key))
        if cost:
            steps.append((name, -cost, "delta"))
    gross = _num(pnl.get("gross_margin_usd"))
    if gross is not None:
        steps.append(("gross margin", gross, "total"))
    operating = pnl.get("operating_costs_usd") or {}
    for name, cost in sorted(operating.items()):
        value = _num(cost)
        if value:
            steps.append((str(name), -value, "delta"))
    margin = _num(pnl.get("operating_margin_usd"))
    if operating and margin is not None:
        steps.append(("operating margin", margin, "total"))
    title = f"{label}: revenue -> cost -> margin, month 1"
    return Chart(title, charts.waterfall(title, steps))


def _value_chain_waterfall(label: str, chain: Mapping[str, Any] | None) -> Chart | None:
    """The user's dollar, from revenue down to what the provider keeps (`value_chain`)."""
    revenue = _num((chain or {}).get("revenue_usd"))
    if chain is None or revenue is None:
        return None
    steps: list[tuple[str, float, str]] = [("revenue", revenue, "total")]
    shares = chain.get("shares") or {}
    for who, line in shares.items():
        value = _num(line.get("usd_per_month"))
        if who != VALUE_CHAIN_MARGIN and value:
            steps.append((VALUE_CHAIN_SHORT[who], -value, "delta"))
    kept = _num((shares.get(VALUE_CHAIN_MARGIN) or {}).get("usd_per_month"))
    if kept is not None:
        steps.append((VALUE_CHAIN_SHORT[VALUE_CHAIN_MARGIN], kept, "total"))
    title = f"{label}: who earns each dollar a user pays, month 1"
    return Chart(title, charts.waterfall(title, steps))


def _key_figures(run: Mapping[str, Any]) -> DataTable:
    pnl = run.get("pnl") or {}
    projection = run.get("projection") or {}
    rows: list[list[Any]] = [
        ["scenario", run.get("scenario")],
        ["variant", run.get("variant") or "-"],
        ["source", run.get("source")],
        ["seed", run.get("seed")],
        ["revenue, month 1", _fmt(pnl.get("revenue_usd"), "usd")],
        ["cost of serving, month 1", _fmt(pnl.get("serving_cost_usd"), "usd")],
        ["gross margin, month 1", _fmt(pnl.get("gross_margin_pct"), "pct")],
        ["operating margin, month 1", _fmt(pnl.get("operating_margin_pct"), "pct")],
        ["$ spent per $ of revenue", _fmt(pnl.get("spent_per_revenue_usd"), "count")],
    ]
    months = projection.get("months")
    if isinstance(months, int) and months > 1:
        margins = [_num(m.get("operating_margin_usd")) for m in run.get("months") or []]
        words = projection_words([m for m in margins if m is not None])
        rows += [
            ["months projected", months],
            ["cumulative cash at the end", _fmt(projection.get("cumulative_cash_usd"), "usd")],
            ["operating margin over the months", words or "-"],
        ]
    return DataTable("key figures", ["figure", "value"], rows)


def _user_histograms(label: str, users: Mapping[str, Any]) -> tuple[list[Chart], list[str]]:
    found: list[Chart] = []
    notes: list[str] = []
    for plan, stats in users.items():
        hist = stats.get("histogram") or {}
        edges, counts = hist.get("edges_usd"), hist.get("users")
        if not edges or not counts or len(edges) != len(counts) + 1:
            continue
        losing = _num(stats.get("share_losing_money"))
        subscribers = _num(stats.get("users"))
        title = f"{label}: margin per subscriber of {plan}, month 1"
        below = None
        if losing is not None:
            title += f" ({share(losing)} lose money)"
            if subscribers is not None and losing > 0:
                below = f"{losing * subscribers:,.0f} ({share(losing)}) lose money"
        found.append(
            Chart(
                title,
                charts.histogram(
                    title,
                    edges,
                    counts,
                    mark=0.0,
                    mark_label="breakeven",
                    below_label=below,
                    xlabel="gross margin per subscriber, USD per month",
                    ylabel="subscribers",
                ),
            )
        )
        breakeven = _num(stats.get("breakeven_requests_per_user_per_month"))
        if breakeven is not None:
            notes.append(
                f"{plan}: a subscriber breaks even at {breakeven:,.0f} requests a month; "
                f"price {_fmt(stats.get('price_usd_per_month'), 'usd')}, "
                f"median margin {_fmt(stats.get('margin_p50_usd'), 'usd')}."
            )
    return found, notes


def _months_chart(label: str, months: Sequence[Mapping[str, Any]]) -> Chart | None:
    if len(months) < 2:
        return None
    x = [float(m.get("month", i + 1)) for i, m in enumerate(months)]

    def series(key: str) -> list[float | None]:
        return [_num(m.get(key)) for m in months]

    gross, operating = series("gross_margin_usd"), series("operating_margin_usd")
    margin = {"gross margin": gross}
    if operating != gross:
        margin["operating margin"] = operating
    panels = [
        Panel("margin per month", "usd", margin),
        Panel("cumulative cash", "usd", {"cumulative cash": series("cumulative_cash_usd")}),
        Panel(
            "revenue and cost of serving",
            "usd",
            {"revenue": series("revenue_usd"), "cost of serving": series("serving_cost_usd")},
        ),
        Panel("gross margin %", "pct", {"gross margin": series("gross_margin_pct")}),
    ]
    prices = sorted({k for m in months for k in m if k.startswith("price_")})
    for key in prices:
        panels.append(Panel(f"price ({key})", unit_of(key), {"price": series(key)}))
    title = f"{label}: projection over {len(months)} months"
    return Chart(title, charts.line_panels(title, x, panels, xlabel="month"))


#: The parts of a segment's cost, in the P&L's words.
COST_PARTS = (
    ("gpu_cost_usd", "GPUs"),
    ("api_cost_usd", "API purchases"),
    ("overhead_usd", "serving overhead"),
)
#: The percentiles the serving JSON reports (`serving.deployments.*.ttft_s`, ...).
REPORTED_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def _cost_by_segment(label: str, margins: Mapping[str, Any]) -> Chart | None:
    """The month's cost of each segment, stacked by part (the margins table's figures)."""
    rows = {name: row for name, row in margins.items() if name != "total"}
    if not rows:
        return None
    stacks = {
        part: [_num(row.get(key)) or 0.0 for row in rows.values()] for key, part in COST_PARTS
    }
    stacks = {part: values for part, values in stacks.items() if any(values)}
    if not stacks or (len(rows) < 2 and len(stacks) < 2):
        return None  # one bar of one part: the waterfall says it already
    title = f"{label}: cost of serving by segment, month 1"
    return Chart(
        title,
        charts.stacked_bars(title, list(rows), stacks, ylabel="USD per month"),
        caption="The totals are the margins table's cost column; the parts add up to it.",
    )


def _latency_charts(label: str, serving: Mapping[str, Any]) -> list[Chart]:
    """Per deployment, the cumulative distribution of TTFT and of end-to-end latency through
    the reported percentiles."""
    deployments: Mapping[str, Any] = serving.get("deployments") or {}
    found: list[Chart] = []
    for key, name in (("ttft_s", "time to first token"), ("e2e_s", "end-to-end latency")):
        series: dict[str, list[tuple[float, float]]] = {}
        for dep, figures in deployments.items():
            stats = figures.get(key) or {}
            points = [
                (value, q)
                for p, q in REPORTED_QUANTILES
                if (value := _num(stats.get(p))) is not None
            ]
            if points:
                series[str(dep)] = points
        if series:
            title = f"{label}: {name}, cumulative distribution"
            found.append(
                Chart(
                    title,
                    charts.percentile_curves(title, series, unit="s", xlabel=name),
                    caption="Through the p50, p90 and p99 of the serving tables.",
                )
            )
    return found


def _one_run(run: Mapping[str, Any], tables: list[DataTable]) -> list[Section]:
    label = run_label(run)
    summary_charts = [
        c
        for c in [
            _waterfall(label, run.get("pnl") or {}),
            _value_chain_waterfall(label, run.get("value_chain")),
            _cost_by_segment(label, run.get("margins") or {}),
        ]
        if c is not None
    ]
    assumed = [t for t in tables if t.title == f"{label}: assumptions"]
    tables[:] = [t for t in tables if t not in assumed]
    sections = [Section(f"{label}: summary", summary_charts, [_key_figures(run), *assumed])]
    histograms, notes = _user_histograms(label, run.get("users") or {})
    if histograms:
        sections.append(Section(f"{label}: margin per subscriber", histograms, notes=notes))
    months = _months_chart(label, run.get("months") or [])
    if months is not None:
        sections.append(Section(f"{label}: projection", [months]))
    latency = _latency_charts(label, run.get("serving") or {})
    if latency:
        sections.append(Section(f"{label}: latency", latency))
    drawn = run.get("montecarlo")
    if isinstance(drawn, Mapping):
        sections += montecarlo_sections(drawn, label=label)
    own = _take_tables(tables, label)
    if own:
        sections.append(Section(f"{label}: tables", tables=own))
    return sections


def run_sections(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> list[Section]:
    """`infersim run -f json` (one run or several with --all-variants) as sections."""
    remaining = list(tables)
    sections = [s for run in data.get("runs", []) for s in _one_run(run, remaining)]
    comparison = data.get("comparison")
    if comparison:
        sections += comparison_sections(comparison, "variants against the base")
    return sections + _rest(remaining)


# --- compare --------------------------------------------------------------------------------

#: Key figures drawn as bars with deltas (the rest go to the chart of changes).
BAR_METRICS = (
    "revenue_usd",
    "serving_cost_usd",
    "gross_margin_usd",
    "operating_margin_usd",
    "gross_margin_pct",
    "cost_usd_per_mtok",
)
#: A change smaller than this (in %) is left out of the chart of changes.
MIN_CHANGE_PCT = 0.05
MAX_CHANGE_ROWS = 24


#: Units whose changes read in percentage points, not in percent of themselves.
POINT_UNITS = ("pct", "share")


def _points_or_pct(unit: str, compared: Mapping[str, Any]) -> float | None:
    """A run's change for the bars: in points for a percentage or a share, else in %."""
    if unit not in POINT_UNITS:
        return _num(compared.get("delta_pct"))
    change = _num(compared.get("delta"))
    return None if change is None else change * (100.0 if unit == "share" else 1.0)


def _item_label(item: Mapping[str, Any]) -> str:
    name = str(item.get("label") or item.get("metric"))
    group = item.get("group")
    return f"{group}: {name}" if group else name


def comparison_sections(comparison: Mapping[str, Any], title: str = "comparison") -> list[Section]:
    """The `comparison` object of `compare`/`run --all-variants` as charts: the key figures
    as bars per run with each delta, then every metric's change against the baseline."""
    runs = [str(r) for r in comparison.get("runs", [])]
    areas: Mapping[str, Sequence[Mapping[str, Any]]] = comparison.get("areas", {})
    if len(runs) < 2 or not areas:
        return []
    found: list[Chart] = []
    key = {item.get("metric"): item for item in areas.get("key_figures", [])}
    panels = []
    for metric in BAR_METRICS:
        item = key.get(metric)
        if item is None:
            continue
        compared = item.get("compared", [])
        values = [_num(item.get("baseline")), *(_num(c.get("value")) for c in compared)]
        if not any(values):
            continue
        unit = str(item.get("unit") or unit_of(metric))
        panels.append(
            BarPanel(
                str(item.get("label") or metric),
                unit,
                values,
                [None, *(_points_or_pct(unit, c) for c in compared)],
                [None, *(c.get("verdict") for c in compared)],
            )
        )
    if panels:
        chart_title = f"{title}: key figures (baseline {runs[0]})"
        found.append(Chart(chart_title, charts.comparison_bars(chart_title, runs, panels)))
    rows: list[tuple[str, list[float | None], list[str | None]]] = []
    for items in areas.values():
        for item in items:
            if str(item.get("unit") or unit_of(str(item.get("metric")))) in POINT_UNITS:
                continue  # percentages change in points: in the tables, not in this chart
            compared = item.get("compared", [])
            deltas = [_num(c.get("delta_pct")) for c in compared]
            if any(d is not None and abs(d) >= MIN_CHANGE_PCT for d in deltas):
                rows.append((_item_label(item), deltas, [c.get("verdict") for c in compared]))
    notes: list[str] = []
    if len(rows) > MAX_CHANGE_ROWS:
        notes.append(f"{len(rows) - MAX_CHANGE_ROWS} smaller changes are in the tables only.")
        rows = sorted(rows, key=lambda r: -max(abs(d) for d in r[1] if d is not None))
        rows = rows[:MAX_CHANGE_ROWS]
    if rows:
        chart_title = f"{title}: change of each metric against {runs[0]}"
        found.append(
            Chart(
                chart_title,
                charts.delta_bars(
                    chart_title,
                    [r[0] for r in rows],
                    runs[1:],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                ),
            )
        )
    else:
        notes.append(f"No metric changes by {MIN_CHANGE_PCT}% or more against {runs[0]}.")
    return [Section(title, found, notes=notes)]


def compare_sections(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> list[Section]:
    """`infersim compare -f json` as sections: the runs, the charts, then the tables."""
    runs = data.get("runs", [])
    listing = DataTable(
        "runs",
        ["run", "scenario", "variant", "source", "seed"],
        [
            [
                r.get("label"),
                r.get("scenario"),
                r.get("variant") or "-",
                r.get("source"),
                r.get("seed"),
            ]
            for r in runs
        ],
    )
    sections = [Section("runs", tables=[listing], notes=["The first run is the baseline."])]
    sections += comparison_sections(data.get("comparison") or {})
    return sections + _rest(list(tables))


# --- perf -----------------------------------------------------------------------------------


def perf_sections(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> list[Section]:
    """`infersim perf -f json` as sections: throughput, time per token and cost against batch
    size (with `--sweep batch=...`), then the tables."""
    dep = data.get("deployment") or {}
    work = data.get("workload") or {}
    memory = data.get("memory") or {}
    label = f"{dep.get('model')} on {dep.get('gpu')}"
    summary = DataTable(
        "deployment",
        ["figure", "value"],
        [
            ["model", dep.get("model")],
            ["gpu", dep.get("gpu")],
            ["GPUs per replica", dep.get("gpus_per_replica")],
            ["precision", dep.get("precision")],
            ["$ per GPU-hour", _fmt(dep.get("usd_per_gpu_hour"), "usd")],
            [
                "prompt / output tokens",
                f"{work.get('prompt_tokens')} / {work.get('output_tokens')}",
            ],
            ["fits in memory", memory.get("fits")],
            ["max sequences (KV cache)", memory.get("max_sequences")],
        ],
    )
    found: list[Chart] = []
    notes: list[str] = []
    sweep = data.get("sweep") or []
    if len(sweep) >= 2:
        x = [float(p["batch_sequences"]) for p in sweep]
        misfits = [float(p["batch_sequences"]) for p in sweep if p.get("fits") is False]

        def series(key: str, scale: float = 1.0) -> list[float | None]:
            return [None if (v := _num(p.get(key))) is None else v * scale for p in sweep]

        panels = [
            Panel(
                "output tokens/s per GPU",
                "count",
                {"output tokens/s per GPU": series("output_tokens_per_s_per_gpu")},
            ),
            Panel(
                "time per output token",
                "s",
                {"time per output token": series("time_per_output_token_s")},
            ),
            Panel(
                "$ per million output tokens",
                "usd_per_mtok",
                {"$ per Mtok output": series("usd_per_mtok_output")},
                log_y=True,
            ),
        ]
        title = f"{label}: against batch size"
        found.append(
            Chart(
                title,
                charts.line_panels(
                    title,
                    x,
                    panels,
                    xlabel="batch size (sequences)",
                    log_x=True,
                    x_ticks=x,
                    marked_x=misfits,
                    marked_label="does not fit in memory",
                ),
            )
        )
        if misfits:
            notes.append(
                "Batches drawn hollow do not fit in memory: "
                + ", ".join(f"{b:g}" for b in misfits)
                + f" (the KV cache holds {memory.get('max_sequences')} sequences)."
            )
    else:
        notes.append("Add --sweep batch=1,8,32,128 for charts against batch size.")
    return [Section(label, found, [summary], notes), *_rest(list(tables))]


# --- sensitivity and breakeven -------------------------------------------------------------


def sensitivity_sections(
    data: Mapping[str, Any], tables: Sequence[DataTable] = ()
) -> list[Section]:
    """`infersim sensitivity -f json` as sections: a tornado chart per metric (the inputs
    by swing, widest first, as the tables list them), then the tables."""
    label = run_label(data) if data.get("scenario") else "scenario"
    found: list[Chart] = []
    notes: list[str] = []
    for tornado in data.get("tornados") or []:
        metric = str(tornado.get("metric"))
        base = _num(tornado.get("base"))
        bars = [
            (str(i.get("input")), low, high)
            for i in tornado.get("inputs") or []
            if (low := _num(i.get("output_at_low"))) is not None
            and (high := _num(i.get("output_at_high"))) is not None
        ]
        if base is None or not bars:
            notes.append(f"{metric}: no input moves it (nothing to draw).")
            continue
        title = f"{label}: tornado of {metric}"
        chart = charts.tornado(
            title,
            bars,
            base,
            unit=unit_of(metric),
            xlabel=f"{metric} (base {_fmt(base, unit_of(metric))})",
        )
        found.append(Chart(title, chart))
    return [Section(f"{label}: sensitivity", found, notes=notes), *_rest(list(tables))]


def breakeven_sections(
    data: Mapping[str, Any],
    tables: Sequence[DataTable] = (),
    evaluations: Sequence[tuple[float, float]] = (),
) -> list[Section]:
    """`infersim breakeven -f json` as sections: the output against the input over the runs
    of the search, the target and the value found, then the tables."""
    label = run_label(data) if data.get("scenario") else "scenario"
    metric = str(data.get("metric"))
    target = _num(data.get("target"))
    parameter = str(data.get("parameter"))
    if data.get("scale"):
        parameter += " (factor)"
    points = [(x, y) for x, y in evaluations if math.isfinite(x) and math.isfinite(y)]
    found: list[Chart] = []
    if len(points) >= 2 and target is not None:
        title = f"{label}: {metric} against {parameter}"
        chart = charts.solve_curve(
            title, points, target, _num(data.get("value")), unit=unit_of(metric), xlabel=parameter
        )
        found.append(
            Chart(title, chart, caption=f"Each point is one run of the search ({len(points)}).")
        )
    return [Section(f"{label}: breakeven", found), *_rest(list(tables))]


# --- check ----------------------------------------------------------------------------------


def check_sections(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> list[Section]:
    """`infersim check -f json` as sections: the verdict, checks per scenario, the largest
    changes from the baseline, then the tables."""
    scenarios = data.get("scenarios", [])
    names = [str(s.get("name") or s.get("key")) for s in scenarios]
    if len(set(names)) < len(names):  # variants of one file: their keys tell them apart
        names = [str(s.get("key") or s.get("name")) for s in scenarios]
    counts: dict[str, list[int]] = {"ok": [], "warn": [], "fail": []}
    changes: list[tuple[str, float, str]] = []
    for s in scenarios:
        levels = [str(e.get("result")) for e in s.get("expectations", [])]
        base = s.get("baseline") or {}
        compared = int(base.get("compared") or 0)
        metrics = base.get("metrics", [])
        levels += [str(m.get("result")) for m in metrics]
        levels += ["ok"] * max(0, compared - len(metrics))
        for level in counts:
            counts[level].append(sum(1 for x in levels if x == level))
        for m in metrics:
            pct = _num(m.get("pct"))
            if pct is not None and m.get("status") == "changed":
                changes.append((f"{s.get('name')}: {m.get('metric')}", pct, str(m.get("result"))))
    summary = DataTable(
        "verdict",
        ["figure", "value"],
        [
            ["result", data.get("result")],
            ["headline", data.get("headline")],
            ["failures", data.get("failures")],
            ["warnings", data.get("warnings")],
            ["baseline", data.get("baseline") or "-"],
            ["scenarios", len(scenarios)],
        ],
    )
    found: list[Chart] = []
    notes: list[str] = []
    if scenarios:
        title = "checks per scenario"
        found.append(Chart(title, charts.status_bars(title, names, counts)))
    if changes:
        shown = sorted(changes, key=lambda c: -abs(c[1]))[:MAX_CHANGE_ROWS]
        if len(changes) > len(shown):
            notes.append(f"{len(changes) - len(shown)} smaller changes are in the tables only.")
        verdict = {"fail": "worse", "warn": "worse", "ok": "same"}
        title = "largest changes from the baseline"
        found.append(
            Chart(
                title,
                charts.delta_bars(
                    title,
                    [c[0] for c in shown],
                    ["new vs baseline"],
                    [[c[1]] for c in shown],
                    [[verdict.get(c[2], "same")] for c in shown],
                ),
            )
        )
    return [
        Section("verdict", tables=[summary]),
        Section("checks", found, notes=notes),
        *_rest(list(tables)),
    ]


# --- sweep and Monte Carlo ------------------------------------------------------------------

#: Monte Carlo outputs drawn as ranges (the JSON has every numeric output; these decide).
MC_KEY_METRICS = (
    "pnl.*_usd",
    "pnl.*_pct",
    "projection.cumulative_cash_usd",
    "margins.*.gross_margin_pct",
    "users.*.share_losing_money",
)
#: Monte Carlo outputs drawn as histograms when the per-sample values are given.
MC_HISTOGRAM_METRICS = (
    "pnl.gross_margin_pct",
    "pnl.operating_margin_usd",
    "projection.cumulative_cash_usd",
)
#: Per-month outputs (`months.N.X` in the Monte Carlo outputs) drawn as fan charts.
MC_FAN_METRICS = ("operating_margin_usd", "cumulative_cash_usd", "gross_margin_pct")
MAX_SERIES = 8


def _point_values(point: Mapping[str, Any]) -> Mapping[str, Any]:
    return point.get("parameters") or point.get("point") or {}


def sweep_sections(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> list[Section]:
    """`infersim sweep -f json` as sections: each metric against the swept input with the
    most values (one line per combination of the others), then the tables."""
    points: Sequence[Mapping[str, Any]] = data.get("points") or data.get("rows") or []
    values = [_point_values(p) for p in points]
    params = list(data.get("parameters") or (values[0].keys() if values else []))
    metrics = list(
        data.get("metrics") or dict.fromkeys(m for p in points for m in p.get("metrics") or {})
    )
    label = run_label(data) if data.get("scenario") else "sweep"
    numeric = [p for p in params if all(_num(v.get(p)) is not None for v in values)]
    if not points or not numeric:
        note = "The sweep has no points." if not points else "No swept input is numeric."
        return [Section(f"{label}: sweep", notes=[note]), *_rest(list(tables))]
    x_param = max(numeric, key=lambda p: len({v.get(p) for v in values}))
    others = [p for p in params if p != x_param]
    xs = sorted({float(v[x_param]) for v in values})
    groups: dict[str, dict[float, Mapping[str, Any]]] = {}
    for point, value in zip(points, values, strict=True):
        key = ", ".join(f"{p} = {value.get(p)}" for p in others)
        groups.setdefault(key, {})[float(value[x_param])] = point.get("metrics") or {}
    notes: list[str] = []
    if len(groups) > MAX_SERIES:
        notes.append(f"The charts show the first {MAX_SERIES} of {len(groups)} combinations.")
    shown = dict(list(groups.items())[:MAX_SERIES])
    found: list[Chart] = []
    for metric in metrics:
        series = {
            (key or metric): [_num(by_x.get(x, {}).get(metric)) for x in xs]
            for key, by_x in shown.items()
        }
        if not any(v is not None for line in series.values() for v in line):
            continue
        title = f"{label}: {metric} against {x_param}"
        panel = Panel("", unit_of(metric), series)
        found.append(Chart(title, charts.line_panels(title, xs, [panel], xlabel=x_param)))
    section = Section(f"{label}: sweep over {', '.join(params)}", found, notes=notes)
    return [section, *_rest(list(tables))]


def _mc_rank(metric: str) -> int | None:
    """The place of a key output among `MC_KEY_METRICS` (None: not a key output)."""
    for index, pattern in enumerate(MC_KEY_METRICS):
        if fnmatch.fnmatchcase(metric, pattern):
            return index
    return None


def _mc_months(outputs: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """`months.N.X` outputs regrouped as X -> [{"month": N, "p5", "p50", "p95"}, ...]."""
    found: dict[str, dict[int, Mapping[str, Any]]] = {}
    for metric, stats in outputs.items():
        parts = metric.split(".")
        monthly = len(parts) == 3 and parts[0] == "months" and parts[1].isdigit()
        if monthly and parts[2] in MC_FAN_METRICS and isinstance(stats, Mapping):
            found.setdefault(f"months.{parts[2]}", {})[int(parts[1])] = stats
    return {
        name: [{"month": n, **by_month[n]} for n in sorted(by_month)]
        for name, by_month in found.items()
    }


def montecarlo_sections(
    data: Mapping[str, Any],
    tables: Sequence[DataTable] = (),
    samples: Mapping[str, Sequence[float]] | None = None,
    label: str | None = None,
) -> list[Section]:
    """Monte Carlo results (`montecarlo_json`) as sections: the 5-95% range and median of the
    key outputs, a fan chart per metric with percentiles over months (`months`, if given),
    and, with the per-sample values (`samples`: metric -> values, e.g. the result's
    `outputs`), a histogram of each key output; then the tables."""
    label = label or (run_label(data) if data.get("scenario") else "Monte Carlo")
    outputs: Mapping[str, Any] = data.get("outputs") or data.get("metrics") or {}
    found: list[Chart] = []
    ranges: list[tuple[str, str, float, float, float]] = []
    seen: set[tuple[str, float, float, float]] = set()
    key_outputs = [(rank, m) for m in outputs if (rank := _mc_rank(m)) is not None]
    for _, metric in sorted(key_outputs, key=lambda k: k[0]):
        stats = outputs[metric]
        if not isinstance(stats, Mapping):
            continue
        p5, p50, p95 = (_num(stats.get(q)) for q in ("p5", "p50", "p95"))
        if p5 is None or p50 is None or p95 is None or p5 == p95:
            continue  # no spread: nothing to draw
        unit = unit_of(metric)
        if (unit, p5, p50, p95) not in seen:  # e.g. the only plan's margin is the total's
            seen.add((unit, p5, p50, p95))
            ranges.append((metric, unit, p5, p50, p95))
    count = data.get("samples")
    if ranges:
        title = f"{label}: key outputs, median and 5-95% range"
        if isinstance(count, int):
            title += f" over {count:,} samples"
        found.append(Chart(title, charts.intervals(title, ranges, mark=0.0)))
    months_by_metric = {**_mc_months(outputs), **(data.get("months") or {})}
    for metric, months in months_by_metric.items():
        x = [float(m.get("month", i + 1)) for i, m in enumerate(months)]
        bands = [[_num(m.get(q)) for m in months] for q in ("p5", "p50", "p95")]
        if len(x) < 2 or any(v is None for band in bands for v in band):
            continue
        low, mid, high = ([v or 0.0 for v in band] for band in bands)
        title = f"{label}: {metric} over months"
        chart = charts.fan(title, x, low, mid, high, unit=unit_of(metric), xlabel="month")
        found.append(Chart(title, chart))
    for metric, values in (samples or {}).items():
        finite = [v for v in (_num(x) for x in values) if v is not None]
        if len(finite) < 2 or metric not in MC_HISTOGRAM_METRICS or min(finite) == max(finite):
            continue
        stats = outputs.get(metric) or {}
        quantiles = {q: v for q in ("p5", "p50", "p95") if (v := _num(stats.get(q))) is not None}
        zero = min(finite) < 0 < max(finite)
        title = f"{label}: {metric} over {len(finite):,} samples"
        chart = charts.samples_histogram(
            title,
            finite,
            unit=unit_of(metric),
            mark=0.0 if zero else None,
            mark_label="zero" if zero else "",
            percentiles=quantiles,
        )
        found.append(Chart(title, chart))
    notes = [
        f"P({metric} < 0) = {p:.1%}"
        for metric, p in (data.get("probability_margin_below_zero") or {}).items()
        if isinstance(p, int | float)
    ]
    section = Section(f"{label}: Monte Carlo", found, notes=notes)
    return [section, *_rest(list(tables))]


def scenario_yaml(scenario: Any) -> str:
    """The resolved scenario (a pydantic model, or plain data) as YAML, for the report's
    collapsed "resolved scenario" block: what to run to get the same report."""
    import yaml

    data = scenario.model_dump(mode="json") if hasattr(scenario, "model_dump") else scenario
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
