"""Serving results as tables and as stable JSON."""

from __future__ import annotations

from typing import Any

from infersim.report.formats import load_text
from infersim.report.tables import DataTable, significant
from infersim.serving.prefix_cache import PrefixCacheReport
from infersim.serving.result import (
    DeploymentServing,
    Interval,
    KvTransfer,
    MixedPoolServing,
    Percentiles,
    PoolServing,
    ServingResult,
    SpotServing,
)


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
        "batch_slowdown_max": _num(d.batch_slowdown_max),
        "batch_output_tokens": _num(d.batch_output_tokens),
        "batch_served_output_tokens": _num(d.batch_served_output_tokens),
        "batch_preemptions": _num(d.batch_preemptions),
        "batch_recomputed_tokens": _num(d.batch_recomputed_tokens),
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
        **({} if d.prefix_cache is None else {"prefix_cache": prefix_cache_json(d.prefix_cache)}),
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
        "pools": {p.role: pool_json(p) for p in d.pools},
        "kv_transfer": None if d.kv_transfer is None else kv_transfer_json(d.kv_transfer),
        **(
            {"mixed_pools": {p.name: mixed_pool_json(p) for p in d.mixed_pools}}
            if d.mixed_pools
            else {}
        ),
        **({"spot": spot_json(d.spot)} if d.spot is not None else {}),
    }


def spot_json(s: SpotServing) -> dict[str, Any]:
    """What the engine's spot reclaims did over the simulated time (the whole fleet)."""
    return {
        "rate_per_replica_hour": _num(s.rate_per_replica_hour),
        "replacement_lag_s": _num(s.replacement_lag_s),
        "reclaims": _num(s.reclaims),
        "requests_recomputed": _num(s.requests_recomputed),
        "requests_moved": _num(s.requests_moved),
        "recomputed_tokens": _num(s.recomputed_tokens),
        "recompute_gpu_hours": _num(s.recompute_gpu_hours),
        "down_gpu_hours": _num(s.down_gpu_hours),
    }


def mixed_pool_json(p: MixedPoolServing) -> dict[str, Any]:
    """A mixed fleet's pool; its GPU-hours and output tokens add up to the deployment's."""
    return {
        "gpu": p.gpu,
        "replicas": p.replicas,
        "tensor_parallel": p.tensor_parallel,
        "gpus_per_replica": p.gpus_per_replica,
        "gpu_hours_scheduled": _num(p.gpu_hours_scheduled),
        "gpu_hours_busy": _num(p.gpu_hours_busy),
        "busy_share": _num(p.busy_share),
        "output_tokens_per_s": _num(p.output_tokens_per_s),
        "routing_usd_per_gpu_hour": _num(p.usd_per_gpu_hour),
        "spill_over_sequences": p.spill_over_sequences,
        **({"spot": spot_json(p.spot)} if p.spot is not None else {}),
    }


def pool_json(p: PoolServing) -> dict[str, Any]:
    """A pool's figures; its tokens are input tokens (prefill) or output tokens (decode)."""
    return {
        "replicas": p.replicas,
        "tensor_parallel": p.tensor_parallel,
        "expert_parallel": p.expert_parallel,
        "gpus_per_replica": p.gpus_per_replica,
        "gpu_hours_scheduled": _num(p.gpu_hours_scheduled),
        "gpu_hours_busy": _num(p.gpu_hours_busy),
        "busy_share": _num(p.busy_share),
        "tokens_per_s": _num(p.tokens_per_s),
        "tokens_per_s_per_replica": _num(p.tokens_per_s_per_replica),
        "tokens_per_s_per_gpu": _num(p.tokens_per_s_per_gpu),
    }


def kv_transfer_json(k: KvTransfer) -> dict[str, Any]:
    return {
        "transfers": _num(k.transfers),
        "bytes": _num(k.bytes),
        "seconds_per_transfer": _num(k.seconds_per_transfer),
    }


def prefix_cache_json(p: PrefixCacheReport) -> dict[str, Any]:
    return {
        "block_tokens": p.block_tokens,
        "hbm_capacity_blocks": p.hbm_capacity_blocks,
        "hbm_capacity_source": p.hbm_capacity_source,
        "tiers": [
            {
                "name": t.name,
                "capacity_blocks": t.capacity_blocks,
                "bandwidth_gb_per_s": _num(t.bandwidth_bytes_per_s / 1e9),
            }
            for t in p.tiers
        ],
        "hashed_requests": _num(p.hashed_requests),
        "hashed_input_tokens": _num(p.hashed_input_tokens),
        "hit_tokens": _num(p.hit_tokens),
        "hit_ratio": _num(p.hit_ratio),
        "lower_tier_hit_tokens": _num(p.lower_tier_hit_tokens),
        "loaded_tokens": _num(p.loaded_tokens),
        "load_s": _num(p.load_s),
        "tokens_saved": _num(p.tokens_saved),
        "ttft_s_without_cache": {
            "p50": _num(p.ttft_p50_s_without),
            "p99": _num(p.ttft_p99_s_without),
        },
    }


