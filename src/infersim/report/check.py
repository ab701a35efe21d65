"""`infersim check` and `infersim diff` results as tables, JSON, a PR comment and JUnit XML.

The headline names the one finding a reviewer should read first, in words:
"chat-70b-h100: revenue falls 40.0% ($1,000,000 -> $600,000)". Fail-level findings come
before warnings, broken expectations and the whole business's figures before a segment's and
a segment's before a user percentile's, then the most material first: a change's size in
percent of the old value, a margin's or a share's in points (a margin point is a percent of
revenue), so revenue -40% leads gross margin -2.2 pts. One figure under several paths is one
finding. The PR comment
shows the inputs that changed first (what the author did), then the outputs they moved.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from infersim.checks.baseline import MetricDiff, ScenarioDiff, Tolerance
from infersim.checks.expectations import ExpectationResult, Level, bound_text
from infersim.checks.inputs import InputChange, InputValue
from infersim.checks.outcome import CheckOutcome, ScenarioCheck
from infersim.report.tables import DataTable, render_markdown, render_rich
from infersim.report.text_safety import markdown_code, markdown_text

STATS = frozenset({"p50", "p90", "p99", "mean", "low", "high"})
WORDS = {
    "ttft": "TTFT",
    "tpot": "TPOT",
    "e2e": "end-to-end latency",
    "mfu": "MFU",
    "mbu": "MBU",
    "slo": "SLO",
    "gpu": "GPU",
    "kv": "KV",
    "mtok": "Mtok",
    "api": "API",
    "usd": "$",
}
UNIT_SUFFIXES = ("_usd_per_mtok", "_pct", "_usd", "_s")
#: Shares (0..1) whose names do not end in `_share`.
SHARES = frozenset({"mfu", "mbu"})
#: Dollars per dollar of revenue: a change of 0.01 is a point of revenue, like a margin's.
PER_REVENUE = frozenset({"spent_per_revenue_usd"})


def count(n: int, noun: str) -> str:
    """`1 metric`, `2 metrics`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


LEVEL_WORD = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}
#: Findings shown in a PR comment (GitHub caps a comment at 65,536 characters).
MARKDOWN_ROWS = 30


# Metric names and values in words -------------------------------------------------------------


def _unit(metric: str) -> str:
    parts = metric.split(".")
    leaf = parts[-2] if parts[-1] in STATS and len(parts) > 1 else parts[-1]
    if leaf.endswith("_pct"):
        return "pct"
    if leaf.endswith("_share") or leaf.startswith("share_") or leaf in SHARES:
        return "share"
    if leaf.endswith("usd_per_mtok") or leaf.startswith("usd_per_mtok"):
        return "usd_per_mtok"
    if "usd" in leaf.split("_"):
        return "usd"
    if leaf.endswith("_s"):
        return "s"
    return ""


def _words(name: str) -> str:
    for suffix in UNIT_SUFFIXES:
        if name.endswith(suffix) and name != suffix:
            name = name.removesuffix(suffix)
            break
    return " ".join(WORDS.get(word, word) for word in name.split("_"))


def metric_label(metric: str) -> str:
    """`margins.plus.gross_margin_pct` -> `gross margin of plus`, and so on."""
    parts = metric.split(".")
    head = parts[0]
    if head == "margins" and len(parts) == 3:
        return (
            f"total {_words(parts[2])}"
            if parts[1] == "total"
            else (f"{_words(parts[2])} of {parts[1]}")
        )
    if head == "users" and len(parts) == 3:
        return f"{_words(parts[2])} of {parts[1]} users"
    if head in ("pnl", "projection") and len(parts) == 2:
        return _words(parts[1]) + (" over the horizon" if head == "projection" else "")
    if head == "costs" and len(parts) == 3:
        return f"{_words(parts[2])} of {parts[1]}"
    if head == "months" and len(parts) == 3:
        return f"{_words(parts[2])} in month {parts[1]}"
    if parts[:2] == ["serving", "deployments"] and len(parts) in (4, 5):
        what = _words(parts[3]) + (f" {parts[4]}" if len(parts) == 5 else "")
        return f"{what} of {parts[2]}"
    return metric


