"""Speed of `sclust simulate` on the largest traces at 1024 nodes (issue 15 item 6: RICC,
447,794 jobs, at 1024 nodes in ≤ 60 s).

Run: python bench/bench_simulate_speed.py [--trace PATH ...] [--nodes 1024]
The real RICC log (RICC-2010-2 of the Parallel Workloads Archive) is used when it is in
`../shared/traces/`; it is not on this machine (no internet but PyPI/Debian), so the bench
writes a synthetic trace with RICC's published shape (`synthetic_ricc.py`: 447,794 jobs,
5 months, 1024 nodes × 8 cores) and also runs LCG (188,041 jobs), the largest shared trace.
Each row is the wall time of the real CLI, `sclust simulate TRACE --max-nodes N --json`, in a
subprocess (trace loading included).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACES = REPO.parent / "shared" / "traces"
GOAL = 60.0


def default_traces(scratch: Path) -> list[Path]:
    real = sorted(TRACES.glob("RICC*.swf*"))
    if real:
        return [real[0], TRACES / "LCG.swf.gz"]
    synthetic = scratch / "ricc-synthetic.swf"
    subprocess.run([sys.executable, str(REPO / "bench" / "synthetic_ricc.py"), str(synthetic)],
                   check=True)
    return [synthetic, TRACES / "LCG.swf.gz"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", action="append", type=Path)
    parser.add_argument("--nodes", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        traces = args.trace or default_traces(Path(scratch))
        print(f"{'trace':<32} {'jobs':>8} {'nodes':>6} {'seconds':>8}  goal ≤ {GOAL:g} s")
        missed = 0
        for trace in traces:
            command = [sys.executable, "-m", "sclust.cli", "simulate", str(trace),
                       "--max-nodes", str(args.nodes), "--json", "--accept-capping"]
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            seconds = time.perf_counter() - began
            if done.returncode:
                print(f"{trace.name}: failed\n{done.stderr}")
                return 1
            jobs = json.loads(done.stdout)["settings"]["jobs"]
            missed += seconds > GOAL
            print(f"{trace.name:<32} {jobs:>8} {args.nodes:>6} {seconds:>8.1f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
