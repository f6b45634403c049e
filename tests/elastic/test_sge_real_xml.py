"""The SGE stats parser on XML captured from the local cloud's real Grid Engine 8.1.9.

`data/capture_sge_xml.py` made these files (a master and node001, 2 slots each): an array job
with one task running and 2-10 pending, a held job, a `-pe smp 2` job running on the master, a
`-pe smp 8` job no host can run, a job in `Eqw`, and node001 disabled with `qmod -d`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sclust.elastic.policy import Memory, SclustPolicy, Settings
from sclust.scheduler import DRAINING, UP
from sclust.sge.stats import cluster_stats, parse_qhost, parse_qstat, sge_time

DATA = Path(__file__).parent / "data"
JOBS = json.loads((DATA / "capture.json").read_text())["jobs"]


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_real_mix_lists_pending_jobs_in_scheduler_order_with_states_and_tasks():
    pending, _ = parse_qstat(read("mix.qstat.xml"))
    assert [(j.job_id, j.state, j.slots, j.tasks) for j in pending] == [
        (JOBS["too_wide"], "qw", 8, 1),
        (JOBS["error"], "Eqw", 1, 1),
        (JOBS["array"], "qw", 1, 9),  # tasks 2-10:1
        (JOBS["held"], "hqw", 1, 1),
    ]
    assert [j.eligible for j in pending] == [True, False, True, False]


def test_real_mix_names_running_tasks_and_parallel_slots_with_their_hosts():
    _, running = parse_qstat(read("mix.qstat.xml"))
    assert sorted((j.job_id, j.host, j.slots, j.task) for j in running) == sorted([
        (JOBS["array"], "node001", 1, 1),
        (JOBS["parallel"], "master", 2, None),
    ])
    started = {j.job_id: j.started for j in running}
    assert started[JOBS["array"]] == sge_time("2026-11-22T02:33:42")


def test_real_qhost_gives_slots_use_and_the_disabled_queue():
    hosts = {h.name: h for h in parse_qhost(read("mix.qhost.xml"))}
    assert set(hosts) == {"master", "node001"}  # the `global` pseudo-host is skipped
    assert (hosts["master"].slots, hosts["master"].used_slots, hosts["master"].state) == (2, 2, UP)
    assert (hosts["node001"].slots, hosts["node001"].used_slots) == (2, 1)
    assert hosts["node001"].state == DRAINING


def test_real_empty_cluster_has_no_jobs_and_idle_hosts():
    now = sge_time("2026-11-22T02:34:00") or 0.0
    stats = cluster_stats(read("empty.qstat.xml"), read("empty.qhost.xml"), now, master="master")
    assert list(stats.pending) == [] and stats.running == () and stats.pending_count == 0
    assert [(h.name, h.slots, h.busy, h.is_master) for h in stats.hosts] == [
        ("master", 2, False, True), ("node001", 2, False, False),
    ]
    assert all(h.idle_since == now for h in stats.hosts)


@pytest.mark.parametrize("max_nodes, node_slots, launch, unschedulable", [
    (1, 2, 0, (JOBS["too_wide"],)),  # 8 slots exceed master + one node: reported, not chased
    # `-pe smp 8` needs one 8-slot host: 2-slot nodes never make one, however many. The 9
    # array tasks want more than node001 (drained: enabled first) and 3 new nodes.
    (4, 2, 3, (JOBS["too_wide"],)),
    # With 8-slot nodes it can run: 8 + 9 slots, less node001's free one, is 2 new nodes.
    (4, 8, 2, ()),
])
def test_policy_on_real_stats_ignores_held_and_error_jobs(max_nodes, node_slots, launch,
                                                          unschedulable):
    now = sge_time("2026-11-22T02:34:00") or 0.0
    stats = cluster_stats(read("mix.qstat.xml"), read("mix.qhost.xml"), now, master="master")
    assert [j.single_host for j in stats.pending] == [True, False, False, False]
    settings = Settings(min_nodes=0, max_nodes=max_nodes, node_slots=node_slots)
    decision = SclustPolicy(hedge=0).decide(stats, settings, Memory())
    assert decision.unschedulable == unschedulable
    assert decision.enable == ("node001",)
    assert decision.launch == launch
