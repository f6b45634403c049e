"""StarCluster's -a/-w/-s as a pure wrapper around the policy (`sclust.elastic.limits`)."""

from __future__ import annotations

from sclust.elastic.limits import Paced
from sclust.elastic.policy import Memory, SclustPolicy, Settings
from sclust.scheduler import ClusterStats, Host, PendingJob

NOW = 1_000_000.0
SETTINGS = Settings(min_nodes=0, max_nodes=16, node_slots=8, boot_time=120.0)
PLAIN = SclustPolicy(hedge=0.0, idle_timeout=300)


def backlog(count: int, waited: float) -> ClusterStats:
    jobs = [PendingJob(str(i), 1, NOW - waited) for i in range(count)]
    return ClusterStats.of(NOW, hosts=[Host("master", 2, used_slots=2, is_master=True)],
                           pending=jobs)


def idle_nodes(idle_for: float) -> ClusterStats:
    hosts = [Host("master", 2, is_master=True, idle_since=NOW - idle_for)]
    hosts += [Host(f"node00{i}", 8, idle_since=NOW - idle_for) for i in (1, 2)]
    return ClusterStats.of(NOW, hosts=hosts)


def test_without_limits_the_decision_is_the_policy_s_own():
    stats = backlog(40, waited=10)
    assert Paced(PLAIN).decide(stats, SETTINGS, Memory()) == PLAIN.decide(
        stats, SETTINGS, Memory())


def test_add_per_iteration_caps_each_launch():
    decision = Paced(PLAIN, add_per_iteration=2).decide(backlog(40, 10), SETTINGS, Memory())
    assert decision.launch == 2 and "-a 2" in decision.reason
    assert decision.memory.last_change == NOW


def test_max_wait_holds_growth_until_the_oldest_job_waited_long_enough():
    paced = Paced(PLAIN, max_wait=900)
    held = paced.decide(backlog(40, waited=600), SETTINGS, Memory(last_change=NOW - 5000))
    assert held.launch == 0 and not held.changes
    assert held.memory.last_change == NOW - 5000  # nothing happened: no new stabilization
    assert paced.decide(backlog(40, waited=1000), SETTINGS, Memory()).launch == 5


def test_max_wait_never_delays_reaching_the_minimum():
    settings = Settings(min_nodes=2, max_nodes=16, node_slots=8)
    decision = Paced(PLAIN, max_wait=900).decide(backlog(40, waited=1), settings, Memory())
    assert decision.launch == 2


def test_stabilization_holds_launches_and_removals_after_a_change():
    paced = Paced(PLAIN, stabilization=180)
    recent = Memory(last_change=NOW - 60)
    assert paced.decide(backlog(40, 10), SETTINGS, recent).launch == 0
    quiet = paced.decide(idle_nodes(idle_for=600), SETTINGS, recent)
    assert quiet.remove == () and quiet.drain == ()
    settled = paced.decide(idle_nodes(idle_for=600), SETTINGS, Memory(last_change=NOW - 200))
    assert set(settled.remove) == {"node001", "node002"}
