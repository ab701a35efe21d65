"""The HTML report draws the value chain as a waterfall from revenue to what the provider
keeps, one bar per line that is not zero."""

from __future__ import annotations

from infersim.economics.value_chain import SHORT_LABELS
from infersim.report.sections import run_sections


def test_value_chain_waterfall_in_the_summary() -> None:
    shares = {who: {"usd_per_month": 0.0, "share": 0.0} for who in SHORT_LABELS}
    shares["gpu_vendor_margin"] = {"usd_per_month": 30.0, "share": 0.3}
    shares["cloud_markup"] = {"usd_per_month": 20.0, "share": 0.2}
    shares["provider_operating_margin"] = {"usd_per_month": 50.0, "share": 0.5}
    run = {
        "scenario": "vc",
        "pnl": {"revenue_usd": 100.0},
        "value_chain": {"revenue_usd": 100.0, "shares": shares},
    }
    [summary, *_] = run_sections({"runs": [run]})
    titles = [chart.title for chart in summary.charts]
    assert "vc: who earns each dollar a user pays, month 1" in titles
    chart = summary.charts[titles.index("vc: who earns each dollar a user pays, month 1")]
    assert "vendor" in chart.svg and "cloud" in chart.svg and "power" not in chart.svg


def test_no_value_chain_no_chart() -> None:
    [summary, *_] = run_sections({"runs": [{"scenario": "x", "pnl": {"revenue_usd": 1.0}}]})
    assert all("who earns" not in chart.title for chart in summary.charts)
