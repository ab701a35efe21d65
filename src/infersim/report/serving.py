"""Serving results as tables and as stable JSON."""

from __future__ import annotations

from typing import Any

from infersim.report.tables import DataTable, significant
from infersim.serving.result import DeploymentServing, Interval, Percentiles, ServingResult


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else significant(float(value), digits)


def percentiles_json(p: Percentiles) -> dict[str, float | None]:
    return {"p50": _num(p.p50), "p90": _num(p.p90), "p99": _num(p.p99), "mean": _num(p.mean)}


def interval_json(i: Interval) -> dict[str, float | None]:
    return {"mean": _num(i.mean), "low": _num(i.low), "high": _num(i.high)}


def deployment_json(d: DeploymentServing) -> dict[str, Any]:
    return {
        "model": d.model,
        "gpu": d.gpu,
        "gpus_per_replica": d.gpus_per_replica,
        "replicas": _num(d.replicas),
        "peak_replicas": d.peak_replicas,
        "mode": d.mode,
        "mode_detail": d.mode_detail,
        "simulated_requests": d.simulated_requests,
        "events": d.events,
        "verdict": d.verdict,
        "verdict_kind": d.verdict_kind,
        "load_factor": _num(d.load_factor),
        "max_batch_sequences": d.max_batch_sequences,
        "max_batch_sequences_source": d.max_batch_sequences_source,
        "scheduler": d.scheduler,
        "priority_ranks": d.priority_ranks,
        "requests": _num(d.requests),
        "completed": _num(d.completed),
        "rejected": _num(d.rejected),
        "preemptions": _num(d.preemptions),
        "recomputed_tokens": _num(d.recomputed_tokens),
        "input_tokens": _num(d.input_tokens),
        "cached_input_tokens": _num(d.cached_input_tokens),
        "output_tokens": _num(d.output_tokens),
        "served_requests": _num(d.served_requests),
        "served_input_tokens": _num(d.served_input_tokens),
        "served_cached_input_tokens": _num(d.served_cached_input_tokens),
        "served_output_tokens": _num(d.served_output_tokens),
        "unserved_requests": _num(d.unserved_requests),
        "unserved_input_tokens": _num(d.unserved_input_tokens),
        "unserved_output_tokens": _num(d.unserved_output_tokens),
        "offered_requests_per_s": _num(d.offered_requests_per_s),
        "capacity_requests_per_s_per_replica": _num(d.capacity_requests_per_s),
        "input_tokens_per_s": _num(d.input_tokens_per_s),
        "output_tokens_per_s": _num(d.output_tokens_per_s),
        "ttft_s": percentiles_json(d.ttft_s),
        "tpot_s": percentiles_json(d.tpot_s),
        "e2e_s": percentiles_json(d.e2e_s),
        "queue_s": percentiles_json(d.queue_s),
        "slo_met_share": _num(d.slo_met_share),
        "deadline_met_share": _num(d.deadline_met_share),
        "batch_extra_gpu_hours": _num(d.batch_extra_gpu_hours),
        "itl_s": percentiles_json(d.itl_s),
        "decode_batch_sequences": percentiles_json(d.decode_batch_sequences),
        "decode_batch_sequences_per_iteration": percentiles_json(
            d.decode_batch_sequences_per_iteration
        ),
        "prefill_batch_tokens": percentiles_json(d.prefill_batch_tokens),
        "kv_occupancy": percentiles_json(d.kv_occupancy),
        "busy_share": _num(d.busy_share),
        "mfu": _num(d.mfu),
        "mbu": _num(d.mbu),
        "gpu_hours_provisioned": _num(d.gpu_hours_provisioned),
        "gpu_hours_scheduled": _num(d.gpu_hours_scheduled),
        "gpu_hours_busy": _num(d.gpu_hours_busy),
        "prefill_share": _num(d.prefill_share),
        "output_tokens_per_gpu_hour": _num(d.output_tokens_per_gpu_hour),
        "intervals_95": {k: interval_json(v) for k, v in d.intervals.items()},
        "classes": {
            c.name: {
                "requests": c.requests,
                "completed": c.completed,
                "ttft_s": percentiles_json(c.ttft_s),
                "tpot_s": percentiles_json(c.tpot_s),
                "e2e_s": percentiles_json(c.e2e_s),
                "queue_s": percentiles_json(c.queue_s),
                "slo_met_share": _num(c.slo_met_share),
                "input_tokens": _num(c.input_tokens),
                "cached_input_tokens": _num(c.cached_input_tokens),
                "output_tokens": _num(c.output_tokens),
                "served_requests": _num(c.served_requests),
                "served_input_tokens": _num(c.served_input_tokens),
                "served_cached_input_tokens": _num(c.served_cached_input_tokens),
                "served_output_tokens": _num(c.served_output_tokens),
                "deadline_s": _num(c.deadline_s),
                "deadline_missed_output_tokens": _num(c.deadline_missed_output_tokens),
            }
            for c in d.classes
        },
    }


