"""Benchmark the command line's start-up: CPU seconds of short commands, run as subprocesses.

    python benchmarks/bench_cli.py             # median of 7 runs each
    python benchmarks/bench_cli.py --runs 15

Targets: `infersim --version` <= 0.25 CPU-s, `infersim validate` of one file <= 0.5 CPU-s
(user + system time of the child, from `resource.getrusage(RUSAGE_CHILDREN)`; wall time
depends too much on what else the machine runs).

The children run with bytecode caching on (`PYTHONDONTWRITEBYTECODE` removed from their
environment), as an installed package runs: the first run writes the `.pyc` files, the
measured runs load them. Otherwise each module edited since its last `.pyc` would be
compiled from source in every run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The children's environment: this one, with bytecode caching on.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

#: label -> (arguments after `python -m infersim`, target CPU seconds)
COMMANDS: dict[str, tuple[list[str], float]] = {
    "infersim --version": (["--version"], 0.25),
    "infersim validate configs/chat-70b-h100.yaml": (
        ["validate", str(ROOT / "configs" / "chat-70b-h100.yaml")],
        0.5,
    ),
}


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_s(args: list[str]) -> float:
    """CPU seconds (user + system) of one `python -m infersim ARGS` run."""
    before = children_cpu_s()
    subprocess.run(
        [sys.executable, "-m", "infersim", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=CHILD_ENV,
    )
    return children_cpu_s() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Runs per command (median).")
    runs = parser.parse_args().runs
    for label, (args, target_s) in COMMANDS.items():
        cpu_s(args)  # warm the bytecode cache
        samples = [cpu_s(args) for _ in range(runs)]
        median = statistics.median(samples)
        verdict = "ok" if median <= target_s else "over target"
        print(
            f"{label:48s} median {median:.3f} CPU-s  (min {min(samples):.3f}, "
            f"max {max(samples):.3f}; target <= {target_s} s: {verdict})"
        )


if __name__ == "__main__":
    main()
