"""`infersim plan`'s report: the ranked table, the search's figures, the cost-latency
frontier (terminal chart and inline SVG), and the plan as a scenario document."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from infersim.planner.search import PlanResult
from infersim.planner.verify import Verified
from infersim.report.sections import Chart, Section
from infersim.report.tables import DataTable, cents, significant
from infersim.report.terminal_charts import bar
from infersim.scenario.deployment import SelfHosted

RANKED_COLUMNS = [
    "rank", "configuration", "replicas", "prefill/decode", "GPUs", "$/month", "$/Mtok in",
    "$/Mtok out",
    "TTFT p99 s", "TPOT p99 ms", "SLO attainment", "quality penalty", "headroom", "verdict",
]  # fmt: skip


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else significant(value, digits)


def _pools(item: Verified) -> str | None:
    """A disaggregated fleet's pools, 'prefill/decode' replicas (None: not disaggregated)."""
    if item.prefill_replicas is None or item.replicas is None:
        return None
    return f"{item.prefill_replicas}/{item.replicas - item.prefill_replicas}"


def _ranked_row(rank: int | None, item: Verified, penalty: float) -> list[Any]:
    tpot = item.tpot_p99_s
    return [
        rank,
        item.candidate.label,
        item.replicas,
        _pools(item),
        item.gpus,
        None if item.usd_per_month is None else cents(item.usd_per_month),
        _num(item.usd_per_mtok_input, 4),
        _num(item.usd_per_mtok_output, 4),
        _num(item.ttft_p99_s, 4),
        None if tpot is None else significant(tpot * 1e3, 4),
        _num(item.slo_attainment, 4),
        penalty,
        _num(item.headroom, 3),
        "meets SLO" if item.feasible else item.failure,
    ]


def plan_tables(result: PlanResult, label: str) -> list[DataTable]:
    penalty = {s.candidate: s.quality_penalty for s in result.screened}
    rows: list[list[Any]] = []
    rank = 0
    for item in result.verified:
        if item.feasible:
            rank += 1
        rows.append(_ranked_row(rank if item.feasible else None, item, penalty[item.candidate]))
    notes = [note for note in (result.runner_up_note(),) if note]
    tables = [
        DataTable(
            f"{label}: plans, cheapest first (simulated, fleet sized to the SLO)",
            RANKED_COLUMNS,
            rows,
            caption="; ".join(notes) or None,
        ),
        DataTable(f"{label}: search", ["stage", "candidates", "detail"], search_rows(result)),
    ]
    frontier = result.frontier
    tables.append(
        DataTable(
            f"{label}: cost-latency frontier (no plan is both cheaper and faster)",
            ["configuration", "replicas", "$/month", "TTFT p99 s", "TPOT p99 ms"],
            [
                [
                    p.candidate.label,
                    p.replicas,
                    cents(p.usd_per_month or 0.0),
                    _num(p.ttft_p99_s, 4),
                    _num((p.tpot_p99_s or 0.0) * 1e3, 4),
                ]
                for p in frontier
            ],
        )
    )
    return tables


def search_rows(result: PlanResult) -> list[list[Any]]:
    """The screen's outcomes, then verification: how many candidates each stage took."""
    outcomes = Counter(s.outcome for s in result.screened)
    rows: list[list[Any]] = [["screened", len(result.screened), "every combination searched"]]
    for outcome, count in sorted(outcomes.items()):
        if outcome == "kept":
            continue
        example = next(s for s in result.screened if s.outcome == outcome)
        rows.append(
            [f"ruled out: {outcome}", count, f"e.g. {example.candidate.label}: {example.reason}"]
        )
    rows.append(["kept by the screen", outcomes.get("kept", 0), "ranked by estimated $/month"])
    capped = sum(1 for v in result.verified if v.failure_kind == "capped")
    rows.append(
        [
            "simulated",
            len(result.verified),
            f"{result.rounds} rounds of up to {result.top_k}; {capped} missed the SLO at a "
            "fleet already costing more than the best plan",
        ]
    )
    rows.append(
        [
            "skipped",
            len(result.skipped),
            "cost floor not below the best plan's $/month: cannot beat it",
        ]
    )
    return rows


def plan_json(result: PlanResult) -> dict[str, Any]:
    winner = result.winner
    penalty = {s.candidate: s.quality_penalty for s in result.screened}

    def item(v: Verified) -> dict[str, Any]:
        c = v.candidate
        return {
            "configuration": c.label,
            "gpu": c.gpu,
            "tensor_parallel": c.tensor_parallel,
            "expert_parallel": c.expert_parallel,
            "precision": c.precision,
            "speculative": c.speculative,
            "chunked_prefill": c.chunked_prefill,
            "max_batch_sequences": c.max_batch_sequences,
            "disaggregated": c.disaggregated,
            "pricing": c.pricing,
            "replicas": v.replicas,
            "prefill_replicas": v.prefill_replicas,
            "gpus": v.gpus,
            "usd_per_month": None if v.usd_per_month is None else cents(v.usd_per_month),
            "usd_per_gpu_hour": _num(v.usd_per_gpu_hour),
            "usd_per_mtok_input": _num(v.usd_per_mtok_input),
            "usd_per_mtok_output": _num(v.usd_per_mtok_output),
            "ttft_p99_s": _num(v.ttft_p99_s),
            "tpot_p99_s": _num(v.tpot_p99_s),
            "slo_attainment": _num(v.slo_attainment),
            "quality_penalty": penalty[c],
            "headroom": _num(v.headroom),
            "load_factor": _num(v.load_factor),
            "meets_slo": v.feasible,
            "failure": v.failure,
        }

    outcomes = Counter(s.outcome for s in result.screened)
    return {
        "winner": None if winner is None else item(winner),
        "runner_up_lost": result.runner_up_note(),
        "ranked": [item(v) for v in result.verified],
        "frontier": [v.candidate.label for v in result.frontier],
        "search": {
            "candidates": len(result.screened),
            "screen": dict(sorted(outcomes.items())),
            "verified": len(result.verified),
            "skipped": len(result.skipped),
            "rounds": result.rounds,
            "top_k": result.top_k,
        },
    }


