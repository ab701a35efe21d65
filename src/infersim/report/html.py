"""One self-contained HTML file per report: inline CSS, inline SVG charts, no scripts and no
external URLs (a Content-Security-Policy forbids fetching anything), so it opens offline, from
an e-mail or a CI artifact, and prints.

`render_html` lays out sections (see `infersim.report.sections`); the `*_report` functions
turn one command's JSON and tables into a whole page, one call per command's `--format html`.
The same input gives byte-identical HTML (no dates; deterministic SVG).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from infersim import __version__
from infersim.report import charts, sections
from infersim.report.headline import Headline
from infersim.report.sections import Section
from infersim.report.tables import DataTable

#: Nothing may be fetched: styles and images are inline, scripts are off.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'"

CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --band: #f7fafc; --accent: #2b6cb0;
  --bad: #c53030; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
header, main, footer { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 4px;
  border-bottom: 2px solid var(--accent); }
.meta { color: var(--muted); margin: 0 0 14px; }
nav ol { margin: 0 0 18px; padding-left: 20px; columns: 2; color: var(--muted); }
nav a { color: var(--accent); text-decoration: none; }
figure { margin: 16px 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px;
  break-inside: avoid; }
figure svg.chart { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.85rem; margin-top: 4px; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 14px 0; }
table { border-collapse: collapse; font-size: 0.84rem; font-variant-numeric: tabular-nums;
  max-width: 100%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
td.num { white-space: nowrap; overflow-wrap: normal; }
.lead { margin: 18px 0 8px; }
.lead h2 { margin-top: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
  margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  background: var(--band); }
.card .value { font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 0.85rem; }
.verdict { font-size: 1.05rem; margin: 6px 0; }
.headline { margin: 2px 0; color: var(--muted); }
th { background: var(--band); font-weight: 600; }
tbody tr:nth-child(even) { background: var(--band); }
tfoot td { font-weight: 600; border-top: 2px solid var(--muted); }
td.num, th.num { text-align: right; }
td.neg { color: var(--bad); }
.table-caption { color: var(--muted); font-size: 0.82rem; }
.note { color: var(--muted); margin: 8px 0; }
details { margin: 12px 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; }
pre { overflow-x: auto; font-size: 0.8rem; background: var(--band); padding: 10px; }
footer { color: var(--muted); font-size: 0.8rem; padding: 24px; }
@media print { nav { display: none; } h2 { break-after: avoid; } }
"""

