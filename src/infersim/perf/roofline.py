"""The time of one engine iteration on one GPU of a replica, from precomputed coefficients.

An iteration runs two kinds of kernels one after the other, each limited by compute or by
memory traffic, whichever is slower:

- linear layers (projections, MLPs, experts, lm_head): FLOPs 2 x active parameters per
  token, against the bytes of the weights read once per iteration (for an MoE, only the
  experts the batch touches);
- attention: FLOPs that grow with each token's context, against the KV cache read once per
  sequence (decode) or per chunk (prefill) plus the KV of the new tokens written once.

time = max(linear compute, weight reads) + max(attention compute, KV traffic)
       + communication (tensor-parallel all-reduce, expert-parallel all-to-all) + overhead.

Running the two kinds of kernels in sequence, rather than taking one max over their sum, is
what a serving engine does: a large-batch decode step is compute-bound in its GEMMs and
bandwidth-bound in its attention at the same time.

All coefficients are seconds on one GPU (work already divided over the replica's GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are computed: building a model needs none
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]


class Bound(StrEnum):
    COMPUTE = "compute"
    MEMORY = "memory"
    COMMUNICATION = "communication"
    OVERHEAD = "overhead"


@dataclass(frozen=True, slots=True)
class Parts:
    """The terms of one iteration's time, in seconds."""

    linear_compute_s: float
    linear_memory_s: float
    attention_compute_s: float
    attention_memory_s: float
    communication_s: float
    overhead_s: float

    @property
    def total_s(self) -> float:
        linear = max(self.linear_compute_s, self.linear_memory_s)
        attention = max(self.attention_compute_s, self.attention_memory_s)
        return linear + attention + self.communication_s + self.overhead_s


@dataclass(frozen=True, slots=True)
class DecodeTerms:
    """`Roofline.decode_terms`: one decode batch's step time as a function of its context."""

    linear_s: float
    attention_s_per_token: float
    kv_s_per_token: float
    tokens: float
    state_s: float
    comm_s: float
    fixed_s: float


