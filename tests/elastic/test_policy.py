"""The scaling policies as pure functions: stats in, decisions out."""

from __future__ import annotations

import copy

import pytest

from sclust.elastic.baselines import IdleTimeoutPolicy, StarClusterPolicy, StaticPolicy
from sclust.elastic.policies import make_policy
from sclust.elastic.policy import Memory, SclustPolicy, Settings
from sclust.scheduler import DRAINING, BootingNode, ClusterStats, Host, PendingJob

NOW = 1_000_000.0
SETTINGS = Settings(min_nodes=0, max_nodes=16, node_slots=8, boot_time=120.0)
PLAIN = SclustPolicy(hedge=0.0)  # sizing tests: no spare nodes against slow boots


def jobs(count: int, slots: int = 1, waited: float = 60.0, state: str = "qw") -> list[PendingJob]:
    return [PendingJob(f"{i}", slots, NOW - waited, state=state) for i in range(count)]


def idle(name: str, since: float, slots: int = 8, **extra) -> Host:
    return Host(name, slots, idle_since=since, launched_at=since - 600, **extra)


def busy(name: str, used: int = 8, slots: int = 8, **extra) -> Host:
    return Host(name, slots, used_slots=used, launched_at=NOW - 3600, **extra)


def decide(policy, stats, settings=SETTINGS, memory=None):
    return policy.decide(stats, settings, memory or Memory())


def test_scale_up_covers_the_backlog_with_whole_nodes():
    assert decide(PLAIN, ClusterStats.of(NOW, pending=jobs(20))).launch == 3  # ceil(20 / 8)


def test_booting_nodes_count_as_capacity():
    booting = [BootingNode("n1", NOW - 30, 8), BootingNode("n2", NOW - 30, 8)]
    assert decide(PLAIN, ClusterStats.of(NOW, pending=jobs(20), booting=booting)).launch == 1


def test_free_slots_on_a_bigger_host_absorb_the_backlog():
    stats = ClusterStats.of(NOW, hosts=[Host("big", 32, used_slots=2)], pending=jobs(30))
    assert decide(PLAIN, stats).launch == 0


def test_backlog_smaller_than_one_node_still_grows():
    stats = ClusterStats.of(NOW, hosts=[busy("n1")], pending=jobs(3))
    assert decide(PLAIN, stats).launch == 1
    # StarCluster's qw_slots // slots_per_host never grows for it:
    long_wait = ClusterStats.of(NOW, hosts=[busy("n1")], pending=jobs(3, waited=5000))
    assert decide(StarClusterPolicy(), long_wait).launch == 0


def test_parallel_job_slots_and_array_tasks_are_counted():
    wide = ClusterStats.of(NOW, pending=[PendingJob("1", 20, NOW)])
    array = ClusterStats.of(NOW, pending=[PendingJob("2", 1, NOW, tasks=24)])
    assert decide(PLAIN, wide).launch == 3
    assert decide(PLAIN, array).launch == 3


@pytest.mark.parametrize("state", ["hqw", "Eqw", "hRwq"])
def test_held_and_error_jobs_launch_nothing(state):
    assert decide(PLAIN, ClusterStats.of(NOW, pending=jobs(40, state=state))).launch == 0


def test_a_job_wider_than_the_largest_cluster_is_reported_not_chased():
    stats = ClusterStats.of(NOW, pending=[PendingJob("huge", 200, NOW), *jobs(1)])
    decision = decide(PLAIN, stats)
    assert decision.unschedulable == ("huge",)
    assert decision.launch == 1


def test_gpu_jobs_size_by_gpus_and_need_gpu_nodes():
    stats = ClusterStats.of(NOW, pending=[PendingJob("g", 1, NOW, gpus=2)])
    gpu_nodes = Settings(max_nodes=4, node_slots=8, node_gpus=1)
    assert decide(PLAIN, stats, gpu_nodes).launch == 2
    assert decide(PLAIN, stats).unschedulable == ("g",)


def test_launches_respect_max_nodes():
    stats = ClusterStats.of(NOW, hosts=[busy("n1"), busy("n2")], pending=jobs(1000))
    assert decide(PLAIN, stats, Settings(max_nodes=4)).launch == 2


def test_min_nodes_are_launched_and_kept():
    settings = Settings(min_nodes=2, max_nodes=8)
    assert decide(PLAIN, ClusterStats.of(NOW), settings).launch == 2
    hosts = [idle("n1", NOW - 10_000), idle("n2", NOW - 10_000), idle("n3", NOW - 10_000)]
    decision = decide(PLAIN, ClusterStats.of(NOW, hosts=hosts), settings)
    assert len(decision.remove) == 1