def serving_json(result: ServingResult) -> dict[str, Any]:
    return {
        "seed": result.seed,
        "simulated_s": result.horizon_s,
        "deployments": {d.name: deployment_json(d) for d in result.deployments},
        **({"replays": dict(result.replays)} if result.replays else {}),
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


#: How each serving mode reads in a table (`DeploymentServing.mode`).
MODE_WORDS = {
    "des": "every replica simulated",
    "sampled": "sample of replicas simulated",
    "fluid": "fluid model (not simulated)",
}

LATENCY_COLUMNS = [
    "deployment", "requests", "TTFT p50 ms", "TTFT p99 ms (95% CI)", "TPOT p50 ms (95% CI)",
    "TPOT p99 ms", "ITL p99 ms", "E2E p50 s", "within SLO", "verdict",
]  # fmt: skip
CAPACITY_COLUMNS = [
    "deployment", "serving", "replicas", "simulation", "out tok/s", "decode batch / cap",
    "load of capacity", "busy", "MFU", "MBU", "GPU-h", "out tok/GPU-h",
]  # fmt: skip


def _scheduler(d: DeploymentServing) -> str:
    """The scheduler policy, its class priority and what batch work did."""
    text = f"scheduler {d.scheduler}"
    if d.priority_ranks > 1:
        text += f" with {d.priority_ranks} class priority ranks"
    if d.deadline_met_share is not None:
        cap = d.batch_slowdown_max
        text += (
            "; batch work: no cap beside interactive work"
            if cap is None
            else f"; batch work: at most {cap:.1%} longer interactive iterations"
        )
        text += (
            f", {d.batch_served_output_tokens:,.0f} of {d.batch_output_tokens:,.0f} output "
            f"tokens served, {d.batch_preemptions:,.0f} preemptions "
            f"({d.batch_recomputed_tokens:,.0f} tokens recomputed)"
        )
        text += f"; batch within deadline {d.deadline_met_share:.1%}"
        if d.batch_extra_gpu_hours > 0:
            text += f", {d.batch_extra_gpu_hours:,.1f} GPU-h more to meet it"
    return text + "; decode batch time-weighted over decoding iterations"


def serving_tables(result: ServingResult, label: str) -> list[DataTable]:
    """Per deployment: latency (and the verdict), then capacity (throughput, utilization,
    GPU-hours), two tables that fit a terminal; then latency per class."""
    if not result.deployments:
        return []
    latency_rows = [
        [
            d.name,
            f"{d.requests:,.0f}",
            _ms(d.ttft_s.p50),
            _with_ci(d.ttft_s.p99, d.intervals.get("ttft_p99_s")),
            _with_ci(d.tpot_s.p50, d.intervals.get("tpot_p50_s")),
            _ms(d.tpot_s.p99),
            _ms(d.itl_s.p99),
            None if d.e2e_s.p50 is None else f"{d.e2e_s.p50:,.2f}",
            None if d.slo_met_share is None else f"{d.slo_met_share:.1%}",
            d.verdict or "ok",
        ]
        for d in result.deployments
    ]
    capacity_rows = [
        [
            d.name,
            f"{d.model} on {d.gpus_per_replica} {d.gpu}",
            f"{d.replicas:,.3g}",
            MODE_WORDS.get(d.mode, d.mode),
            f"{d.output_tokens_per_s:,.0f}",
            f"{d.decode_batch_sequences.mean or 0:,.1f} / {d.max_batch_sequences:,}",
            load_text(d.load_factor),
            f"{d.busy_share:.0%}",
            f"{d.mfu:.1%}",
            f"{d.mbu:.0%}",
            f"{d.gpu_hours_provisioned:,.1f}",
            f"{d.output_tokens_per_gpu_hour:,.0f}",
        ]
        for d in result.deployments
    ]

    horizon_h = result.horizon_s / 3600
    simulated = f"{horizon_h:,.3g} h simulated, seed {result.seed}"
    tables = [
        DataTable(f"{label}: serving latency ({simulated})", LATENCY_COLUMNS, latency_rows),
        DataTable(
            f"{label}: serving capacity ({simulated})",
            CAPACITY_COLUMNS,
            capacity_rows,
            caption="; ".join(
                f"{d.name}: {d.mode_detail}, {d.events:,} events, {_cap(d)}, {_scheduler(d)}"
                for d in result.deployments
            ),
        ),
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
            caption="; ".join(f"{name} replays a {text}" for name, text in result.replays) or None,
        )
    )
    pool_rows = [
        [
            d.name,
            p.role,
            f"{p.replicas:,} x {p.gpus_per_replica} GPUs (tp {p.tensor_parallel}, "
            f"ep {p.expert_parallel})",
            f"{p.tokens_per_s_per_replica:,.0f} {'in' if p.role == 'prefill' else 'out'}",
            f"{p.tokens_per_s_per_gpu:,.0f}",
            f"{p.busy_share:.0%}",
            f"{p.gpu_hours_scheduled:,.1f}",
        ]
        for d in result.deployments
        for p in d.pools
    ]
    if pool_rows:
        transfers = [
            f"{d.name}: {k.bytes / 1e9:,.3g} GB of KV cache moved in {k.transfers:,.0f} "
            f"transfers, {k.seconds_per_transfer * 1e3:,.2f} ms each on average"
            for d in result.deployments
            if (k := d.kv_transfer) is not None
        ]
        tables.append(
            DataTable(
                f"{label}: disaggregated pools",
                ["deployment", "pool", "replicas", "tok/s per replica", "tok/s per GPU",
                 "busy", "GPU-h"],
                pool_rows,
                caption="; ".join(transfers),
            )
        )  # fmt: skip
    mixed_rows = [
        [
            d.name,
            p.name,
            f"{p.replicas:,} x {p.gpus_per_replica} {p.gpu} (tp {p.tensor_parallel})",
            f"{p.output_tokens_per_s:,.0f}",
            f"{p.busy_share:.0%}",
            f"{p.gpu_hours_scheduled:,.1f}",
            f"{p.spill_over_sequences:,}",
        ]
        for d in result.deployments
        for p in d.mixed_pools
    ]
    if mixed_rows:
        tables.append(
            DataTable(
                f"{label}: mixed fleet pools",
                ["deployment", "pool", "replicas", "out tok/s", "busy", "GPU-h", "spills at"],
                mixed_rows,
            )
        )
    spot_rows = [
        [
            name,
            f"{s.rate_per_replica_hour:,.3g}",
            f"{s.reclaims:,.1f}",
            f"{s.requests_recomputed:,.0f} of {s.requests_moved:,.0f}",
            f"{s.recomputed_tokens:,.0f}",
            f"{s.recompute_gpu_hours:,.3g}",
            f"{s.down_gpu_hours:,.3g} ({s.replacement_lag_s:,.0f} s each)",
        ]
        for name, s in _spot_rows(result)
    ]
    if spot_rows:
        tables.append(
            DataTable(
                f"{label}: spot reclaims in the engine (simulated time)",
                ["deployment", "per replica-h", "reclaims", "recomputed / moved requests",
                 "recomputed tokens", "recompute GPU-h", "down GPU-h"],
                spot_rows,
                caption="requests on a reclaimed replica are admitted again elsewhere and "
                "recomputed (none lost); latencies include the reclaims",
            )
        )  # fmt: skip
    cached = [d for d in result.deployments if d.prefix_cache is not None]
    if cached:
        tables.append(prefix_cache_table(cached, label))
    return tables


