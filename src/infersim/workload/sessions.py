"""Multi-turn sessions: turns whose prompts carry the session's context so far.

A session of T turns starts at a time the class's arrival process draws (at 1/T of the
class's rate, so the class still gives its rate of requests); turn k arrives (k - 1) x
think_time_s later, its prompt all earlier turns' new prompt tokens and outputs plus its own
new tokens. Sessions start from (T - 1) x think_time_s before the window on (a diurnal
profile's rate then is the previous day's), and the turns inside the window are kept: the
window holds a steady state of sessions in every stage, its request rate the class's.
The prompt of turn k extends turn k - 1's, so each full block of a session's context has
one hash in every turn that holds it (`session_blocks`); a prefix cache finds the earlier
turns' blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infersim.scenario.workload import Sessions, TokenDist
from infersim.workload.lengths import sample_tokens

#: Sessions drawn to measure the share of turn prompts above a threshold (a fixed seed: the
#: same figure every run; sampling error ~1/sqrt of this, well under a cent on a bill).
SHARE_SAMPLE_SESSIONS = 20_000


@dataclass(frozen=True)
class SessionTurns:
    """The turns inside the window, in session order (not time order)."""

    time_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    session: NDArray[np.int64]
    """Per turn, its session's index within the class."""


def lead_s(sessions: Sessions) -> float:
    """How long before the window sessions start (their last turns fall in it)."""
    return (sessions.turns_per_session - 1) * sessions.think_time_s


def expand_sessions(
    starts_s: NDArray[np.float64],
    sessions: Sessions,
    new_tokens: NDArray[np.int64],
    output_tokens: NDArray[np.int64],
    horizon_s: float,
) -> SessionTurns:
    """The turns of sessions starting at `starts_s` (measured from `lead_s` before the
    window), with each turn's new prompt tokens and output (`len(starts_s)` x turns each,
    session by session), that arrive within [0, horizon_s)."""
    turns = sessions.turns_per_session
    n = len(starts_s)
    new = np.asarray(new_tokens, dtype=np.int64).reshape(n, turns)
    out = np.asarray(output_tokens, dtype=np.int64).reshape(n, turns)
    # the context before turn k: every earlier turn's new tokens and output
    prompts = np.cumsum(new, axis=1) + np.cumsum(out, axis=1) - out
    offsets = np.arange(turns, dtype=np.float64) * sessions.think_time_s
    times = (np.asarray(starts_s, dtype=np.float64) - lead_s(sessions))[:, None] + offsets
    ids = np.repeat(np.arange(n, dtype=np.int64), turns).reshape(n, turns)
    keep = (times >= 0.0) & (times < horizon_s)
    return SessionTurns(times[keep], prompts[keep], out[keep], ids[keep])


def session_mean_prompt_tokens(
    new_tokens_mean: float, output_tokens_mean: float, sessions: Sessions
) -> float:
    """A turn's mean prompt, over a session's turns (each stage equally often in the steady
    state): turn k holds k new-token draws and k - 1 outputs, so the mean is
    new x (T + 1) / 2 + output x (T - 1) / 2."""
    turns = sessions.turns_per_session
    return new_tokens_mean * (turns + 1) / 2 + output_tokens_mean * (turns - 1) / 2


def session_blocks(
    prompt_tokens: int, session_key: int, block_tokens: int, ids: dict[tuple[int, ...], int]
) -> list[int]:
    """The block ids of one turn's prompt: full block j of the session's context is the
    same tokens in every turn that holds it, so one id (`ids` keeps them, numbered in order
    of first sight); a partial last block's tokens are a prefix of what later turns hold
    there, so its id is its own (by its length)."""
    full, rest = divmod(prompt_tokens, block_tokens)
    keys: list[tuple[int, ...]] = [(session_key, j) for j in range(full)]
    if rest:
        keys.append((session_key, full, rest))
    return [ids.setdefault(key, len(ids)) for key in keys]


def session_share_of_prompt_above(
    new_tokens: TokenDist,
    output_tokens: TokenDist,
    sessions: Sessions,
    threshold: int,
    empirical: Mapping[str, NDArray[np.int64]],
) -> float:
    """The share of a session class's prompt tokens in turns whose prompt is longer than
    `threshold` (a long-context price tier): each turn's prompt is a sum of draws, with no
    closed form, so it is measured on `SHARE_SAMPLE_SESSIONS` sessions drawn from a fixed
    seed (exact for fixed lengths)."""
    rng = np.random.default_rng(np.random.SeedSequence(0))
    n, turns = SHARE_SAMPLE_SESSIONS, sessions.turns_per_session
    new = sample_tokens(new_tokens, n * turns, rng, empirical).reshape(n, turns)
    out = sample_tokens(output_tokens, n * turns, rng, empirical).reshape(n, turns)
    prompts = (np.cumsum(new, axis=1) + np.cumsum(out, axis=1) - out).astype(np.float64)
    total = float(prompts.sum())
    return float(prompts[prompts > threshold].sum()) / total if total else 0.0
