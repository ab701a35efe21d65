"""The workload: request classes (arrivals and token lengths) and user populations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from infersim.catalog.types import Strict
from infersim.scenario.fields import (
    Count,
    Fraction,
    GrowthPerMonth,
    Name,
    PositiveSeconds,
    RatePerS,
    Tokens,
    TokensFloat,
)

FilePath = Annotated[str, Field(min_length=1, max_length=500, description="relative to the file")]

# ---------------------------------------------------------------------------------------------
# Arrival processes
# ---------------------------------------------------------------------------------------------


class Poisson(Strict):
    process: Literal["poisson"]
    rate_per_s: RatePerS


class Bursty(Strict):
    """Gamma inter-arrival times with a coefficient of variation (cv = 1 is Poisson)."""

    process: Literal["bursty"]
    rate_per_s: RatePerS
    cv: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


class Diurnal(Strict):
    """A 24-hour profile: the hourly rate is mean_rate_per_s x hourly_weights[h] / mean(weights)."""

    process: Literal["diurnal"]
    mean_rate_per_s: RatePerS
    hourly_weights: Annotated[
        list[Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]],
        Field(min_length=24, max_length=24),
    ]

    @model_validator(mode="after")
    def _some_traffic(self) -> Diurnal:
        if sum(self.hourly_weights) <= 0:
            raise ValueError("hourly_weights are all zero")
        return self


class TraceColumns(Strict):
    """Which CSV columns hold a trace's fields, for a file in no published format."""

    timestamp: str = Field(min_length=1, max_length=200)
    prompt_tokens: str = Field(min_length=1, max_length=200)
    output_tokens: str = Field(min_length=1, max_length=200)
    timestamp_unit: Literal["s", "ms", "datetime"] = "s"
    label: str | None = Field(default=None, max_length=200, description="a class label column")


TraceFormatName = Literal["csv", "jsonl", "azure", "mooncake", "burstgpt"]
Seconds = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class Trace(Strict):
    """Replay a trace file in its published format (detected from the header or keys, or
    named): infersim CSV/JSONL (timestamp_s, prompt_tokens, output_tokens), Azure LLM
    inference, Mooncake (with prefix block hashes), BurstGPT, or any CSV through `columns`.

    The replay can be shaped: a window of the trace (`start_s`, `duration_s`, from its first
    request), a speed-up (`rate_scale`, or `time_scale` that stretches time) or a
    `target_rate_per_s`, a random share of requests (`sample_share`), and `loop` to repeat
    the window until the simulated horizon is filled."""

    process: Literal["trace"]
    path: FilePath
    format: TraceFormatName | None = Field(
        default=None,
        description="azure/mooncake/burstgpt: the published format; csv/jsonl: that container, "
        "its columns detected from the header or keys; none = both detected",
    )
    columns: TraceColumns | None = Field(default=None, description="a CSV's own column names")
    label: str | None = Field(
        default=None,
        max_length=200,
        description="replay only rows with this class label (BurstGPT: the Model column)",
    )
    time_scale: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 1.0
    rate_scale: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] | None = None
    target_rate_per_s: RatePerS | None = None
    start_s: Seconds = 0.0
    duration_s: Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)] | None = None
    loop: bool = Field(default=False, description="repeat the window to fill the horizon")
    sample_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    hash_block_tokens: Tokens = Field(
        default=512, description="tokens per prefix block hash (Mooncake: 512)"
    )

    @model_validator(mode="after")
    def _one_speed(self) -> Trace:
        given = [
            name
            for name, on in (
                ("time_scale", self.time_scale != 1.0),
                ("rate_scale", self.rate_scale is not None),
                ("target_rate_per_s", self.target_rate_per_s is not None),
            )
            if on
        ]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of time_scale, rate_scale, target_rate_per_s; "
                f"got {', '.join(given)}"
            )
        if self.columns is not None and self.format not in (None, "csv"):
            raise ValueError(f"columns maps a CSV's own columns; remove format {self.format!r}")
        return self


Arrival = Annotated[Poisson | Bursty | Diurnal | Trace, Field(discriminator="process")]

# ---------------------------------------------------------------------------------------------
# Token-length distributions
# ---------------------------------------------------------------------------------------------


class Fixed(Strict):
    dist: Literal["fixed"]
    tokens: Tokens


class Uniform(Strict):
    dist: Literal["uniform"]
    low_tokens: Tokens
    high_tokens: Tokens

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low_tokens > self.high_tokens:
            raise ValueError(f"low_tokens {self.low_tokens} exceeds high_tokens {self.high_tokens}")
        return self


class Lognormal(Strict):
    """Given by its mean or median (p50), and its spread (sigma of the log, or p99)."""

    dist: Literal["lognormal"]
    mean_tokens: TokensFloat | None = None
    p50_tokens: TokensFloat | None = None
    p99_tokens: TokensFloat | None = None
    sigma: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] | None = None
    max_tokens: Tokens | None = Field(default=None, description="truncate draws above this")

    @model_validator(mode="after")
    def _determined(self) -> Lognormal:
        if (self.mean_tokens is None) == (self.p50_tokens is None):
            raise ValueError("give exactly one of mean_tokens or p50_tokens")
        if (self.sigma is None) == (self.p99_tokens is None):
            raise ValueError("give exactly one of sigma or p99_tokens")
        if self.p99_tokens is not None:
            if self.p50_tokens is None:
                raise ValueError("p99_tokens goes with p50_tokens")
            if self.p99_tokens <= self.p50_tokens:
                raise ValueError("p99_tokens must exceed p50_tokens")
        return self


