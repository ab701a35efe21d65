"""Small planning problems: an 8B chat workload, a few GPUs, seconds of simulated time."""

from __future__ import annotations

from pathlib import Path

import yaml

from infersim.planner.problem import PlanProblem, prepare_problem
from infersim.planner.space import Constraints, SearchSpace
from infersim.scenario.load import LoadedScenario, load_scenario
from infersim.workload.trace import ExternalData

SMALL_GPUS = ("a100-sxm-80gb", "h100-sxm", "l40s")


def small_document(
    rate_per_s: float = 3.0,
    ttft_s: float = 1.0,
    tpot_s: float = 0.04,
    prompt_p50: int = 400,
    output_p50: int = 120,
    seed: int = 5,
) -> dict[str, object]:
    return {
        "name": "plan-small",
        "seed": seed,
        "deployments": {"main": {"model": "llama-3.1-8b", "gpu": "h100-sxm"}},
        "fleet": {
            "slo": {"ttft_p99_s": ttft_s, "tpot_p99_s": tpot_s},
            "replications": 1,
            "max_simulated_requests": 600,
        },
        "workload": {
            "classes": {
                "chat": {
                    "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
                    "prompt_tokens": {
                        "dist": "lognormal", "p50_tokens": prompt_p50,
                        "p99_tokens": prompt_p50 * 8,
                    },
                    "output_tokens": {
                        "dist": "lognormal", "p50_tokens": output_p50,
                        "p99_tokens": output_p50 * 6,
                    },
                }
            }
        },
        "costs": {"gpu": {"kind": "rented", "pricing": "on_demand"}},
        "horizon": {"simulated_s": 200, "months": 1},
    }  # fmt: skip


def write_scenario(path: Path, document: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def small_problem(tmp_path: Path, **kwargs: float) -> tuple[LoadedScenario, PlanProblem]:
    file = write_scenario(tmp_path / "small.yaml", small_document(**kwargs))  # type: ignore[arg-type]
    loaded = load_scenario(file)
    return loaded, prepare_problem(loaded.scenario, loaded.catalog, ExternalData(), "main")


def small_space(
    gpus: tuple[str, ...] = SMALL_GPUS,
    precisions: tuple[str, ...] = ("bf16", "fp8"),
    speculative: tuple[bool, ...] = (False,),
    max_batch_sequences: tuple[int | None, ...] = (None,),
    disaggregated: tuple[bool, ...] = (False,),
) -> SearchSpace:
    return SearchSpace(
        gpus=gpus,
        tensor_parallel=(1, 2),
        expert_parallel=(1,),
        precisions=precisions,
        speculative=speculative,
        chunked_prefill=(True,),
        max_batch_sequences=max_batch_sequences,
        disaggregated=disaggregated,
        pricing=("on_demand",),
    )


NO_CONSTRAINTS = Constraints()