def format_value(metric: str, value: float | None) -> str:
    """41.0%, $4,838,941, $0.880/Mtok, 1.04 s, or 4 significant digits."""
    if value is None:
        return "-"
    unit = _unit(metric)
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "share":
        return _share_text(value)
    if unit == "usd_per_mtok":
        return f"${value:,.3f}/Mtok"
    if unit == "usd":
        sign = "-" if value < 0 else ""
        return f"{sign}${abs(value):,.0f}" if abs(value) >= 100 else f"{sign}${abs(value):,.2f}"
    if unit == "s":
        return f"{value:.3g} s"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _share_text(share: float) -> str:
    """0.85 -> `85.0%`, 0.001448 -> `0.145%`: three significant digits below 1%."""
    pct = 100 * share
    return f"{pct:.1f}%" if abs(pct) >= 1 or pct == 0 else f"{pct:.3g}%"


def _points(change: MetricDiff) -> float | None:
    """The change in percentage points, for margins (`_pct`) and shares; else None."""
    unit, delta = _unit(change.metric), change.delta
    if delta is None or unit not in ("pct", "share"):
        return None
    return delta * 100 if unit == "share" else delta


def _pts(points: float, signed: bool = True) -> str:
    text = f"{points:+.1f}" if signed else f"{abs(points):.1f}"
    if abs(points) < 0.05 and points != 0:
        text = f"{points:+.3g}" if signed else f"{abs(points):.3g}"
    return f"{text} pts"


def format_change(change: MetricDiff) -> str:
    """`-12.4 pts`, `+8.2%`, `+0.013` (from zero), `added`, `removed`."""
    if change.status in ("added", "removed"):
        return change.status
    delta, pct = change.delta, change.pct
    assert delta is not None
    points = _points(change)
    if points is not None:
        return _pts(points)
    if pct is not None:
        return f"{pct:+.1f}%"
    return f"{delta:+.4g}"


def change_phrase(change: MetricDiff) -> str:
    """`gross margin of plus falls 12.4 pts (41.0% -> 28.6%)`."""
    label = metric_label(change.metric)
    old, new = format_value(change.metric, change.old), format_value(change.metric, change.new)
    if change.status == "added":
        return f"{label} is new: {new}"
    if change.status == "removed":
        return f"{label} is gone (was {old})"
    delta = change.delta
    assert delta is not None
    if delta == 0:
        return f"{label} is unchanged ({old})"
    verb = "rises" if delta > 0 else "falls"
    points = _points(change)
    if points is not None:
        amount = _pts(points, signed=False)
    elif change.pct is not None:
        amount = f"{abs(change.pct):.1f}%"
    else:
        amount = format_value(change.metric, abs(delta))
    return f"{label} {verb} {amount} ({old} -> {new})"


def expectation_phrase(result: ExpectationResult) -> str:
    """`gross margin of plus is 12.0%, below the 20 minimum`."""
    e = result.expectation
    label = metric_label(result.path)
    value = format_value(result.path, result.value)
    if e.max_probability is not None:
        assert result.probability is not None
        return (
            f"P({label} not {bound_text(e)}) is {result.probability:.3g}, "
            f"above the {e.max_probability:g} allowed"
        )
    if result.value is None:
        return f"{label} has no value (expected {bound_text(e)})"
    if e.min is not None and result.value < e.min:
        return f"{label} is {value}, below the minimum of {format_value(result.path, e.min)}"
    if e.max is not None and result.value > e.max:
        return f"{label} is {value}, above the maximum of {format_value(result.path, e.max)}"
    return f"{label} is {value} ({bound_text(e)})"