@dataclass(frozen=True, slots=True)
class Roofline:
    """Per-GPU seconds per unit of work, for one model on one replica."""

    linear_s_per_token: float
    """Linear-layer compute per token (lm_head excluded), dequantization included."""
    head_s_per_token: float
    """lm_head compute per token that needs logits (decode tokens; prefill's are neglected)."""
    weights_s: float
    """Reading the always-active weights, lm_head included (not the input embedding)."""
    experts_s: float
    """Reading all the routed experts this GPU holds (0 for a dense model)."""
    expert_miss: float
    """1 - k/E: the chance that one token leaves a given expert untouched (1 when dense)."""
    attn_prefill_s_per_pair: float
    attn_decode_s_per_pair: float
    kv_s_per_token: float
    """Moving one token's KV (all layers) on this GPU, read or write."""
    state_s_per_seq: float
    """Hybrid models: loading and storing one decode sequence's linear-attention state."""
    comm_s_per_token: float
    comm_fixed_s: float
    """Collective latencies per iteration."""
    overhead_s: float

    def scaled(self, factor: float, overhead_s: float) -> Roofline:
        """Every cost times `factor`, with a fixed per-iteration `overhead_s`: a draft whose
        work is `factor` of this model's."""
        values: dict[str, Any] = {
            name: getattr(self, name) * factor
            for name in self.__dataclass_fields__
            if name != "expert_miss"
        }
        values["overhead_s"] = overhead_s
        return replace(self, **values)

    def time_s(
        self, prefill: float, prefill_ctx: float, seqs: float, decode_ctx: float, verify: float
    ) -> float:
        """Seconds for `prefill` new prompt tokens (attending to `prefill_ctx` context tokens
        in all) and `seqs` decode sequences of `decode_ctx` context tokens in all, each
        computing `verify` tokens (1, or gamma + 1 when verifying a draft)."""
        decode = seqs * verify
        tokens = prefill + decode
        if tokens <= 0:
            return 0.0
        linear_c = self.linear_s_per_token * tokens + self.head_s_per_token * decode
        linear_m = self.weights_s + self.experts_s * (1.0 - self.expert_miss**tokens)
        attn_c = (
            self.attn_prefill_s_per_pair * prefill_ctx
            + self.attn_decode_s_per_pair * decode_ctx * verify
        )
        kv = decode_ctx + tokens
        if prefill > 0:
            kv += prefill_ctx / prefill + 0.5 * prefill
        attn_m = self.kv_s_per_token * kv + self.state_s_per_seq * seqs
        linear = linear_c if linear_c > linear_m else linear_m
        attention = attn_c if attn_c > attn_m else attn_m
        return (
            linear
            + attention
            + self.comm_s_per_token * tokens
            + self.comm_fixed_s
            + self.overhead_s
        )

    def times_s(
        self,
        prefill: FloatArray,
        prefill_ctx: FloatArray,
        seqs: FloatArray,
        decode_ctx: FloatArray,
        verify: float,
    ) -> FloatArray:
        """`time_s` over arrays of iteration states (broadcast together)."""
        import numpy as np

        decode = seqs * verify
        tokens = prefill + decode
        linear_c = self.linear_s_per_token * tokens + self.head_s_per_token * decode
        linear_m = self.weights_s + self.experts_s * (1.0 - np.power(self.expert_miss, tokens))
        attn_c = (
            self.attn_prefill_s_per_pair * prefill_ctx
            + (self.attn_decode_s_per_pair * verify) * decode_ctx
        )
        safe = np.maximum(prefill, 1.0)
        chunk_reads = np.where(prefill > 0, prefill_ctx / safe + 0.5 * prefill, 0.0)
        attn_m = self.kv_s_per_token * (decode_ctx + tokens + chunk_reads)
        attn_m = attn_m + self.state_s_per_seq * seqs
        total = (
            np.maximum(linear_c, linear_m)
            + np.maximum(attn_c, attn_m)
            + self.comm_s_per_token * tokens
            + (self.comm_fixed_s + self.overhead_s)
        )
        result: FloatArray = np.where(tokens > 0, total, 0.0)
        return result

    def decode_terms(self, seqs: float, verify: float) -> DecodeTerms:
        """The constants of `times_s` for decode-only iterations of `seqs` sequences, so that a
        step of context `ctx` takes, bit for bit as `times_s` computes it,
        ((linear + max(attention * ctx, kv * (ctx + tokens) + state)) + comm) + fixed."""
        import numpy as np

        decode = float(seqs) * verify
        tokens = 0.0 + decode
        linear_c = self.linear_s_per_token * tokens + self.head_s_per_token * decode
        # np.power, as times_s takes it: its float64 loop may round unlike libm's pow
        miss = float(np.power(self.expert_miss, np.float64(tokens)))
        linear_m = self.weights_s + self.experts_s * (1.0 - miss)
        return DecodeTerms(
            linear_s=linear_c if linear_c > linear_m else linear_m,
            attention_s_per_token=self.attn_decode_s_per_pair * verify,
            kv_s_per_token=self.kv_s_per_token,
            tokens=tokens,
            state_s=self.state_s_per_seq * float(seqs),
            comm_s=self.comm_s_per_token * tokens,
            fixed_s=self.comm_fixed_s + self.overhead_s,
        )

    def parts(
        self, prefill: float, prefill_ctx: float, seqs: float, decode_ctx: float, verify: float
    ) -> Parts:
        """The terms of `time_s` (all zero for an empty iteration)."""
        decode = seqs * verify
        tokens = prefill + decode
        if tokens <= 0:
            return Parts(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        chunk_reads = prefill_ctx / prefill + 0.5 * prefill if prefill > 0 else 0.0
        return Parts(
            linear_compute_s=self.linear_s_per_token * tokens + self.head_s_per_token * decode,
            linear_memory_s=self.weights_s + self.experts_s * (1.0 - self.expert_miss**tokens),
            attention_compute_s=self.attn_prefill_s_per_pair * prefill_ctx
            + self.attn_decode_s_per_pair * decode_ctx * verify,
            attention_memory_s=self.kv_s_per_token * (decode_ctx + tokens + chunk_reads)
            + self.state_s_per_seq * seqs,
            communication_s=self.comm_s_per_token * tokens + self.comm_fixed_s,
            overhead_s=self.overhead_s,
        )