def test_hedge_launches_spares_only_for_multi_node_shortfalls():
    ours = SclustPolicy()
    assert decide(ours, ClusterStats.of(NOW, pending=jobs(4))).launch == 1
    assert decide(ours, ClusterStats.of(NOW, pending=jobs(32))).launch == 6  # 4 + ceil(4 / 2)
    room_for_one_more = Settings(max_nodes=5)
    assert decide(ours, ClusterStats.of(NOW, pending=jobs(32)), room_for_one_more).launch == 5
    hourly = Settings(billing="hour")
    assert decide(ours, ClusterStats.of(NOW, pending=jobs(32)), hourly).launch == 4


def test_idle_host_is_drained_then_removed_after_the_timeout():
    policy = SclustPolicy(idle_timeout=300)
    early = decide(policy, ClusterStats.of(NOW, hosts=[idle("n1", NOW - 299)]))
    late = decide(policy, ClusterStats.of(NOW, hosts=[idle("n1", NOW - 300)]))
    assert early.remove == () and early.drain == ()
    assert late.remove == ("n1",) and "n1" in late.drain


def test_automatic_timeout_follows_the_boot_time():
    assert SclustPolicy().timeout(Settings(boot_time=120)) == 180
    assert SclustPolicy().timeout(Settings(boot_time=10)) == 60  # billing minimum


def test_a_host_running_a_job_is_never_removed():
    hosts = [busy("n1", used=1), Host("n2", 8, used_gpus=1, gpus=1, launched_at=0.0)]
    for policy in (PLAIN, IdleTimeoutPolicy(idle_timeout=0), StarClusterPolicy()):
        decision = decide(policy, ClusterStats.of(NOW, hosts=hosts))
        assert decision.remove == ()


def test_the_master_is_never_removed():
    master = Host("master", 4, is_master=True, idle_since=NOW - 10**6, launched_at=0.0)
    stats = ClusterStats.of(NOW, hosts=[master])
    assert decide(SclustPolicy(idle_timeout=0), stats).remove == ()


def test_master_exec_host_slots_are_capacity():
    master = Host("master", 4, is_master=True, idle_since=NOW)
    assert decide(PLAIN, ClusterStats.of(NOW, hosts=[master], pending=jobs(4))).launch == 0
    assert decide(PLAIN, ClusterStats.of(NOW, hosts=[master], pending=jobs(5))).launch == 1


def test_idle_capacity_the_backlog_needs_is_kept():
    # The 12-slot job waits for SGE's next scheduling run to take n1's 4 free slots and n2.
    hosts = [busy("n1", used=4), idle("n2", NOW - 5000)]
    stats = ClusterStats.of(NOW, hosts=hosts, pending=[PendingJob("w", 12, NOW - 100)])
    for policy in (SclustPolicy(), IdleTimeoutPolicy()):
        decision = decide(policy, stats)
        assert decision.launch == 0 and decision.remove == ()
    no_job = ClusterStats.of(NOW, hosts=hosts)
    assert decide(SclustPolicy(), no_job).remove == ("n2",)


def test_drained_host_is_reenabled_before_launching():
    hosts = [Host("n1", 8, state=DRAINING, idle_since=NOW - 5)]
    decision = decide(PLAIN, ClusterStats.of(NOW, hosts=hosts, pending=jobs(8)))
    assert decision.enable == ("n1",) and decision.launch == 0


def test_hosts_above_a_lowered_max_are_drained_when_busy_removed_when_idle():
    hosts = [busy("n1"), busy("n2"), busy("n3", used=1), idle("n4", NOW - 1)]
    decision = decide(PLAIN, ClusterStats.of(NOW, hosts=hosts), Settings(max_nodes=2))
    assert decision.remove == ("n4",)
    assert set(decision.drain) == {"n4", "n3"}


def test_hourly_billing_keeps_an_idle_node_until_its_hour_is_nearly_over():
    hourly = Settings(billing="hour", interval=30)
    early = Host("n1", 8, idle_since=NOW - 3000, launched_at=NOW - 600)  # 10 min into its hour
    late = Host("n1", 8, idle_since=NOW - 3000, launched_at=NOW - 3550)  # 59 min
    assert decide(PLAIN, ClusterStats.of(NOW, hosts=[early]), hourly).remove == ()
    assert decide(PLAIN, ClusterStats.of(NOW, hosts=[late]), hourly).remove == ("n1",)


def test_decide_is_pure_and_deterministic():
    stats = ClusterStats.of(NOW, hosts=[idle("n1", NOW - 900), busy("n2")], pending=jobs(12))
    before = copy.deepcopy(stats)
    first = decide(SclustPolicy(), stats)
    assert decide(SclustPolicy(), stats) == first
    assert stats == before