def frontier_chart(result: PlanResult, width: int, *, plain: bool = False) -> str:
    """The frontier as bars of $/month, each labelled with its TTFT p99: cheapest first, each
    next one dearer and faster."""
    frontier = result.frontier
    if not frontier:
        return ""
    labels = [p.candidate.label for p in frontier]
    label_width = max(len(text) for text in labels)
    most = max(p.usd_per_month or 0.0 for p in frontier)
    bar_width = max(10, width - label_width - 34)
    lines = ["", "cost-latency frontier ($/month; TTFT p99):"]
    for text, p in zip(labels, frontier, strict=True):
        usd = p.usd_per_month or 0.0
        lines.append(
            f"  {text.ljust(label_width)}  {bar(usd, most, bar_width, plain=plain)} "
            f"${usd:>10,.0f}  {p.ttft_p99_s or 0.0:6.3f} s"
        )
    return "\n".join(lines) + "\n"


def frontier_svg(result: PlanResult) -> str:
    """Every simulated plan as a point ($/month, TTFT p99), the frontier joined by a line."""
    plans = [v for v in result.verified if v.feasible and v.ttft_p99_s is not None]
    if not plans:
        return ""
    w, h, pad = 640, 360, 48
    xs = [p.usd_per_month or 0.0 for p in plans]
    ys = [p.ttft_p99_s or 0.0 for p in plans]
    x_hi, y_hi = max(xs) * 1.05 or 1.0, max(ys) * 1.1 or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + x / x_hi * (w - 2 * pad), h - pad - y / y_hi * (h - 2 * pad)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img">',
        "<title>cost-latency frontier</title>",
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#444"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#444"/>',
        f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle" font-size="12">$/month '
        f"(0 to {x_hi:,.0f})</text>",
        f'<text x="12" y="{h / 2}" font-size="12" transform="rotate(-90 12 {h / 2})" '
        f'text-anchor="middle">TTFT p99, s (0 to {y_hi:.2f})</text>',
    ]
    for p in plans:
        x, y = at(p.usd_per_month or 0.0, p.ttft_p99_s or 0.0)
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#888">'
            f"<title>{escape(p.candidate.label)}</title></circle>"
        )
    points = [at(p.usd_per_month or 0.0, p.ttft_p99_s or 0.0) for p in result.frontier]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="#c33" stroke-width="2"/>')
    for p, (x, y) in zip(result.frontier, points, strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#c33">'
            f"<title>{escape(p.candidate.label)}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


def plan_sections(result: PlanResult, tables: Sequence[DataTable]) -> list[Section]:
    svg = frontier_svg(result)
    charts = [Chart("cost-latency frontier", svg, "red: the frontier")] if svg else []
    notes = [n for n in (result.runner_up_note(),) if n]
    return [Section("plan", charts, tables, notes)]


def plan_document(
    document: Mapping[str, Any],
    name: str,
    deployment: SelfHosted,
    replicas: int,
    prefill_replicas: int | None = None,
) -> dict[str, Any]:
    """The scenario with the winning deployment at a fixed fleet of `replicas`: what
    `infersim run` reproduces the plan's figures with. The planned levers replace the
    deployment's (the rest is kept as written); a disaggregated plan fixes its prefill pool
    at `prefill_replicas` (None: not disaggregated); variants are left out (they change the
    deployment the plan chose)."""
    data = copy.deepcopy(dict(document))
    data.pop("variants", None)
    written = dict(data["deployments"][name])
    chosen = deployment.model_dump(mode="json", exclude_none=True)
    for key in (
        "gpu", "tensor_parallel", "expert_parallel", "precision", "speculative",
        "chunked_prefill", "max_batch_sequences", "cost",
    ):  # fmt: skip
        if key in chosen:
            written[key] = chosen[key]
        else:
            written.pop(key, None)
    written["replicas"] = replicas
    data["deployments"] = {**data["deployments"], name: written}
    fleet = {**data.get("fleet", {}), "mode": "fixed"}
    fleet.pop("prefill_replicas", None)
    if prefill_replicas is None:
        fleet.pop("disaggregated", None)
    else:
        fleet["disaggregated"] = True
        fleet["prefill_replicas"] = prefill_replicas
    data["fleet"] = fleet
    return data