# Ranking and headline -------------------------------------------------------------------------

_LEVEL_RANK = {"fail": 0, "warn": 1, "ok": 2}


#: Margins over cost rather than revenue (profit / cost): a point of them is a percent of cost,
#: not comparable with a margin point, so they move by their relative change, and rank below
#: the gross margin they restate.
OVER_COST = frozenset({"cost_profit_margin_pct"})


def _importance(metric: str) -> int:
    leaf = metric.rsplit(".", 1)[-1]
    if leaf in OVER_COST:
        return 5
    if leaf == "gross_margin_pct":
        return 0 if ".total." not in metric and not metric.startswith("pnl.") else 1
    unit = _unit(metric)
    return {"pct": 2, "usd": 3, "usd_per_mtok": 3, "s": 4}.get(unit, 5)


#: How material a change from zero is (no percentage exists): as much as doubling.
FROM_ZERO = 100.0


def materiality(change: MetricDiff) -> float:
    """How much a change matters, comparable across metrics: points for margins and shares
    (a margin point is a percent of revenue), else percent of the old value."""
    if change.status != "changed" or change.delta is None:
        return 0.0
    if change.metric.rsplit(".", 1)[-1] in OVER_COST:
        return abs(change.pct) if change.pct is not None else FROM_ZERO
    points = _points(change)
    if points is not None:
        return abs(points)
    if change.metric.rsplit(".", 1)[-1] in PER_REVENUE:
        return abs(change.delta) * 100
    if change.pct is not None:
        return abs(change.pct)
    return FROM_ZERO if change.delta else 0.0


def _breach(result: ExpectationResult) -> float:
    """How far a broken bound is broken, in `materiality`'s terms."""
    e, value = result.expectation, result.value
    if value is None:
        return FROM_ZERO
    bound = e.min if e.min is not None and value < e.min else e.max
    if bound is None:
        return FROM_ZERO if result.probability is not None else 0.0
    probe = MetricDiff(result.path, bound, value, "changed", result.level, Tolerance())
    return materiality(probe)


def _item_materiality(scenario: ScenarioCheck, item: Item) -> float:
    if isinstance(item, MetricDiff):
        return materiality(item)
    if isinstance(item, ExpectationResult):
        moved = [
            materiality(m)
            for m in (scenario.diff.changes if scenario.diff is not None else ())
            if m.metric == item.path or item.path in m.same_as
        ]
        return max([*moved, _breach(item)])
    return 0.0


Item = ExpectationResult | MetricDiff | ScenarioDiff
Finding = tuple[ScenarioCheck, Item]


#: Scopes of a figure, widest first: the business, a segment or deployment, a user's bill.
SCOPES = (("pnl", "projection", "margins.total"), ("margins", "costs", "serving"), ("users",))


def scope(metric: str) -> int:
    """0 for the whole business (`pnl.*`, `margins.total.*`), 1 for a segment or a
    deployment, 2 for a percentile of users, 3 for anything else."""
    for rank, prefixes in enumerate(SCOPES):
        if any(metric == p or metric.startswith(f"{p}.") for p in prefixes):
            return rank
    return len(SCOPES)


def _rank(scenario: ScenarioCheck, item: Item) -> tuple[Any, ...]:
    """Fail before warn; broken expectations (the author's own bounds) and the widest scope
    first; then the most material; on a tie expectations before metric changes before
    scenarios new or gone, margins before money before latency."""
    kind = 0 if isinstance(item, ExpectationResult) else 1 if isinstance(item, MetricDiff) else 2
    path = item.path if isinstance(item, ExpectationResult) else getattr(item, "metric", "")
    return (
        _LEVEL_RANK[item.level],
        0 if kind != 1 else scope(path),
        -_item_materiality(scenario, item),
        kind,
        _importance(path) if path else 0,
    )


