"""From a fleet's bill and the tokens it served to a per-token cost (what the engine reports).

The provisioned bill (busy and idle hours alike) is split between prompt and output tokens by
the share of busy GPU time spent on prefill: prefill's part over the prompt tokens, decode's
over the output tokens. Cached prompt tokens skip prefill compute; they are charged
`cached_input_relative_cost` of an uncached prompt token (reading their KV cache still costs).
By construction the served tokens priced at these rates cost exactly the bill; any window
works (a simulated hour, a month) as long as the bill and the tokens cover the same one.
"""

from __future__ import annotations

from infersim.economics.errors import InvalidEconomicsInputError
from infersim.economics.inputs import TokenCost


def token_cost_from_fleet(
    deployment: str,
    bill_usd: float,
    input_tokens: float,
    cached_input_tokens: float,
    output_tokens: float,
    prefill_share: float,
    cached_input_relative_cost: float = 0.1,
) -> TokenCost:
    """USD per 1M tokens such that the served tokens cost `bill_usd` (see the module doc).

    Without output tokens, the whole bill goes to prompt tokens, and the other way round;
    without any token, the rates are 0 (the bill is then idle capacity with nothing to carry
    it, and `evaluate_month` reports it as such).
    """
    owner = f"token cost of '{deployment}'"
    if not 0.0 <= prefill_share <= 1.0:
        raise InvalidEconomicsInputError(f"{owner}: prefill_share must be within [0, 1]")
    if not 0.0 <= cached_input_relative_cost <= 1.0:
        raise InvalidEconomicsInputError(
            f"{owner}: cached_input_relative_cost must be within [0, 1]"
        )
    if min(bill_usd, input_tokens, cached_input_tokens, output_tokens) < 0:
        raise InvalidEconomicsInputError(f"{owner}: the bill and token counts must be >= 0")
    prompt_units = (input_tokens - cached_input_tokens) + cached_input_relative_cost * (
        cached_input_tokens
    )
    if prompt_units <= 0 and output_tokens <= 0:
        return TokenCost(deployment, 0.0, 0.0, 0.0, "engine")
    prompt_usd = bill_usd * prefill_share
    if output_tokens <= 0:
        prompt_usd = bill_usd
    elif prompt_units <= 0:
        prompt_usd = 0.0
    per_input = prompt_usd / prompt_units * 1e6 if prompt_units > 0 else 0.0
    per_output = (bill_usd - prompt_usd) / output_tokens * 1e6 if output_tokens > 0 else 0.0
    return TokenCost(
        deployment=deployment,
        usd_per_mtok_input=per_input,
        usd_per_mtok_cached_input=per_input * cached_input_relative_cost,
        usd_per_mtok_output=per_output,
        source="engine",
    )
