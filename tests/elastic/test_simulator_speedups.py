"""The simulator's speed-ups change no result (issue 15 item 6).

`data/simulator_golden.json` holds the summary rows the simulator gave *before* it kept its
host view up to date change by change (commit 6dfa15e, by `bench/simulator_golden.py`): five
policies on slices of two shared traces, under the live loop's rules (10 % failed launches) and
the idealised ones. The replay today must give the very same rows; and, run with `check`, its
incremental view must equal one rebuilt from scratch at every decision.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sclust.elastic.policies import make_policy
from sclust.elastic.policy import Settings
from sclust.elastic.report import summarize
from sclust.elastic.runner import prepare
from sclust.elastic.simulator import SimSettings, Simulation

TRACES = Path(__file__).resolve().parents[3] / "shared" / "traces"
GOLDEN = json.loads((Path(__file__).parent / "data" / "simulator_golden.json").read_text())
POLICIES = [("sclust", {}), ("sclust", {"wait_target": 600.0}), ("starcluster", {}),
            ("idle-timeout", {"idle_timeout": 300.0}), ("static", {"half": True})]


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_results_are_those_of_the_simulator_before_the_speed_ups(case: str) -> None:
    trace, nodes, limit, rules = case.split(":")
    path = TRACES / trace
    if not path.exists():
        pytest.fail(f"{path} missing: the shared traces belong beside the repository")
    live = rules == "live"
    settings = SimSettings(policy=Settings(max_nodes=int(nodes)), live=live,
                           launch_failure=0.1 if live else 0.0)
    workload = prepare(str(path), settings, int(limit))
    for (name, params), expected in zip(POLICIES, GOLDEN[case], strict=True):
        if params.get("half"):
            params = {"nodes": int(nodes) // 2}
        simulation = Simulation(workload.jobs, make_policy(name, **params), settings)
        simulation.check = True  # the incremental view equals a rebuilt one at every decision
        row = summarize(simulation.run(), workload.lb0, workload.opt)
        assert json.loads(json.dumps(row)) == expected, (case, name)