def test_idle_timeout_removes_at_its_timeout():
    policy = IdleTimeoutPolicy()
    assert decide(policy, ClusterStats.of(NOW, hosts=[idle("n1", NOW - 599)])).remove == ()
    assert decide(policy, ClusterStats.of(NOW, hosts=[idle("n1", NOW - 600)])).remove == ("n1",)


def test_static_launches_its_size_and_never_removes():
    policy = StaticPolicy(nodes=3)
    assert decide(policy, ClusterStats.of(NOW)).launch == 3
    assert decide(policy, ClusterStats.of(NOW, hosts=[idle("n1", 0.0)] * 3)).remove == ()


def test_make_policy_knows_the_cli_names_and_rejects_others():
    assert make_policy("idle-timeout", idle_timeout=60).idle_timeout == 60
    assert make_policy("static", nodes=None).nodes is None
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("magic")


# -- the StarCluster port ----------------------------------------------------------------------


def sc_stats(waited: float, hosts=None, count: int = 16) -> ClusterStats:
    return ClusterStats.of(NOW, hosts=hosts or [busy("n1")], pending=jobs(count, waited=waited))


def test_starcluster_adds_one_node_only_after_the_oldest_job_waited_w():
    policy = StarClusterPolicy()
    assert decide(policy, sc_stats(899)).launch == 0
    assert decide(policy, sc_stats(901)).launch == 1  # 16 // 8 = 2, capped by -a 1


def test_starcluster_wait_wraps_at_24_hours_as_its_timedelta_seconds_did():
    policy = StarClusterPolicy()
    assert decide(policy, sc_stats(86_400 + 100)).launch == 0
    assert decide(policy, sc_stats(86_400 + 1000)).launch == 1
    assert decide(PLAIN, sc_stats(86_400 + 100)).launch == 2  # ours: no wrap


def test_starcluster_waits_for_stabilization_and_for_booting_nodes():
    policy = StarClusterPolicy()
    recent = Memory(last_change=NOW - 100)
    assert decide(policy, sc_stats(5000), memory=recent).launch == 0
    booting = ClusterStats.of(
        NOW, hosts=[busy("n1")], pending=jobs(16, waited=5000),
        booting=[BootingNode("n2", NOW - 10, 8)],
    )
    decision = decide(policy, booting)
    assert decision.launch == 0 and decision.memory.last_change == NOW


def test_starcluster_adds_at_once_when_there_are_no_slots():
    assert decide(StarClusterPolicy(), ClusterStats.of(NOW, pending=jobs(1, waited=1))).launch == 1


def test_starcluster_removes_only_past_minute_k_and_with_an_empty_queue():
    policy = StarClusterPolicy()
    at_44 = Host("n1", 8, idle_since=NOW - 100, launched_at=NOW - 44 * 60 - 30)
    at_46 = Host("n1", 8, idle_since=NOW - 100, launched_at=NOW - 46 * 60)
    assert decide(policy, ClusterStats.of(NOW, hosts=[at_44])).remove == ()
    assert decide(policy, ClusterStats.of(NOW, hosts=[at_46])).remove == ("n1",)
    queued = ClusterStats.of(NOW, hosts=[at_46, busy("n2")], pending=jobs(1, waited=10))
    assert decide(policy, queued).remove == ()


def test_starcluster_refuses_mixed_slot_counts():
    hosts = [busy("n1", slots=8), busy("n2", slots=4, used=4)]
    decision = decide(StarClusterPolicy(), sc_stats(5000, hosts=hosts))
    assert decision.launch == 0 and "not consistent" in decision.reason


def test_a_wide_job_blocked_by_running_jobs_launches_nothing():
    # 16 of the 128 slots a 16-node cluster can have are busy: a 128-slot job must wait for
    # them whatever we launch, so nodes launched now would only idle.
    hosts = [busy("n1"), busy("n2")]
    stats = ClusterStats.of(NOW, hosts=hosts, pending=[PendingJob("wide", 128, NOW - 60)])
    decision = decide(PLAIN, stats)
    assert decision.launch == 0 and decision.unschedulable == ()
    startable = ClusterStats.of(
        NOW, hosts=[busy("n1", used=0)], pending=[PendingJob("w", 120, NOW)]
    )
    assert decide(PLAIN, startable).launch == 14  # ceil((120 - 8) / 8)


def test_idle_capacity_kept_for_a_blocked_job_goes_after_the_blocked_timeout():
    policy = SclustPolicy(idle_timeout=100, blocked_timeout=600)
    wide = [PendingJob("wide", 128, NOW - 60)]
    for idle_for, removed in ((300, ()), (600, ("n3",))):
        hosts = [busy("n1"), busy("n2"), idle("n3", NOW - idle_for)]
        assert decide(policy, ClusterStats.of(NOW, hosts=hosts, pending=wide)).remove == removed


