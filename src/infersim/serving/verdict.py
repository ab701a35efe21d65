"""Whether a deployment's fleet served its traffic: overloaded, rejecting requests, missing
its SLO, or ok.

- overloaded: the fleet could not keep up. The run was stopped early (the backlog passed
  what any latency could mean), or the queue kept growing (requests arriving late waited far
  longer than earlier ones).
- rejected: some requests never fit a replica's KV cache. No fleet size changes that.
- slo_missed: a latency percentile of the interactive classes is over its bound, or the share
  of their measured requests within the SLO (the attainment) is below
  `fleet.slo.attainment_target`, or the share of batch requests completed within their
  deadline is.

The same problems size a fleet to its SLO (`serving.fleet.slo_failures`), so a sized fleet's
verdict agrees with what the sizing accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from infersim.scenario.deployment import Slo
from infersim.serving.result import Percentiles, VerdictKind

if TYPE_CHECKING:
    from infersim.serving.summary import RunSample

#: Fewest admitted requests for the growing-queue test to mean anything.
MIN_QUEUE_SAMPLE = 200
#: Which kind names a verdict with several problems, first first.
PRIORITY: tuple[VerdictKind, ...] = ("overloaded", "rejected", "slo_missed")


@dataclass(frozen=True)
class Problem:
    kind: VerdictKind
    text: str


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    message: str | None
    """None when ok; else every problem, the kind's first."""
    load_factor: float
    """Offered requests/s over what the fleet can serve: its measured service rate when
    overloaded and it served something, else the steady-state capacity of its replicas."""


def slo_met(
    slo: Slo, ttft_s: NDArray[np.float64], tpot_s: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Per request: a first token came (not rejected, not cut off), within `ttft_p99_s`, and
    the time per output token is within `tpot_p99_s`. `tpot_p50_s` bounds the median, which
    half the requests exceed by definition: it is checked as a percentile, not per request."""
    met = np.isfinite(ttft_s)
    if slo.ttft_p99_s is not None:
        met &= ttft_s <= slo.ttft_p99_s
    if slo.tpot_p99_s is not None:
        met &= ~(tpot_s > slo.tpot_p99_s)  # NaN (single-token outputs) counts as met
    return met


def queue_grows(arrival_s: NDArray[np.float64], admit_s: NDArray[np.float64]) -> bool:
    """An overload signature: requests arriving late wait far longer than earlier ones.
    Only admitted requests count: a rejected one never waits in the queue (it is a problem
    of its own), and one never admitted belongs to a run stopped for overload anyway."""
    admitted = np.isfinite(admit_s)
    wait = (admit_s - arrival_s)[admitted]
    n = wait.size
    if n < MIN_QUEUE_SAMPLE:
        return False
    early = float(np.mean(wait[n // 4 : n // 2]))
    late = float(np.mean(wait[3 * n // 4 :]))
    return late > 2 * early + 1.0


def _seconds(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def problems(slo: Slo, samples: Sequence[RunSample]) -> list[Problem]:
    """What the runs show wrong, pooled over replications as the result reports them."""
    found: list[Problem] = []
    if any(sample.overloaded for sample in samples):
        found.append(Problem("overloaded", "the queue grows without bound"))
    rejected = float(np.mean([s.rejected * s.scale for s in samples]))
    if rejected > 0:
        share = sum(s.rejected for s in samples) / max(
            sum(s.simulated_requests for s in samples), 1
        )
        found.append(
            Problem(
                "rejected",
                f"{rejected:,.0f} requests ({share:.2%}) never fit a replica's KV cache",
            )
        )
    ttft = Percentiles.of(np.concatenate([s.ttft_s[s.judged] for s in samples]))
    tpot = Percentiles.of(np.concatenate([s.tpot_s[s.judged] for s in samples]))
    checks = [
        ("TTFT p99", ttft.p99, slo.ttft_p99_s),
        ("TPOT p50", tpot.p50, slo.tpot_p50_s),
        ("TPOT p99", tpot.p99, slo.tpot_p99_s),
    ]
    for label, value, bound in checks:
        if bound is not None and value is not None and value > bound:
            found.append(Problem("slo_missed", f"{label} {_seconds(value)} s > {bound:g} s"))
    if slo.ttft_p99_s is not None or slo.tpot_p99_s is not None:
        met = np.concatenate([s.slo_met[s.judged] for s in samples])
        if met.size and float(met.mean()) < slo.attainment_target:
            found.append(
                Problem(
                    "slo_missed",
                    f"{float(met.mean()):.0%} of requests within SLO "
                    f"(target {slo.attainment_target:.0%})",
                )
            )
    on_time = np.concatenate([s.on_time[s.measured & s.batch] for s in samples])
    if on_time.size and float(on_time.mean()) < slo.attainment_target:
        found.append(
            Problem(
                "slo_missed",
                f"{float(on_time.mean()):.0%} of batch requests within their deadline "
                f"(target {slo.attainment_target:.0%})",
            )
        )
    return found


def judge(
    slo: Slo,
    samples: Sequence[RunSample],
    offered_rps: float,
    served_rps: float,
    capacity_rps: float,
) -> Verdict:
    """The verdict on a deployment: its kind, its message and the load factor (always a
    finite number; when nothing was served the message says so)."""
    found = problems(slo, samples)
    estimate = offered_rps / capacity_rps if capacity_rps > 0 else 0.0
    overloaded = any(p.kind == "overloaded" for p in found)
    load = offered_rps / served_rps if overloaded and served_rps > 0 else estimate
    if not found:
        return Verdict("ok", None, load)
    parts = []
    if overloaded:
        if served_rps > 0:
            parts.append(
                f"overloaded: arrival rate {load:.1f}x capacity ({offered_rps:,.2f} "
                f"requests/s offered, {served_rps:,.2f} served)"
            )
        else:
            parts.append(
                f"overloaded: no request served ({offered_rps:,.2f} requests/s offered, "
                f"{estimate:.1f}x the replicas' steady-state capacity)"
            )
    parts += [f"rejected: {p.text}" for p in found if p.kind == "rejected"]
    missed = [p.text for p in found if p.kind == "slo_missed"]
    if missed:
        parts.append("SLO missed: " + ", ".join(missed))
    kind = next(k for k in PRIORITY if any(p.kind == k for p in found))
    return Verdict(kind, "; ".join(parts), load)