def serving_json(result: ServingResult) -> dict[str, Any]:
    return {
        "seed": result.seed,
        "simulated_s": result.horizon_s,
        "deployments": {d.name: deployment_json(d) for d in result.deployments},
    }


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value * 1e3:,.1f}"


def _with_ci(value: float | None, interval: Interval | None, scale: float = 1e3) -> str | None:
    if value is None:
        return None
    text = f"{value * scale:,.1f}"
    if interval is not None and interval.low is not None and interval.high is not None:
        text += f" ({interval.low * scale:,.1f}-{interval.high * scale:,.1f})"
    return text


CLASS_COLUMNS = [
    "deployment", "class", "requests", "TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms",
    "TPOT p99 ms", "E2E p50 s", "queue p50 ms", "within SLO",
]  # fmt: skip


_CAP_SOURCES = {"scenario": "set", "kv_blocks": "KV blocks", "token_budget": "token budget"}


def _cap(d: DeploymentServing) -> str:
    """The replica's cap on running sequences and where it comes from."""
    source = _CAP_SOURCES[d.max_batch_sequences_source]
    return f"at most {d.max_batch_sequences:,} sequences per replica ({source})"


def _scheduler(d: DeploymentServing) -> str:
    """The scheduler policy, its class priority and what batch work did."""
    text = f"scheduler {d.scheduler}"
    if d.priority_ranks > 1:
        text += f" with {d.priority_ranks} class priority ranks"
    if d.deadline_met_share is not None:
        text += f"; batch within deadline {d.deadline_met_share:.1%}"
        if d.batch_extra_gpu_hours > 0:
            text += f", {d.batch_extra_gpu_hours:,.1f} GPU-h more to meet it"
    return text + "; decode batch time-weighted over decoding iterations"


def serving_tables(result: ServingResult, label: str) -> list[DataTable]:
    """Per deployment: latency, throughput, utilization, GPU-hours; then per class."""
    if not result.deployments:
        return []
    rows = []
    for d in result.deployments:
        rows.append(
            [
                d.name,
                f"{d.model} on {d.gpus_per_replica}x{d.gpu}",
                f"{d.replicas:,.3g}",
                d.mode,
                f"{d.requests:,.0f}",
                _ms(d.ttft_s.p50),
                _with_ci(d.ttft_s.p99, d.intervals.get("ttft_p99_s")),
                _with_ci(d.tpot_s.p50, d.intervals.get("tpot_p50_s")),
                _ms(d.tpot_s.p99),
                _ms(d.itl_s.p99),
                f"{d.output_tokens_per_s:,.0f}",
                f"{d.decode_batch_sequences.mean or 0:,.1f} / {d.max_batch_sequences:,}",
                f"{d.busy_share:.0%}",
                f"{d.mfu:.1%}",
                f"{d.mbu:.0%}",
                f"{d.gpu_hours_provisioned:,.1f}",
                f"{d.output_tokens_per_gpu_hour:,.0f}",
                d.verdict or "ok",
            ]
        )
    columns = [
        "deployment", "serving", "replicas", "mode", "requests", "TTFT p50 ms",
        "TTFT p99 ms (95% CI)", "TPOT p50 ms (95% CI)", "TPOT p99 ms", "ITL p99 ms",
        "out tok/s", "decode batch / cap", "busy", "MFU", "MBU", "GPU-h", "out tok/GPU-h",
        "verdict",
    ]  # fmt: skip
    horizon_h = result.horizon_s / 3600
    tables = [
        DataTable(
            f"{label}: serving ({horizon_h:,.3g} h simulated, seed {result.seed})",
            columns,
            rows,
            caption="; ".join(
                f"{d.name}: {d.mode_detail}, {d.events:,} events, {_cap(d)}, {_scheduler(d)}"
                for d in result.deployments
            ),
        )
    ]
    class_rows = [
        [
            d.name,
            c.name,
            f"{c.requests:,}",
            _ms(c.ttft_s.p50),
            _ms(c.ttft_s.p99),
            _ms(c.tpot_s.p50),
            _ms(c.tpot_s.p99),
            None if c.e2e_s.p50 is None else f"{c.e2e_s.p50:,.2f}",
            _ms(c.queue_s.p50),
            None if c.slo_met_share is None else f"{c.slo_met_share:.1%}",
        ]
        for d in result.deployments
        for c in d.classes
    ]
    tables.append(
        DataTable(
            f"{label}: latency per class",
            CLASS_COLUMNS,
            class_rows,
        )
    )
    return tables