def test_a_quiet_decision_says_until_when():
    policy = SclustPolicy(idle_timeout=300)
    all_busy = decide(policy, ClusterStats.of(NOW, hosts=[busy("n1")]))
    assert all_busy.quiet_until == float("inf")
    one_idle = decide(policy, ClusterStats.of(NOW, hosts=[busy("n1"), idle("n2", NOW - 100)]))
    assert one_idle.quiet_until == NOW + 200


# -- the cost-versus-wait dial ---------------------------------------------------------------


def test_wait_target_puts_off_launches_until_a_job_would_wait_past_it():
    policy = SclustPolicy(wait_target=900.0)
    # Lead: 2 boots + one decision = 270 s, so a job counts once it waited 630 s.
    assert policy.defer_until(SETTINGS) == pytest.approx(630.0)
    young = ClusterStats.of(NOW, pending=jobs(20, waited=100.0))
    decision = decide(policy, young)
    assert decision.launch == 0
    assert decision.quiet_until == pytest.approx(NOW - 100.0 + 630.0)  # decide again by then
    old = ClusterStats.of(NOW, pending=jobs(20, waited=700.0))
    assert decide(policy, old).launch == 3  # on time: no hedge
    late = ClusterStats.of(NOW, pending=jobs(20, waited=1000.0))
    assert decide(policy, late).launch == 5  # already past the target: hedged
    mixed = ClusterStats.of(NOW, pending=jobs(8, waited=700.0) + jobs(30, waited=10.0))
    assert decide(policy, mixed).launch == 1  # only the jobs that came of age


def test_a_tight_target_keeps_more_nodes_warm_and_longer():
    tight, loose = SclustPolicy(wait_target=30.0), SclustPolicy(wait_target=600.0)
    assert tight.timeout(SETTINGS) > loose.timeout(SETTINGS) == 60.0
    assert tight.warm_pool(SETTINGS) == (4, 1920.0)
    assert loose.warm_pool(SETTINGS) == (0, 0.0)
    assert SclustPolicy().warm_pool(SETTINGS) == (0, 600.0)  # no target: as before
    # Two idle hosts past the short timeout: the most recently idle stays (warm).
    policy = SclustPolicy(wait_target=180.0)  # short 120 s; warm: ceil(2 boots / 180 s) nodes
    nodes, keep = policy.warm_pool(SETTINGS)
    assert (nodes, keep) == (2, 600.0)
    hosts = [idle("a", NOW - 900), idle("b", NOW - 300), idle("c", NOW - 200)]
    decision = decide(policy, ClusterStats.of(NOW, hosts=hosts))
    assert decision.remove == ("a",)  # b and c are the warm pool, idle < 600 s


def test_loadbalance_takes_the_wait_target_to_the_policy():
    from sclust.elastic.live import Options

    assert Options(wait_target=300.0).wait_target == 300.0
    from click.testing import CliRunner

    from sclust.elastic.cli import loadbalance

    assert "--wait-target" in CliRunner().invoke(loadbalance, ["--help"]).output


def test_lightly_loaded_hosts_are_drained_to_consolidate_then_removed_once_idle():
    hosts = [busy("n1", used=7), busy("n2", used=1), busy("n3", used=2), idle("n4", NOW - 10)]
    decision = decide(SclustPolicy(), ClusterStats.of(NOW, hosts=hosts))
    # n2 then n3 (least used first) while n1 and n4 keep >= 8 free slots for arrivals.
    assert decision.drain == ("n2", "n3") and decision.remove == ()
    # Nothing is drained while jobs wait, nor with consolidation off, nor per hour.
    waiting = ClusterStats.of(NOW, hosts=hosts, pending=jobs(1, slots=8))
    assert not decide(SclustPolicy(), waiting).drain
    assert not decide(SclustPolicy(consolidate_share=0), ClusterStats.of(NOW, hosts=hosts)).drain
    hourly = Settings(max_nodes=16, node_slots=8, boot_time=120.0, billing="hour")
    assert not decide(SclustPolicy(), ClusterStats.of(NOW, hosts=hosts), hourly).drain
    # A drained host whose jobs ended goes at once, before any idle timeout.
    drained = Host("n2", 8, state=DRAINING, idle_since=NOW - 1, launched_at=NOW - 3600)
    decision = decide(SclustPolicy(), ClusterStats.of(NOW, hosts=[busy("n1", used=4), drained]))
    assert decision.remove == ("n2",)
    # Demand comes back: the drained host is re-enabled before anything is launched.
    back = ClusterStats.of(NOW, hosts=[busy("n1"), Host("n2", 8, used_slots=1, state=DRAINING)],
                           pending=jobs(4))
    decision = decide(SclustPolicy(), back)
    assert decision.enable == ("n2",) and decision.launch == 0
