"""Every figure the README's claims table quotes comes from a run: each row's figures are
computed here from its scenario, formatted as the README prints them, and must appear in the
row. Change a scenario or the model, and this test says which README line to update."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from infersim.pipeline.run import RunResult, run_scenario
from infersim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def run(path: str, variant: str | None = None) -> RunResult:
    loaded = load_scenario(ROOT / path, variant)
    return run_scenario(loaded.scenario, loaded.catalog)


def readme_rows() -> dict[str, str]:
    """The claims table's rows, by the scenario path they name."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The article's claims as scenarios", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        found = re.match(r"\| [^|]+ \| `([^`]+)` \| (.+) \|$", line)
        if found:
            rows[found.group(1)] = found.group(2)
    return rows


def pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def saving(path: str, variant: str | None, baseline: str | None = None) -> float:
    """1 - cost(variant) / cost(baseline), the first month's whole cost of serving."""
    cost = run(path, variant).first_month.table.total.cost_usd
    return 1.0 - cost / run(path, baseline).first_month.table.total.cost_usd


def s1() -> list[str]:
    spent = run("configs/claims/s1-openai-2025.yaml").first_month.pnl.spent_per_revenue_usd
    assert spent is not None
    return [f"{spent:.2f}"]


def s5_heavy_tail() -> list[str]:
    months = run("configs/claims/s5-subscription-heavy-tail.yaml").months
    margins = [m.table.row("plus").gross_margin_usd for m in months]
    flip = next(i for i, m in enumerate(margins) if m < 0)
    return [f"negative in month {flip + 1}"]


def s5_ads() -> list[str]:
    free = run("configs/claims/s5-freemium-ads.yaml").first_month.table.row("free")
    return [f"ads recover {pct(free.revenue_usd / free.cost_usd)}"]


def s8_routing() -> list[str]:
    path = "configs/levers/s8-routing.yaml"
    return [f"-{pct(saving(path, 'split-90-10'))}", f"-{pct(saving(path, 'self-hosted-small'))}"]


def s8_quantization() -> list[str]:
    path = "configs/levers/s8-quantization.yaml"
    return [f"-{pct(saving(path, 'fp8'))}", f"-{pct(saving(path, 'int4-w4a8'))}"]


def s8_speculative() -> list[str]:
    """Median time per output token without speculation over with it, at low load."""
    path = "configs/levers/s8-speculative.yaml"
    tpots = [
        run(path, variant).serving.deployment("main").tpot_s.p50
        for variant in ("low-load-plain", None)
    ]
    plain, speculative = tpots
    assert plain is not None and speculative is not None
    return [f"/{plain / speculative:.1f} at low load"]


def s6() -> list[str]:
    """Of each dollar of the first month's revenue: the GPU vendor's gross margin, the cloud's
    markup over owning the GPUs, and what the provider keeps before training and staff."""
    chain = run("configs/claims/s6-who-earns.yaml").value_chain
    assert chain is not None
    cents = {who: chain.usd(who) / chain.revenue_usd * 100 for who in (
        "gpu_vendor_margin", "cloud_markup", "provider_operating_margin"
    )}  # fmt: skip
    return [
        f"{cents['gpu_vendor_margin']:.1f} cents to Nvidia's margin",
        f"{cents['cloud_markup']:.0f} cents to the cloud's markup",
        f"{cents['provider_operating_margin']:.0f} cents left",
    ]


def s9() -> list[str]:
    (pair,) = run("configs/levers/s9-local-vs-api.yaml").breakevens
    return [f"~{pair.breakeven_mtok_per_month:.0f} Mtok/month"]


def s4() -> list[str]:
    result = run("configs/levers/s4-deepseek.yaml")
    pairs = {b.api: b for b in result.breakevens}
    gpt4o = pairs["gpt-4o"]
    # self-hosted V3's cost per Mtok at the run's volume, against GPT-4o's list price
    own = gpt4o.self_hosted_usd(gpt4o.volume_mtok_per_month) / gpt4o.volume_mtok_per_month
    return [f"{pct(1 - own / gpt4o.api_usd_per_mtok)} below GPT-4o"]


ROWS: dict[str, Callable[[], list[str]]] = {
    "configs/claims/s1-openai-2025.yaml": s1,
    "configs/claims/s5-subscription-heavy-tail.yaml": s5_heavy_tail,
    "configs/claims/s5-freemium-ads.yaml": s5_ads,
    "configs/claims/s6-who-earns.yaml": s6,
    "configs/levers/s8-routing.yaml": s8_routing,
    "configs/levers/s8-quantization.yaml": s8_quantization,
    "configs/levers/s8-speculative.yaml": s8_speculative,
    "configs/levers/s9-local-vs-api.yaml": s9,
    "configs/levers/s4-deepseek.yaml": s4,
}


@pytest.mark.parametrize("path", sorted(ROWS))
def test_the_readme_quotes_what_the_run_says(path: str) -> None:
    rows = readme_rows()
    assert path in rows, f"README's claims table has no row for {path}"
    for figure in ROWS[path]():
        assert figure in rows[path], f"README row for {path} should say {figure!r}: {rows[path]}"
