"""The planner's search space: which deployments it considers, and the constraints on them.

A `Candidate` is one point of the space (GPU type, tensor and expert parallelism, precision
preset, speculative decoding on or off, chunked prefill, the cap on running sequences,
prefill/decode disaggregation, how GPU-hours are bought); the replica count is not part of
it: verification sizes it to the SLO (a disaggregated candidate's both pools, so the pool
ratio is searched too: `serving.fleet.size_pools`). `candidate_deployment` turns a
candidate into the scenario's deployment with those levers set, everything else (model,
the token budget, prefix caching, quality) kept as the scenario gives it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from infersim.scenario.deployment import (
    ActivationDtype,
    GpuCost,
    KvDtype,
    OwnedGpu,
    Precision,
    RentedGpu,
    SelfHosted,
    SpeculativeDecoding,
    SpeculativeMethod,
    WeightDtype,
)

#: Precision presets the planner searches, by name: weights, KV cache and activations.
#: int4 is weight-only (AWQ/GPTQ, activations in bf16); fp4 is NVFP4 (W4A4, Blackwell).
PRECISIONS: dict[str, Precision] = {
    "bf16": Precision(),
    "fp8": Precision(
        weights=WeightDtype.FP8, kv_cache=KvDtype.FP8, activations=ActivationDtype.FP8
    ),
    "int8": Precision(
        weights=WeightDtype.INT8, kv_cache=KvDtype.FP8, activations=ActivationDtype.INT8
    ),
    "int4": Precision(
        weights=WeightDtype.INT4, kv_cache=KvDtype.FP8, activations=ActivationDtype.BF16
    ),
    "fp4": Precision(
        weights=WeightDtype.FP4, kv_cache=KvDtype.FP8, activations=ActivationDtype.FP4
    ),
}
DEFAULT_PRECISIONS = ("bf16", "fp8", "int4")

#: How GPU-hours are bought: a rental at one of the catalog's quote kinds, or owned (TCO).
PRICINGS = ("on_demand", "spot", "reserved", "owned")

#: Speculative decoding when the scenario's deployment does not configure it: EAGLE with
#: the schema's defaults (4 drafted tokens, acceptance 0.7, the method's draft cost).
DEFAULT_SPECULATIVE = SpeculativeDecoding(method=SpeculativeMethod.EAGLE)


@dataclass(frozen=True)
class Candidate:
    """One deployment configuration; its replica count is sized by verification."""

    gpu: str
    tensor_parallel: int
    expert_parallel: int
    precision: str
    speculative: bool
    chunked_prefill: bool
    max_batch_sequences: int | None
    """The cap on sequences running at once on a replica; None: derived from the replica
    (its KV-cache blocks and token budget, `perf.memory`)."""
    disaggregated: bool
    """Separate prefill and decode pools, both at the candidate's layout, sized pool by pool."""
    pricing: str

    def _order(self) -> tuple[str, int, int, str, bool, bool, int, bool, str]:
        cap = 0 if self.max_batch_sequences is None else self.max_batch_sequences
        return (
            self.gpu, self.tensor_parallel, self.expert_parallel, self.precision,
            self.speculative, self.chunked_prefill, cap, self.disaggregated, self.pricing,
        )  # fmt: skip

    def __lt__(self, other: Candidate) -> bool:
        """The space's order (a derived cap first): the order ties are broken in."""
        return self._order() < other._order()

    def __le__(self, other: Candidate) -> bool:
        return self._order() <= other._order()

    def __gt__(self, other: Candidate) -> bool:
        return self._order() > other._order()

    def __ge__(self, other: Candidate) -> bool:
        return self._order() >= other._order()

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel * self.expert_parallel

    @property
    def label(self) -> str:
        """'h200-sxm tp2 fp8 spec on_demand' (ep, 'no chunked prefill', a set cap on
        running sequences, 'mb64', and 'disagg' only when set)."""
        parts = [self.gpu, f"tp{self.tensor_parallel}"]
        if self.expert_parallel > 1:
            parts.append(f"ep{self.expert_parallel}")
        parts.append(self.precision)
        if self.speculative:
            parts.append("spec")
        if not self.chunked_prefill:
            parts.append("no-chunk")
        if self.max_batch_sequences is not None:
            parts.append(f"mb{self.max_batch_sequences}")
        if self.disaggregated:
            parts.append("disagg")
        parts.append(self.pricing)
        return " ".join(parts)


