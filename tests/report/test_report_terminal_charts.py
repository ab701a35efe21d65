"""Terminal charts: sparklines, bars and the per-user margin histogram, Unicode or plain."""

from __future__ import annotations

import io

import pytest

from infersim.report.terminal_charts import (
    BLOCKS,
    bar,
    bar_column,
    histogram_lines,
    margin_histograms,
    plain_output,
    sparkline,
)

EDGES = [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0]
COUNTS = [5.0, 0.0, 20.0, 400.0, 1000.0]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sparkline_scales_from_lowest_to_highest() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == BLOCKS
    assert sparkline([0, 10], plain=True) == "09"
    assert sparkline([3, 3, 3]) == BLOCKS[3] * 3  # flat: the middle, not empty


def test_sparkline_marks_missing_values() -> None:
    assert sparkline([1.0, None, float("nan"), 2.0]) == "▁--█"
    assert sparkline([None, None], plain=True) == "--"
    assert sparkline([]) == ""


def test_plain_sparkline_is_ascii() -> None:
    assert sparkline([5, -3, 0.5, 1e6], plain=True).isascii()


@pytest.mark.parametrize("plain", [False, True])
def test_bar_fills_its_share_of_the_width(plain: bool) -> None:
    assert len(bar(3, 8, 10, plain=plain)) == 10
    assert bar(8, 8, 4, plain=plain).strip() == ("#" if plain else "█") * 4
    assert bar(0, 8, 4, plain=plain).strip() == ""
    assert bar(None, 8, 4, plain=plain) == "-   "
    assert bar(20, 8, 4, plain=plain).strip() == ("#" if plain else "█") * 4  # clipped


def test_unicode_bar_has_eighths() -> None:
    assert bar(1, 8, 1) == "▏"
    assert bar(4, 8, 1) == "▌"
    assert bar(12, 8 * 2, 2) == "█▌"


@pytest.mark.parametrize("plain", [False, True])
def test_histogram_one_line_per_bin_and_a_breakeven_line(plain: bool) -> None:
    lines = histogram_lines(EDGES, COUNTS, 60, mark=0.0, plain=plain)
    # the two bins below zero hold 0.35% of the users: one tail bin, `<= $0.00`
    assert len(lines) == len(COUNTS) - 1 + 1
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].strip().startswith("<= $0.00")
    mark = [i for i, line in enumerate(lines) if "breakeven" in line]
    assert mark == [1]  # between the tail below zero and the bins above
    assert "$0.00" in lines[1]
    assert lines[-1].endswith("70.2%")  # 1000 of 1425 users
    assert "1,000" in lines[-1]
    if plain:
        assert all(line.isascii() for line in lines)


def test_histogram_shows_a_tail_too_small_for_a_bar() -> None:
    lines = histogram_lines(EDGES, COUNTS, 60, mark=0.0, plain=True)
    assert "|." in lines[0]  # 5 users against a peak of 1,000: still visible
    lines = histogram_lines([0.0, 1.0, 2.0, 3.0], [500.0, 0.0, 500.0], 60, plain=True)
    assert "|." not in lines[1]  # an empty bin stays empty


def test_histogram_first_bin_is_a_tail_with_the_sparse_bins() -> None:
    # 1 + 1 of 1,002 users (0.2%) in the first two bins: one tail, labelled as one
    edges = [-40.0, -30.0, -20.0, -10.0, 0.0, 10.0, 20.0]
    counts = [1.0, 1.0, 0.0, 200.0, 300.0, 500.0]
    lines = histogram_lines(edges, counts, 60, plain=True)
    assert lines[0].strip().startswith("<= -$10.00 |")
    assert lines[0].split()[-2] == "2"
    assert len(lines) == 4
    assert sum(int(line.split()[-2].replace(",", "")) for line in lines) == 1002


def test_histogram_bins_below_the_mark_look_different() -> None:
    lines = histogram_lines([-2.0, -1.0, 1.0], [10.0, 10.0], 40, mark=0.0, plain=True)
    assert "=" in lines[0] and "#" not in lines[0]
    assert "#" in lines[1]


def test_histogram_mark_inside_a_bin_follows_it() -> None:
    lines = histogram_lines([-1.0, 1.0, 3.0], [4.0, 6.0], 50, mark=0.0)
    assert "breakeven" in lines[1]


def test_histogram_mark_outside_the_range_is_left_out() -> None:
    lines = histogram_lines([1.0, 2.0, 3.0], [1.0, 1.0], 50, mark=0.0)
    assert len(lines) == 2 and not any("breakeven" in line for line in lines)


def test_histogram_merges_bins_beyond_max_rows() -> None:
    edges = [float(i) for i in range(41)]
    counts = [1.0] * 40
    lines = histogram_lines(edges, counts, 70, max_rows=10, plain=True)
    assert len(lines) <= 10
    assert lines[0].strip().startswith("<= $1.00 |")  # the tail (2.5% of the users) alone
    assert lines[1].strip().startswith("$1.00..$6.00 |")


def test_histogram_rejects_mismatched_edges() -> None:
    with pytest.raises(ValueError, match="len\\(edges\\)"):
        histogram_lines([0.0, 1.0], [1.0, 2.0], 40)


def test_plain_when_not_a_terminal_or_no_color() -> None:
    assert plain_output(io.StringIO(), environ={}) is True
    assert plain_output(_Tty(), environ={}) is False
    assert plain_output(_Tty(), environ={"NO_COLOR": "1"}) is True
    assert plain_output(_Tty(), environ={"NO_COLOR": ""}) is False  # empty: not set
    assert plain_output(_Tty(), environ={"TERM": "dumb"}) is True
    assert plain_output(None, environ={}) is True


def test_bar_column_scales_to_the_largest_magnitude() -> None:
    assert bar_column([100.0, -50.0, None, 0.0], 4, plain=True) == ["####", "--", "-", ""]
    assert bar_column([100.0, -50.0], 4) == ["████", "░░"]
    assert bar_column([], 4) == []


def test_margin_histograms_from_the_run_json() -> None:
    run = {
        "users": {
            "plus": {
                "share_losing_money": 0.0035,
                "histogram": {"edges_usd": EDGES, "users": COUNTS},
            },
            "broken": {"histogram": {"edges_usd": [0.0], "users": [1.0]}},
            "none": {},
        }
    }
    text = margin_histograms(run, 70, plain=True)
    lines = text.splitlines()
    assert lines[0] == "margin per subscriber of plus, month 1: 0.4% lose money"
    assert len(lines) == 1 + len(COUNTS) - 1 + 1  # the title, tail and bins, the breakeven line
    assert text.isascii() and text.endswith("\n")
    assert margin_histograms({"users": {}}, 70) == ""