def findings(outcome: CheckOutcome, by_scenario: bool = False) -> list[Finding]:
    """Everything not ok: the one to read first first, or grouped by scenario in order."""
    found = [(index, s, item) for index, s in enumerate(outcome.scenarios) for item in s.findings()]
    if by_scenario:
        found.sort(key=lambda f: (f[0], _rank(f[1], f[2])))
    else:
        found.sort(key=lambda f: _rank(f[1], f[2]))
    return [(s, item) for _, s, item in found]


def scenario_phrase(diff: ScenarioDiff) -> str:
    if diff.status == "added":
        return f"new scenario, not in the baseline yet ({len(diff.metrics)} metrics)"
    return f"scenario gone: in the baseline ({len(diff.metrics)} metrics), no longer found"


def _phrase(scenario: ScenarioCheck, item: Item) -> str:
    if isinstance(item, ScenarioDiff):
        return scenario_phrase(item)
    if isinstance(item, MetricDiff):
        return change_phrase(item)
    for change in scenario.diff.changes if scenario.diff is not None else ():
        if item.path in (change.metric, *change.same_as) and change.status == "changed":
            tail = expectation_phrase(item).split(", ", 1)
            return change_phrase(change) + (f", {tail[1]}" if len(tail) == 2 else "")
    return expectation_phrase(item)


def headline(outcome: CheckOutcome) -> str:
    """One line: the first finding in words, or what passed."""
    found = findings(outcome)
    if not found:
        n_exp = outcome.expectations
        parts = [f"{count(n_exp, 'expectation')} met"] if n_exp else []
        diffs = [s.diff for s in outcome.scenarios if s.diff is not None]
        if outcome.baseline is not None:
            changed = sum(len(d.changes) for d in diffs)
            same = sum(len(d.metrics) for d in diffs) - changed
            parts.append(f"{count(same, 'metric')} within tolerance")
            if changed:
                parts.append(f"{count(changed, 'change')} accepted into the baseline")
        n = len(outcome.scenarios)
        what = f"all {n} scenarios pass" if n != 1 else "the scenario passes"
        return what + (f": {', '.join(parts)}" if parts else "")
    scenario, item = found[0]
    text = _phrase(scenario, item)
    if len(outcome.scenarios) > 1:
        text = f"{scenario.name}: {text}"
    if len(found) > 1:
        text += f" (and {len(found) - 1} more finding{'s' if len(found) > 2 else ''})"
    return text


def verdict(outcome: CheckOutcome) -> str:
    """`failed (1 failure, 2 warnings)`, `passed with 1 warning`, `passed`."""
    fails, warns = outcome.count("fail"), outcome.count("warn")
    warn_text = f"{warns} warning{'s' if warns != 1 else ''}"
    if fails:
        extra = f", {warn_text}" if warns else ""
        return f"failed ({fails} failure{'s' if fails != 1 else ''}{extra})"
    return f"passed with {warn_text}" if warns else "passed"


# Tables ---------------------------------------------------------------------------------------


def _baseline_cell(s: ScenarioCheck) -> str:
    if s.diff is None:
        return "-"
    if s.diff.status == "added":
        return "new: not in the baseline"
    if s.diff.status == "removed":
        return "removed"
    changed = len(s.diff.changes)
    return (
        f"{changed} of {len(s.diff.metrics)} changed"
        if changed
        else (f"{len(s.diff.metrics)} unchanged")
    )


def _expect_cell(s: ScenarioCheck) -> str:
    if not s.expectations:
        return "-"
    met = sum(e.passed for e in s.expectations)
    return f"{met} of {len(s.expectations)} met"


def summary_table(outcome: CheckOutcome) -> DataTable:
    rows = [
        [s.key, s.name, _expect_cell(s), _baseline_cell(s), LEVEL_WORD[s.level]]
        for s in outcome.scenarios
    ]
    return DataTable(
        f"infersim check: {verdict(outcome)}",
        ["file", "scenario", "expectations", "baseline", "result"],
        rows,
        caption=f"baseline: {outcome.baseline}" if outcome.baseline else None,
    )