def prefix_cache_table(deployments: list[DeploymentServing], label: str) -> DataTable:
    """Prefix reuse from block hashes: hits, tokens saved, TTFT with and without the cache."""
    rows = []
    for d in deployments:
        p = d.prefix_cache
        assert p is not None
        tiers = ", ".join(
            f"{t.name} {t.capacity_blocks:,} blocks at {t.bandwidth_bytes_per_s / 1e9:,.3g} GB/s"
            for t in p.tiers
        )
        rows.append(
            [
                d.name,
                f"{p.hbm_capacity_blocks:,} x {p.block_tokens} ({p.hbm_capacity_source})",
                tiers or "-",
                f"{p.hit_ratio:.1%}",
                f"{p.tokens_saved:,.0f}",
                f"{p.loaded_tokens:,.0f}",
                f"{_ms(d.ttft_s.p50)} / {_ms(p.ttft_p50_s_without)}",
                f"{_ms(d.ttft_s.p99)} / {_ms(p.ttft_p99_s_without)}",
            ]
        )
    columns = [
        "deployment", "HBM cache blocks x tokens", "lower tiers", "hit ratio", "tokens saved",
        "loaded from tiers", "TTFT p50 ms with / without", "TTFT p99 ms with / without",
    ]  # fmt: skip
    return DataTable(
        f"{label}: prefix cache (block hashes)",
        columns,
        rows,
        caption="hit ratio: input tokens found in the cache of the replica serving the request; "
        "without: the first replication's requests run again with no prefix cache",
    )


def _spot_rows(result: ServingResult) -> list[tuple[str, SpotServing]]:
    """Each deployment's spot reclaims, then a mixed fleet's per pool with spot."""
    rows: list[tuple[str, SpotServing]] = []
    for d in result.deployments:
        if d.spot is not None:
            rows.append((d.name, d.spot))
        rows += [(f"{d.name}: pool {p.name}", p.spot) for p in d.mixed_pools if p.spot]
    return rows
