"""Long analyses say early how long they will take, and warn past ten minutes."""

from __future__ import annotations

from infersim.analysis.execute import LONG_RUN_S, _Tally, estimate_line


def test_the_estimate_scales_the_time_so_far_to_every_point() -> None:
    assert estimate_line(10, 100, "samples", 30.0) == (
        "10 of 100 samples in 30 s: about 5 min in total"
    )


def test_a_run_over_ten_minutes_is_a_warning_with_the_fix() -> None:
    line = estimate_line(5, 100, "points", LONG_RUN_S / 10)
    assert line.startswith("warning: 5 of 100 points in 60 s: about 20 min in total, over 10 min")
    assert "--jobs N" in line


def test_the_tally_estimates_once_after_the_first_few_points() -> None:
    heard: list[str] = []
    tally = _Tally(100, "samples", None, heard.append)
    for _ in range(4):
        tally.add(1)  # 5% of 100 is 5 points: not yet
    assert heard == []
    for _ in range(10):
        tally.add(1)
    assert len(heard) == 1 and heard[0].startswith("5 of 100 samples in ")
    finished = _Tally(3, "runs", None, heard.append)
    finished.add(3)  # all done at once: nothing left to estimate
    assert len(heard) == 1