def _finding_row(scenario: ScenarioCheck, item: Item) -> list[Any]:
    level = LEVEL_WORD[item.level]
    if isinstance(item, ScenarioDiff):
        what = "new scenario" if item.status == "added" else "scenario gone"
        return [level, scenario.key, what, None, None, None, scenario_phrase(item)]
    if isinstance(item, MetricDiff):
        detail = (
            f"beyond {item.tolerance.describe()}"
            if item.status == "changed"
            else ("not in the baseline" if item.status == "added" else "no longer in the output")
        )
        return [level, scenario.key, item.metric, item.old, item.new, format_change(item), detail]
    return [level, scenario.key, f"expect {item.title}", None, item.value, None, item.detail]


def findings_table(outcome: CheckOutcome) -> DataTable | None:
    rows = [_finding_row(s, item) for s, item in findings(outcome, by_scenario=True)]
    if not rows:
        return None
    return DataTable(
        "findings", ["result", "file", "check", "old", "new", "change", "detail"], rows
    )


def check_tables(outcome: CheckOutcome) -> list[DataTable]:
    found, inputs = findings_table(outcome), inputs_table(outcome)
    return [summary_table(outcome), *(t for t in (inputs, found) if t is not None)]


def check_text(outcome: CheckOutcome, width: int | None = None) -> str:
    return f"{headline(outcome)}\n\n" + render_rich(check_tables(outcome), width)


# Inputs ---------------------------------------------------------------------------------------


