"""Benchmark reading and replaying traces in their published formats.

    python benchmarks/bench_trace.py           # Azure end to end, then 1M-row CSV and JSONL
    python benchmarks/bench_trace.py --quick   # a smoke run: 100k rows

Targets: loading and replaying the Azure conversation trace (19,366 requests,
configs/traces/azure-conv-replay.yaml, its load, validation and serving simulation) in
<= 2 CPU-s; a 1M-row trace (Azure format, generated in a temporary directory) loaded in
<= 3 CPU-s and <= 300 MB. Each case runs in a fresh process: its CPU time is the process's
user + system time for that work only, and its memory the growth of the process's peak
resident set (VmHWM) while loading (the interpreter and imports excluded, reported beside it).
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURE_SCENARIO = ROOT / "configs" / "traces" / "azure-conv-replay.yaml"
TARGET_AZURE_CPU_S, TARGET_1M_CPU_S, TARGET_1M_MB = 2.0, 3.0, 300.0

AZURE_CHILD = """
import json, resource, sys, time
from pathlib import Path
from infersim.scenario.load import load_scenario
from infersim.serving.simulate import simulate
from infersim.workload.trace import load_external_data
path = Path(sys.argv[1])
start = time.process_time()
loaded = load_scenario(path)
data = load_external_data(loaded.scenario, loaded.base_dir)
loaded_s = time.process_time() - start
result = simulate(loaded.scenario, catalog=loaded.catalog, data=data)
cpu = time.process_time() - start
d = result.deployments[0]
print(json.dumps({"cpu_s": cpu, "load_cpu_s": loaded_s, "requests": d.simulated_requests}))
"""

LOAD_CHILD = """
import json, sys, time
from pathlib import Path
from infersim.workload.trace import read_trace
def hwm_kb():  # this process's peak resident set (ru_maxrss may carry the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before_kb = hwm_kb()
start = time.process_time()
trace = read_trace(Path(sys.argv[1]), None)
cpu = time.process_time() - start
peak_kb = hwm_kb()
print(json.dumps({"cpu_s": cpu, "rows": len(trace.times_s), "base_mb": before_kb / 1024,
                  "peak_mb": peak_kb / 1024, "growth_mb": (peak_kb - before_kb) / 1024}))
"""


def child(code: str, *args: str) -> dict[str, float]:
    # -c keeps the child free of this script's imports: its figures are the work alone
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def write_azure_csv(path: Path, rows: int) -> None:
    """`rows` requests in the Azure 2023 format (7-decimal datetimes), one hour apart at most."""
    import numpy as np

    rng = np.random.default_rng(1)
    gaps_ns = rng.exponential(0.2e9, size=rows).astype(np.int64)
    stamps = np.datetime64("2023-11-16T18:00:00", "ns") + np.cumsum(gaps_ns)
    text = np.datetime_as_string(stamps, unit="ns")
    context = rng.integers(1, 14_000, size=rows)
    generated = rng.integers(1, 1_000, size=rows)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for stamp, c, g in zip(text, context.tolist(), generated.tolist(), strict=True):
            handle.write(f"{stamp[:10]} {stamp[11:26]},{c},{g}\n")


def write_mooncake_jsonl(path: Path, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(2)
    times = np.cumsum(rng.exponential(250.0, size=rows)).astype(np.int64)
    with path.open("w", encoding="utf-8") as handle:
        for i, t in enumerate(times.tolist()):
            blocks = list(range(i % 1000, i % 1000 + 4))
            handle.write(json.dumps({"timestamp": t, "input_length": 2000, "output_length": 100,
                                     "hash_ids": blocks}) + "\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows instead of 1M")
    args = parser.parse_args()
    rows = 100_000 if args.quick else 1_000_000

    azure = child(AZURE_CHILD, str(AZURE_SCENARIO))
    verdict = "meets" if azure["cpu_s"] <= TARGET_AZURE_CPU_S else "MISSES"
    print(
        f"Azure conversation trace, load + replay ({azure['requests']:,.0f} requests): "
        f"{azure['cpu_s']:.2f} CPU-s (load {azure['load_cpu_s']:.2f}); "
        f"target <= {TARGET_AZURE_CPU_S} CPU-s: {verdict}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, writer in (
            ("azure.csv", write_azure_csv),
            ("mooncake.jsonl", write_mooncake_jsonl),
        ):
            path = Path(tmp) / name
            writer(path, rows)
            got = child(LOAD_CHILD, str(path))
            size_mb = path.stat().st_size / 1e6
            ok = got["cpu_s"] <= TARGET_1M_CPU_S and got["growth_mb"] <= TARGET_1M_MB
            target = f"targets <= {TARGET_1M_CPU_S} CPU-s, <= {TARGET_1M_MB:.0f} MB"
            print(
                f"{name} {got['rows']:,.0f} rows ({size_mb:,.0f} MB file): load "
                f"{got['cpu_s']:.2f} CPU-s, memory +{got['growth_mb']:,.0f} MB over "
                f"{got['base_mb']:,.0f} MB (peak {got['peak_mb']:,.0f} MB); "
                f"{target}{'' if rows == 1_000_000 else ' (for 1M rows)'}: "
                f"{'meets' if ok else 'MISSES'}"
            )


if __name__ == "__main__":
    main()