_NUMERIC = re.compile(r"^[-+]?\$?[\d,]*\.?\d+(\s?(%|[kMBT]|pts|x|s|ms))?( \([-+\d.,%]+\))?$")
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _cell(value: Any) -> str:
    """As the text tables show it (`infersim.report.tables`)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _cell_class(value: Any, text: str) -> str:
    numeric = (isinstance(value, int | float) and not isinstance(value, bool)) or bool(
        _NUMERIC.match(text.strip())
    )
    if not numeric:
        return ""
    negative = text.lstrip().startswith("-") and text.strip() != "-"
    return ' class="num neg"' if negative else ' class="num"'


def _table(table: DataTable) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    parts = [
        '<div class="table-wrap"><table>',
        f"<caption>{escape(table.title)}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
    ]
    for row in table.rows:
        cells = []
        for value in row:
            text = _cell(value)
            cells.append(f"<td{_cell_class(value, text)}>{escape(text)}</td>")
        parts.append(f"<tr>{''.join(cells)}</tr>")
    parts.append("</tbody>")
    if table.footer is not None:
        cells = [f"<td{_cell_class(v, _cell(v))}>{escape(_cell(v))}</td>" for v in table.footer]
        parts.append(f"<tfoot><tr>{''.join(cells)}</tr></tfoot>")
    parts.append("</table></div>")
    if table.caption:
        parts.append(f'<p class="table-caption">{escape(table.caption)}</p>')
    return "".join(parts)


def scope_ids(svg: str, prefix: str) -> str:
    """Prefix every id in an SVG and every reference to one, so that several charts inline
    in one page keep their ids unique (matplotlib numbers them from 1 in each figure)."""
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    return _REF.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


def _slug(index: int) -> str:
    return f"s{index + 1}"


def _lead(leads: Sequence[tuple[str, Headline]]) -> list[str]:
    """The answer first: per run, KPI cards, the verdict in one sentence, then the margin and
    cost lines of the headline (`infersim.report.headline`, as `run` prints them)."""
    out: list[str] = []
    for label, found in leads:
        out.append('<section class="lead">')
        if len(leads) > 1:
            out.append(f"<h2>{escape(label)}</h2>")
        out.append('<div class="cards">')
        out += [
            f'<div class="card"><div class="value">{escape(value)}</div>'
            f'<div class="label">{escape(name)}</div></div>'
            for name, value in found.kpis
        ]
        out.append("</div>")
        verdict = found.verdict.removeprefix("verdict: ")
        out.append(f'<p class="verdict"><strong>{escape(verdict)}.</strong></p>')
        out += [f'<p class="headline">{escape(line)}</p>' for line in (found.margin, found.cost)]
        out.append("</section>")
    return out


def render_html(
    title: str,
    report_sections: Sequence[Section],
    resolved_scenario_yaml: str | None,
    version: str,
    leads: Sequence[tuple[str, Headline]] = (),
    reproduce: str | None = None,
) -> str:
    """The whole page: a header with the answer (`leads`: KPI cards and the verdict), a
    contents list, each section (charts, tables, notes), and what reproduces it (the infersim
    version, the command `reproduce` when given and, collapsed, the resolved scenario)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="infersim {escape(version)}">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">infersim {escape(version)}</p>',
        *_lead(leads),
    ]
    titles = [s.title for s in report_sections]
    if len(titles) > 1:
        out.append('<nav aria-label="contents"><ol>')
        out += [f'<li><a href="#{_slug(i)}">{escape(t)}</a></li>' for i, t in enumerate(titles)]
        out.append("</ol></nav>")
    out += ["</header>", "<main>"]
    chart_index = 0
    for index, section in enumerate(report_sections):
        out.append(f'<section id="{_slug(index)}">')
        out.append(f"<h2>{escape(section.title)}</h2>")
        for chart in section.charts:
            chart_index += 1
            svg = scope_ids(chart.svg, f"c{chart_index}-")
            caption = f"<figcaption>{escape(chart.caption)}</figcaption>" if chart.caption else ""
            out.append(f"<figure>{svg}{caption}</figure>")
        out += [_table(t) for t in section.tables]
        out += [f'<p class="note">{escape(note)}</p>' for note in section.notes]
        out.append("</section>")
    out.append('<section id="reproduce">')
    out.append("<h2>reproduce</h2>")
    if reproduce:
        out.append('<p class="note">This command gives the same figures:</p>')
        out.append(f"<pre><code>{escape(reproduce)}</code></pre>")
    if resolved_scenario_yaml:
        out.append(
            f'<p class="note">Made by infersim {escape(version)}: the same version and the '
            "resolved scenario below give the same figures (runs are deterministic for a "
            "seed).</p>"
        )
        out.append(
            "<details><summary>resolved scenario (YAML)</summary>"
            f"<pre><code>{escape(resolved_scenario_yaml)}</code></pre></details>"
        )
    else:
        out.append(f'<p class="note">Made by infersim {escape(version)}.</p>')
    out += [
        "</section>",
        "</main>",
        f"<footer>infersim {escape(version)}: a self-contained report (inline styles and SVG; "
        "it loads nothing from the network).</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)


def _version(data: Mapping[str, Any]) -> str:
    return str(data.get("infersim_version") or __version__)


def run_report(
    data: Mapping[str, Any],
    tables: Sequence[DataTable] = (),
    resolved: str | None = None,
    leads: Sequence[tuple[str, Headline]] = (),
    assumptions: Sequence[DataTable] = (),
) -> str:
    """`infersim run --format html`: `data` is the `-f json` object, `tables` the tables the
    command prints, `resolved` the resolved scenario(s) as YAML (`sections.scenario_yaml`),
    `leads` each run's headline (`infersim.report.headline`), shown first, `assumptions` the
    inputs behind each run (`infersim.report.assumptions`), in the run's summary."""
    charts.require_matplotlib()
    labels = [sections.run_label(r) for r in data.get("runs", [])]
    title = "infersim run: " + (", ".join(labels) if labels else "scenario")
    found = sections.run_sections(data, [*assumptions, *tables])
    return render_html(title, found, resolved, _version(data), leads=leads)


def compare_report(
    data: Mapping[str, Any], tables: Sequence[DataTable] = (), resolved: str | None = None
) -> str:
    """`infersim compare --format html` from its `-f json` object and tables."""
    charts.require_matplotlib()
    labels = [str(r.get("label")) for r in data.get("runs", [])]
    title = "infersim compare: " + " vs ".join(labels)
    return render_html(title, sections.compare_sections(data, tables), resolved, _version(data))


def perf_report(
    data: Mapping[str, Any], tables: Sequence[DataTable] = (), reproduce: str | None = None
) -> str:
    """`infersim perf --format html` from its `-f json` object and tables; `reproduce`, the
    command line that gives the same figures, closes the page."""
    charts.require_matplotlib()
    dep = data.get("deployment") or {}
    title = f"infersim perf: {dep.get('model')} on {dep.get('gpu')}"
    return render_html(
        title, sections.perf_sections(data, tables), None, _version(data), reproduce=reproduce
    )


def sensitivity_report(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> str:
    """`infersim sensitivity --format html` from its `-f json` object and tables."""
    charts.require_matplotlib()
    label = sections.run_label(data) if data.get("scenario") else "scenario"
    return render_html(
        f"infersim sensitivity: {label}",
        sections.sensitivity_sections(data, tables),
        None,
        _version(data),
    )


def breakeven_report(
    data: Mapping[str, Any],
    tables: Sequence[DataTable] = (),
    evaluations: Sequence[tuple[float, float]] = (),
) -> str:
    """`infersim breakeven --format html` from its `-f json` object, tables and the runs of
    the search (`evaluations`: input, output)."""
    charts.require_matplotlib()
    label = sections.run_label(data) if data.get("scenario") else "scenario"
    return render_html(
        f"infersim breakeven: {label}",
        sections.breakeven_sections(data, tables, evaluations),
        None,
        _version(data),
    )


def check_report(data: Mapping[str, Any], tables: Sequence[DataTable] = ()) -> str:
    """`infersim check --format html` from its `-f json` object and tables."""
    charts.require_matplotlib()
    title = f"infersim check: {data.get('result')}"
    return render_html(title, sections.check_sections(data, tables), None, _version(data))


def sweep_report(
    data: Mapping[str, Any], tables: Sequence[DataTable] = (), resolved: str | None = None
) -> str:
    """`infersim sweep --format html` from its `-f json` object and tables."""
    charts.require_matplotlib()
    label = sections.run_label(data) if data.get("scenario") else "scenario"
    return render_html(
        f"infersim sweep: {label}", sections.sweep_sections(data, tables), resolved, _version(data)
    )


def montecarlo_report(
    data: Mapping[str, Any],
    tables: Sequence[DataTable] = (),
    resolved: str | None = None,
    *,
    samples: Mapping[str, Sequence[float]] | None = None,
    label: str | None = None,
) -> str:
    """Monte Carlo `--format html` from `montecarlo_json` (with the envelope) and its tables;
    `samples` (metric -> per-sample values, e.g. `MonteCarloResult.outputs`) adds histograms,
    `label` names the scenario (the JSON does not)."""
    charts.require_matplotlib()
    found = sections.montecarlo_sections(data, tables, samples, label)
    title = f"infersim Monte Carlo: {label or data.get('scenario') or 'scenario'}"
    return render_html(title, found, resolved, _version(data))