def input_value(value: InputValue) -> str:
    """An input as written: `8`, `0.3`, `h100-sxm`, `true`, `-` for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return value


def input_changes(outcome: CheckOutcome) -> list[tuple[ScenarioCheck, InputChange]]:
    return [
        (s, change) for s in outcome.scenarios if s.diff is not None for change in s.diff.inputs
    ]


def _unrecorded(outcome: CheckOutcome) -> list[ScenarioCheck]:
    """Scenarios compared with a baseline that does not record their inputs."""
    return [
        s
        for s in outcome.scenarios
        if s.diff is not None and s.diff.status == "compared" and not s.diff.inputs_recorded
    ]


RERECORD = "re-record the baseline (infersim check ... --update-baseline) to see them"


def inputs_table(outcome: CheckOutcome) -> DataTable | None:
    rows = [
        [s.key, c.path, input_value(c.old) if c.status != "added" else "(new)",
         input_value(c.new) if c.status != "removed" else "(gone)"]
        for s, c in input_changes(outcome)
    ]  # fmt: skip
    if not rows:
        return None
    return DataTable("inputs changed", ["file", "input", "old", "new"], rows)


# Markdown (a pull-request comment) ------------------------------------------------------------


def _markdown_cells(item: Item) -> list[str]:
    """check, old, new, change: escaped Markdown."""
    if isinstance(item, ScenarioDiff):
        return [markdown_text(scenario_phrase(item)), "", "", ""]
    if isinstance(item, MetricDiff):
        others = ", ".join(markdown_code(m) for m in item.same_as)
        also = f" (also {others})" if others else ""
        return [
            f"{markdown_text(metric_label(item.metric))} {markdown_code(item.metric)}{also}",
            markdown_text(format_value(item.metric, item.old)),
            markdown_text(format_value(item.metric, item.new)),
            markdown_text(format_change(item)),
        ]
    return [
        f"expect {markdown_code(item.title)}",
        "",
        markdown_text(format_value(item.path, item.value)),
        markdown_text(item.detail),
    ]


def _markdown_inputs(outcome: CheckOutcome) -> list[str]:
    """The inputs that changed, scenario by scenario: what the author did."""
    changes = input_changes(outcome)
    compared = [s for s in outcome.scenarios if s.diff is not None and s.diff.status == "compared"]
    if not compared:
        return []
    lines = ["### Inputs changed", ""]
    if changes:
        lines += ["| scenario | input | old | new |", "|---|---|---|---|"]
        for scenario, change in changes[:MARKDOWN_ROWS]:
            old = "(new)" if change.status == "added" else markdown_text(input_value(change.old))
            new = "(gone)" if change.status == "removed" else markdown_text(input_value(change.new))
            cells = [markdown_text(scenario.name), markdown_code(change.path), old, new]
            lines.append("| " + " | ".join(cells) + " |")
        if len(changes) > MARKDOWN_ROWS:
            lines += ["", f"... and {len(changes) - MARKDOWN_ROWS} more inputs."]
    else:
        lines.append(
            "No input of the compared scenarios changed: output changes come from infersim "
            "itself (its version or catalog)."
        )
    unrecorded = _unrecorded(outcome)
    if unrecorded:
        names = ", ".join(markdown_text(s.name) for s in unrecorded)
        lines += ["", f"The baseline does not record the inputs of {names}: {RERECORD}."]
    return [*lines, ""]


def check_markdown(outcome: CheckOutcome) -> str:
    """A pull-request comment: verdict, headline, the inputs that changed, the output
    findings most material first, the scenarios folded. Names are escaped Markdown."""
    lines = [
        f"## infersim check: {verdict(outcome)}",
        "",
        f"**{markdown_text(headline(outcome))}**",
        "",
        *_markdown_inputs(outcome),
    ]
    found = findings(outcome)
    if found:
        title = "Output changes, most material first" if outcome.baseline else "Findings"
        lines += [f"### {title}", ""]
        lines += ["| result | scenario | check | old | new | change |", "|---|---|---|---|---|---|"]
        for scenario, item in found[:MARKDOWN_ROWS]:
            level = LEVEL_WORD[item.level]
            level = f"**{level}**" if item.level == "fail" else level
            cells = [level, markdown_text(scenario.name), *_markdown_cells(item)]
            lines.append("| " + " | ".join(cells) + " |")
        if len(found) > MARKDOWN_ROWS:
            lines += ["", f"... and {len(found) - MARKDOWN_ROWS} more (`infersim diff` lists all)."]
        lines.append("")
    n = len(outcome.scenarios)
    summary = f"{count(n, 'scenario')}, {count(outcome.expectations, 'expectation')}"
    if outcome.baseline is not None:
        summary += (
            f", {count(outcome.metrics_compared, 'metric')} compared with "
            f"{markdown_text(outcome.baseline)}"
        )
    table = summary_table(outcome)
    body = render_markdown([DataTable("scenarios", table.columns, table.rows)])
    lines += [f"<details><summary>{summary}</summary>", "", body, "</details>", ""]
    return "\n".join(lines)


# JSON -----------------------------------------------------------------------------------------


def _expectation_json(e: ExpectationResult) -> dict[str, Any]:
    x = e.expectation
    return {
        "metric": x.metric,
        "path": e.path,
        "min": x.min,
        "max": x.max,
        "max_probability": x.max_probability,
        "level": x.level,
        "value": e.value,
        "probability": e.probability,
        "samples": e.samples,
        "result": e.level,
    }


def _change_json(m: MetricDiff) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "old": m.old,
        "new": m.new,
        "delta": m.delta,
        "pct": m.pct,
        "status": m.status,
        "result": m.level,
    }


def diff_json(diff: ScenarioDiff, show_all: bool = False) -> dict[str, Any]:
    shown = diff.metrics if show_all else diff.changes
    return {
        "status": diff.status,
        "compared": len(diff.metrics),
        "changed": len(diff.changes),
        "metrics": [_change_json(m) for m in shown],
        "inputs_recorded": diff.inputs_recorded,
        "inputs": [
            {"input": c.path, "old": c.old, "new": c.new, "status": c.status} for c in diff.inputs
        ],
    }


def check_json(outcome: CheckOutcome, versions: dict[str, Any]) -> dict[str, Any]:
    return {
        **versions,
        "result": outcome.level,
        "headline": headline(outcome),
        "baseline": outcome.baseline,
        "failures": outcome.count("fail"),
        "warnings": outcome.count("warn"),
        "scenarios": [
            {
                "key": s.key,
                "name": s.name,
                "result": s.level,
                "expectations": [_expectation_json(e) for e in s.expectations],
                "baseline": diff_json(s.diff) if s.diff is not None else None,
            }
            for s in outcome.scenarios
        ],
    }


# JUnit XML ------------------------------------------------------------------------------------


def _case(suite: ET.Element, classname: str, name: str, level: Level, message: str) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if level == "fail":
        failure = ET.SubElement(case, "failure", message=message, type="infersim")
        failure.text = message
    elif level == "warn":
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="level", value="warn")
        ET.SubElement(case, "system-out").text = f"warning: {message}"


def junit_xml(outcome: CheckOutcome) -> str:
    """One test suite per scenario; one test case per expectation, per metric change beyond
    its tolerance, and one for the metrics within it. Failures are `<failure>`s; warnings
    pass, with a `level=warn` property and the message in `<system-out>`."""
    root = ET.Element("testsuites", name="infersim check")
    total = failures = 0
    for s in outcome.scenarios:
        suite = ET.SubElement(root, "testsuite", name=s.key)
        cases = 0
        for e in s.expectations:
            message = f"{e.title}: {e.detail}"
            _case(suite, s.key, f"expect {e.title}", e.level, message)
            cases += 1
        if s.diff is not None:
            for m in s.diff.changes:
                message = f"{change_phrase(m)} [{format_change(m)}; {m.tolerance.describe()}]"
                _case(suite, s.key, f"baseline {m.metric}", m.level, message)
                cases += 1
            within = len(s.diff.metrics) - len(s.diff.changes)
            if within:
                name = f"baseline: {count(within, 'metric')} within tolerance"
                _case(suite, s.key, name, "ok", "")
                cases += 1
        fails = s.count("fail")
        suite.set("tests", str(cases))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total += cases
        failures += fails
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# infersim diff --------------------------------------------------------------------------------


def diff_tables(
    diffs: Sequence[ScenarioDiff], source: str, show_all: bool = False
) -> list[DataTable]:
    rows: list[list[Any]] = []
    for d in diffs:
        if d.status != "compared":
            sign = "+" if d.status == "added" else "-"
            what = "new scenario" if d.status == "added" else "scenario removed"
            rows.append(
                [sign, d.key, f"({what}: {len(d.metrics)} metrics)", None, None, None, None]
            )
            continue
        for c in d.inputs:
            sign = {"added": "+", "removed": "-", "changed": "~"}[c.status]
            old, new = input_value(c.old), input_value(c.new)
            rows.append([sign, d.key, f"input {c.path}", old, new, None, None])
        for m in d.metrics if show_all else d.changes:
            pct = None if m.pct is None else f"{m.pct:+.2f}%"
            delta = None if m.delta is None else f"{m.delta:+,.6g}"
            rows.append([m.sign, d.key, m.metric, m.old, m.new, delta, pct])
    changed = sum(len(d.changes) for d in diffs if d.status == "compared")
    compared = sum(len(d.metrics) for d in diffs if d.status == "compared")
    caption = f"{changed} of {compared} metrics changed beyond tolerance"
    extra = [d for d in diffs if d.status != "compared"]
    if extra:
        caption += f"; {len(extra)} scenario{'s' if len(extra) != 1 else ''} added or removed"
    return [
        DataTable(
            f"diff against {source}",
            ["", "file", "metric", "old", "new", "change", "change %"],
            rows,
            caption=caption,
        )
    ]
