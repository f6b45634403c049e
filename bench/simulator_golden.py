"""Summary rows of the simulator on trace slices: tests/elastic/data/simulator_golden.json.

Run with the code whose results the tests pin: python bench/simulator_golden.py OUT.json
(five policies on slices of KTH-SP2 and LCG, live rules with 10 % failed launches, and ideal).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TRACES = REPO.parent / "shared" / "traces"

from sclust.elastic.policies import make_policy  # noqa: E402
from sclust.elastic.policy import Settings  # noqa: E402
from sclust.elastic.runner import evaluate, prepare  # noqa: E402
from sclust.elastic.simulator import SimSettings  # noqa: E402

CASES = [("KTH-SP2-1996-2.1-cln.swf.gz", 64, 6000), ("LCG.swf.gz", 512, 15000)]


def main() -> None:
    out = {}
    for trace, nodes, limit in CASES:
        for live in (True, False):
            settings = SimSettings(policy=Settings(max_nodes=nodes), live=live,
                                   launch_failure=0.1 if live else 0.0)
            workload = prepare(str(TRACES / trace), settings, limit)
            policies = [make_policy("sclust"), make_policy("sclust", wait_target=600.0),
                        make_policy("starcluster"), make_policy("idle-timeout", idle_timeout=300.0),
                        make_policy("static", nodes=nodes // 2)]
            key = f"{trace}:{nodes}:{limit}:{'live' if live else 'ideal'}"
            out[key] = evaluate(workload, policies, settings)
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
