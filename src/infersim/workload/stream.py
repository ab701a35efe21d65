"""Turn a scenario's request classes into one time-ordered stream of requests (numpy arrays).

Each class draws its own arrivals and token lengths from a child generator keyed by its name
under the run's generator, so adding a class does not reshuffle the others' samples.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infersim.routing import class_share as class_share  # re-exported for the engine, ledger
from infersim.routing import plan_routes
from infersim.scenario.deployment import RouterKind
from infersim.scenario.model import Scenario
from infersim.scenario.workload import Bursty, Diurnal, Poisson, RequestClass, Trace
from infersim.workload.arrivals import (
    SECONDS_PER_HOUR,
    bursty_times,
    diurnal_rate_per_s,
    diurnal_times,
    mean_rate_per_s,
    poisson_times,
)
from infersim.workload.lengths import sample_tokens
from infersim.workload.sessions import expand_sessions, lead_s
from infersim.workload.trace import ExternalData, replay


@dataclass(frozen=True)
class RequestStream:
    """Requests sorted by arrival time; `class_idx` indexes `class_names`, `deployment_idx`
    indexes `deployment_names`."""

    time_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    cached_tokens: NDArray[np.int64]
    class_idx: NDArray[np.int64]
    deployment_idx: NDArray[np.int64]
    class_names: tuple[str, ...]
    deployment_names: tuple[str, ...]
    trace_row: NDArray[np.int64] | None = None
    """Per request, the row of its class's trace it replays (-1: drawn, not replayed)."""
    session: NDArray[np.int64] | None = None
    """Per request, its session's index within its class (-1: not a session's turn)."""

    def __len__(self) -> int:
        return len(self.time_s)

    def select(self, mask: NDArray[np.bool_]) -> RequestStream:
        return RequestStream(
            self.time_s[mask],
            self.prompt_tokens[mask],
            self.output_tokens[mask],
            self.cached_tokens[mask],
            self.class_idx[mask],
            self.deployment_idx[mask],
            self.class_names,
            self.deployment_names,
            None if self.trace_row is None else self.trace_row[mask],
            None if self.session is None else self.session[mask],
        )


def _class_arrivals(
    cls: RequestClass,
    horizon_s: float,
    rng: np.random.Generator,
    data: ExternalData,
    start_s: float = 0.0,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.int64] | None,
    NDArray[np.int64] | None,
    NDArray[np.int64] | None,
    NDArray[np.int64] | None,
]:
    arrival = cls.arrival
    if isinstance(arrival, Poisson):
        return poisson_times(arrival, horizon_s, rng), None, None, None, None
    if isinstance(arrival, Bursty):
        return bursty_times(arrival, horizon_s, rng), None, None, None, None
    if isinstance(arrival, Diurnal):
        return diurnal_times(arrival, horizon_s, rng, start_s), None, None, None, None
    assert isinstance(arrival, Trace)
    trace = data.traces[arrival.path]
    shaped = replay(arrival, trace, horizon_s)
    rows = shaped.rows
    return (
        shaped.times_s,
        trace.prompt_tokens[rows],
        trace.output_tokens[rows],
        trace.cached_prefix_tokens[rows],
        rows,
    )


def class_rng(rng: np.random.Generator, class_name: str) -> np.random.Generator:
    """A generator for one class, keyed by its name: adding, removing or reordering other
    classes leaves its draws alone."""
    parent = rng.bit_generator.seed_seq
    assert isinstance(parent, np.random.SeedSequence)
    key = zlib.crc32(class_name.encode("utf-8"))
    return np.random.default_rng(
        np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, key))
    )


def _scaled(cls: RequestClass, factor: float) -> RequestClass:
    """The class with its arrival rate multiplied by `factor` (Poisson thinning)."""
    arrival = cls.arrival
    if factor == 1.0 or isinstance(arrival, Trace):
        return cls
    scaled: Poisson | Bursty | Diurnal
    if isinstance(arrival, Diurnal):
        scaled = arrival.model_copy(update={"mean_rate_per_s": arrival.mean_rate_per_s * factor})
    else:
        scaled = arrival.model_copy(update={"rate_per_s": arrival.rate_per_s * factor})
    return cls.model_copy(update={"arrival": scaled})