class Empirical(Strict):
    """Draw from the values in a file (one integer a line, or a CSV column)."""

    dist: Literal["empirical"]
    path: FilePath
    column: str | None = None


TokenDist = Annotated[Fixed | Uniform | Lognormal | Empirical, Field(discriminator="dist")]


#: Tokens per prefix block of a multi-turn session's hashes: the block size of the published
#: traces with block hashes (Mooncake's hash_ids, 512 tokens), so sessions and traces share
#: one cache.
SESSION_BLOCK_TOKENS = 512


class Sessions(Strict):
    """Multi-turn sessions: each turn's prompt is the session's context so far (every earlier
    turn's prompt tokens and output) plus the turn's new prompt tokens."""

    turns_per_session: Annotated[int, Field(ge=1, le=1000, strict=True)] = Field(
        description="turns of each session"
    )
    think_time_s: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = Field(
        description="seconds between a turn's arrival and the next turn's (open loop: the "
        "next turn does not wait for the previous answer)"
    )


class RequestClass(Strict):
    """A kind of request (chat, agentic coding, batch summarization...)."""

    arrival: Arrival
    prompt_tokens: TokenDist | None = Field(default=None, description="none with a trace")
    output_tokens: TokenDist | None = Field(default=None, description="none with a trace")
    deployment: Name | None = Field(
        default=None, description="where it is served; none = the routing, or the only one"
    )
    cached_prefix_share: Fraction = Field(
        default=0.0, description="share of prompt tokens that hit the prefix cache"
    )
    batch_api: bool = Field(
        default=False,
        description="billed in the batch tier (a class with deadline_s always is): its API "
        "deployment's batch price, and its API product's",
    )
    priority: Annotated[int, Field(ge=-1000, le=1000, strict=True)] = Field(
        default=0,
        description="scheduling priority on its replicas: higher is admitted first and may "
        "preempt lower (equal priorities: first come, first served)",
    )
    deadline_s: PositiveSeconds | None = Field(
        default=None,
        description="a batch (offline) class: each request must finish within this many "
        "seconds of its arrival instead of meeting the latency SLO; it is served below every "
        "interactive class (by its own priority among batch classes) and preempted by them",
    )
    sessions: Sessions | None = Field(
        default=None,
        description="multi-turn sessions: the arrival process gives requests (turns) per "
        "second, sessions start at that rate / turns_per_session; prompt_tokens is each "
        "turn's new tokens, its prompt the context so far plus them (block hashes of "
        f"{SESSION_BLOCK_TOKENS} tokens for the prefix cache)",
    )

    @model_validator(mode="after")
    def _lengths(self) -> RequestClass:
        given = [k for k in ("prompt_tokens", "output_tokens") if getattr(self, k) is not None]
        if isinstance(self.arrival, Trace) and self.sessions is not None:
            raise ValueError(
                "sessions not used with arrival 'trace' (the trace gives each request's "
                "prompt and its block hashes): remove sessions"
            )
        if isinstance(self.arrival, Trace):
            if given:
                raise ValueError(
                    f"{' and '.join(given)} not used with arrival 'trace' (the trace gives "
                    "each request's lengths): remove them"
                )
        elif len(given) < 2:
            missing = [k for k in ("prompt_tokens", "output_tokens") if k not in given]
            raise ValueError(f"missing {' and '.join(missing)} (needed unless arrival is a trace)")
        return self


# ---------------------------------------------------------------------------------------------
# User populations (economics): usage per user per month is heavy-tailed
# ---------------------------------------------------------------------------------------------


class UsageDist(Strict):
    """Requests per active user per month: lognormal (by mean or median, and sigma or p99)
    or Pareto (by shape alpha and minimum)."""

    dist: Literal["lognormal", "pareto"]
    mean: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)] | None = None
    median: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)] | None = None
    p99: Annotated[float, Field(gt=0, le=1e8, allow_inf_nan=False)] | None = None
    sigma: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] | None = None
    alpha: Annotated[float, Field(gt=1, le=10, allow_inf_nan=False)] | None = None
    minimum: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _determined(self) -> UsageDist:
        if self.dist == "lognormal":
            if (self.mean is None) == (self.median is None):
                raise ValueError("lognormal usage needs exactly one of mean or median")
            if (self.sigma is None) == (self.p99 is None):
                raise ValueError("lognormal usage needs exactly one of sigma or p99")
            if self.p99 is not None and (self.median is None or self.p99 <= self.median):
                raise ValueError("p99 goes with median, and must exceed it")
        elif self.alpha is None or (self.minimum is None) == (self.mean is None):
            raise ValueError("pareto usage needs alpha, and one of minimum or mean")
        return self


class UserPopulation(Strict):
    """Users of one plan (or the free tier) and what they use per month."""

    plan: Name = Field(description="a key of pricing.plans, or 'free'")
    users: Count
    active_share: Fraction = 1.0
    requests_per_user_per_month: UsageDist
    prompt_tokens_per_request: TokensFloat
    output_tokens_per_request: TokensFloat
    cached_prefix_share: Fraction = 0.0
    usage_growth_per_month: GrowthPerMonth = 0.0
    deployment: Name | None = Field(default=None, description="none = routing, or the only one")


class Workload(Strict):
    classes: dict[Name, RequestClass] = Field(default_factory=dict)
    users: dict[Name, UserPopulation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_empty(self) -> Workload:
        if not self.classes and not self.users:
            raise ValueError("a workload needs at least one request class or user population")
        return self