#: How each constraint is named in messages unless the scenario's `plan:` section gave it.
CONSTRAINT_FLAGS = {
    "max_gpus": "--max-gpus",
    "budget": "--budget",
    "quality": "--max-quality-penalty",
    "no_price": "--pricing",
    "provider": "--provider",
}


@dataclass(frozen=True)
class Constraints:
    """What a plan must respect besides the SLO."""

    max_gpus: int | None = None
    """GPUs in the whole fleet (replicas x GPUs per replica)."""
    budget_usd_per_month: float | None = None
    max_quality_penalty: float | None = None
    given_as: tuple[tuple[str, str], ...] = ()
    """(constraint, name) for those the scenario gave ('budget', 'plan.budget_usd_per_month');
    the others are named by their flag (`CONSTRAINT_FLAGS`)."""

    def named(self, constraint: str) -> str:
        """How messages name a constraint: its flag, or the scenario field that gave it."""
        return dict(self.given_as).get(constraint, CONSTRAINT_FLAGS[constraint])


@dataclass(frozen=True)
class SearchSpace:
    """The values of each lever; the candidates are their product."""

    gpus: tuple[str, ...]
    tensor_parallel: tuple[int, ...]
    expert_parallel: tuple[int, ...]
    precisions: tuple[str, ...]
    speculative: tuple[bool, ...]
    chunked_prefill: tuple[bool, ...]
    max_batch_sequences: tuple[int | None, ...]
    disaggregated: tuple[bool, ...]
    pricing: tuple[str, ...]

    def candidates(self) -> list[Candidate]:
        """Every combination, in a fixed order (sorted): the order ties are broken in."""
        return sorted(
            Candidate(*values)
            for values in itertools.product(
                self.gpus,
                self.tensor_parallel,
                self.expert_parallel,
                self.precisions,
                self.speculative,
                self.chunked_prefill,
                self.max_batch_sequences,
                self.disaggregated,
                self.pricing,
            )
        )


def candidate_cost(base: RentedGpu | OwnedGpu, base_gpu: str, candidate: Candidate) -> GpuCost:
    """How the candidate's GPU-hours are bought. A price the scenario states explicitly
    (usd_per_gpu_hour, purchase_usd_per_gpu) is the price of the scenario's GPU: it carries
    over to candidates on that GPU bought the same way; other GPUs take the catalog's."""
    same_gpu = candidate.gpu == base_gpu
    if candidate.pricing == "owned":
        if isinstance(base, OwnedGpu):
            return base if same_gpu else base.model_copy(update={"purchase_usd_per_gpu": None})
        return OwnedGpu(kind="owned")
    if isinstance(base, RentedGpu) and base.pricing == candidate.pricing and same_gpu:
        return base
    return RentedGpu(pricing=candidate.pricing)  # one of PRICINGS


def candidate_deployment(
    base: SelfHosted, base_cost: RentedGpu | OwnedGpu, candidate: Candidate
) -> SelfHosted:
    """The scenario's deployment with the candidate's levers set (replicas left as they are:
    verification sizes them)."""
    base_gpu = base.gpu if isinstance(base.gpu, str) else base.gpu.id
    speculative = None
    if candidate.speculative:
        speculative = base.speculative or DEFAULT_SPECULATIVE
    gpu = base.gpu if candidate.gpu == base_gpu else candidate.gpu  # an inline GPU stays
    return base.model_copy(
        update={
            "gpu": gpu,
            "tensor_parallel": candidate.tensor_parallel,
            "expert_parallel": candidate.expert_parallel,
            "precision": PRECISIONS[candidate.precision],
            "speculative": speculative,
            "chunked_prefill": candidate.chunked_prefill,
            "max_batch_sequences": candidate.max_batch_sequences,
            "cost": candidate_cost(base_cost, base_gpu, candidate),
        }
    )