def build_requests(
    scenario: Scenario,
    data: ExternalData,
    horizon_s: float,
    rng: np.random.Generator,
    deployment: str | None = None,
    keep_share: float = 1.0,
) -> RequestStream:
    """Requests arriving in [0, horizon_s), time-ordered.

    With `deployment`, only that deployment's share of each class, thinned to `keep_share`
    (a representative sample of its traffic, drawn without generating the rest); without,
    every class, each request assigned a deployment by the class or the routing split.
    """
    deployments = tuple(scenario.deployments)
    class_names = tuple(scenario.workload.classes)
    parts = []
    for index, (name, cls) in enumerate(scenario.workload.classes.items()):
        child = class_rng(rng, name)
        share = 1.0 if deployment is None else class_share(scenario, name, deployment) * keep_share
        if share <= 0.0:
            continue
        drawn, draw_s, start_s = cls, horizon_s, 0.0
        if cls.sessions is not None:  # sessions start at 1/turns of the rate, from the lead on
            drawn = _scaled(cls, 1.0 / cls.sessions.turns_per_session)
            start_s = -lead_s(cls.sessions)
            draw_s = horizon_s - start_s
        times, prompts, outputs, cached, rows = _class_arrivals(
            _scaled(drawn, share), draw_s, child, data, start_s
        )
        if isinstance(cls.arrival, Trace):
            share *= cls.arrival.sample_share
        if isinstance(cls.arrival, Trace) and share < 1.0:
            keep = child.random(len(times)) < share
            times = times[keep]
            prompts, outputs, cached, rows = (
                None if a is None else a[keep] for a in (prompts, outputs, cached, rows)
            )
        n = len(times)
        sessions = np.full(n, -1, dtype=np.int64)
        if cls.sessions is not None:  # the arrivals start sessions: their turns are the requests
            assert cls.prompt_tokens is not None and cls.output_tokens is not None
            turns = cls.sessions.turns_per_session
            new = sample_tokens(cls.prompt_tokens, n * turns, child, data.empirical)
            out = sample_tokens(cls.output_tokens, n * turns, child, data.empirical)
            expanded = expand_sessions(times, cls.sessions, new, out, horizon_s)
            times, sessions = expanded.time_s, expanded.session
            prompts, outputs = expanded.prompt_tokens, expanded.output_tokens
            cached = np.floor(prompts * cls.cached_prefix_share).astype(np.int64)
            n = len(times)
        if prompts is None or outputs is None or cached is None:
            assert cls.prompt_tokens is not None and cls.output_tokens is not None
            prompts = sample_tokens(cls.prompt_tokens, n, child, data.empirical)
            outputs = sample_tokens(cls.output_tokens, n, child, data.empirical)
            cached = np.floor(prompts * cls.cached_prefix_share).astype(np.int64)
        if rows is None:
            rows = np.full(n, -1, dtype=np.int64)
        if deployment is None:
            target = _deployment_indices(scenario, name, cls, n, deployments, child)
        else:
            target = np.full(n, deployments.index(deployment), dtype=np.int64)
        index_col = np.full(n, index, dtype=np.int64)
        parts.append((times, prompts, outputs, cached, index_col, target, rows, sessions))
    if not parts:
        empty_f = np.zeros(0, dtype=np.float64)
        empty_i = np.zeros(0, dtype=np.int64)
        return RequestStream(
            empty_f, empty_i, empty_i, empty_i, empty_i, empty_i, class_names, deployments,
            empty_i, empty_i,
        )  # fmt: skip
    merged = [np.concatenate([p[i] for p in parts]) for i in range(8)]
    order = np.argsort(merged[0], kind="stable")
    return RequestStream(
        merged[0][order].astype(np.float64),
        merged[1][order].astype(np.int64),
        merged[2][order].astype(np.int64),
        merged[3][order].astype(np.int64),
        merged[4][order].astype(np.int64),
        merged[5][order].astype(np.int64),
        class_names,
        deployments,
        merged[6][order].astype(np.int64),
        merged[7][order].astype(np.int64),
    )


def expected_requests(
    scenario: Scenario, data: ExternalData, horizon_s: float, deployment: str
) -> float:
    """How many requests `deployment` should expect over the horizon (before sampling)."""
    return math.fsum(expected_class_requests(scenario, data, horizon_s, deployment).values())


def _served_classes(
    scenario: Scenario, deployment: str
) -> list[tuple[str, Poisson | Bursty | Diurnal | Trace, float]]:
    """(class name, its arrival process, the share of it `deployment` serves), share > 0."""
    out = []
    for name, cls in scenario.workload.classes.items():
        share = class_share(scenario, name, deployment)
        if share > 0:
            out.append((name, cls.arrival, share))
    return out


def replay_times_s(arrival: Trace, data: ExternalData, horizon_s: float) -> NDArray[np.float64]:
    """A trace's replayed arrival times in [0, horizon_s), shaped (before sampling)."""
    return replay(arrival, data.traces[arrival.path], horizon_s).times_s


def expected_class_requests(
    scenario: Scenario, data: ExternalData, horizon_s: float, deployment: str
) -> dict[str, float]:
    """Per class, the requests `deployment` should expect from it over the horizon."""
    out: dict[str, float] = {}
    for name, arrival, share in _served_classes(scenario, deployment):
        if isinstance(arrival, Trace):
            times = replay_times_s(arrival, data, horizon_s)
            out[name] = share * arrival.sample_share * float(len(times))
        else:
            out[name] = share * mean_rate_per_s(arrival, data) * horizon_s
    return out


def expected_interval_rates(
    scenario: Scenario, data: ExternalData, horizon_s: float, interval_s: float, deployment: str
) -> list[float]:
    """Requests per second `deployment` should expect in each interval of the horizon, from
    the arrival models themselves (no draw): steady rates, a diurnal profile averaged over the
    interval, a trace's own counts. What an autoscaler following the demand sees."""
    count = max(1, math.ceil(horizon_s / interval_s))
    edges = np.minimum(np.arange(count + 1) * interval_s, horizon_s)
    widths = np.diff(edges)
    rates = np.zeros(count, dtype=np.float64)
    for _, arrival, share in _served_classes(scenario, deployment):
        if isinstance(arrival, Trace):
            times = replay_times_s(arrival, data, horizon_s)
            counts, _ = np.histogram(times, bins=edges)
            rates += share * arrival.sample_share * counts / np.where(widths > 0, widths, 1.0)
        elif isinstance(arrival, Diurnal):
            rates += share * np.asarray(
                [_diurnal_mean(arrival, a, b) for a, b in itertools.pairwise(edges)]
            )
        else:
            rates += share * arrival.rate_per_s
    return [float(r) for r in rates]


def _diurnal_mean(arrival: Diurnal, start_s: float, end_s: float) -> float:
    """The profile's mean rate over [start_s, end_s) (it is constant within each hour)."""
    if end_s <= start_s:
        return 0.0
    bounds = (
        np.arange(math.floor(start_s / SECONDS_PER_HOUR), math.ceil(end_s / SECONDS_PER_HOUR) + 1)
        * SECONDS_PER_HOUR
    )
    bounds = np.clip(bounds, start_s, end_s)
    spans = np.diff(bounds)
    rates = diurnal_rate_per_s(arrival, bounds[:-1])
    return float(np.sum(rates * spans) / (end_s - start_s))


def _deployment_indices(
    scenario: Scenario,
    class_name: str,
    cls: RequestClass,
    n: int,
    deployments: tuple[str, ...],
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    if cls.deployment is not None:
        return np.full(n, deployments.index(cls.deployment), dtype=np.int64)
    routing = scenario.routing
    if routing is None:
        return np.zeros(n, dtype=np.int64)  # validation ensured a single deployment
    if routing.strategy is RouterKind.CASCADE:  # each request starts on the first model
        return np.full(n, deployments.index(routing.order[0]), dtype=np.int64)
    served = plan_routes(scenario).served_per_request
    names = list(served)
    shares = np.asarray([served[k] for k in names], dtype=np.float64)
    picks = rng.choice(len(names), size=n, p=shares / shares.sum())
    lookup = np.asarray([deployments.index(k) for k in names], dtype=np.int64)
    return lookup[picks]
