"""Parsing SGE 8.1.9's `qstat -u '*' -xml -r` and `qhost -q -xml` into the policy's stats."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from sclust.scheduler import DOWN, DRAINING, UP, track_idle
from sclust.sge.stats import StatsError, cluster_stats, count_tasks, parse_qhost, parse_qstat

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=timezone.utc).timestamp()

QSTAT = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>11</JB_job_number>
      <JAT_prio>0.55500</JAT_prio>
      <JB_name>sleep</JB_name>
      <JB_owner>sgeadmin</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-03-02T11:50:00</JAT_start_time>
      <queue_name>all.q@node001</queue_name>
      <slots>1</slots>
      <full_job_name>sleep</full_job_name>
      <hard_req_queue>all.q</hard_req_queue>
    </job_list>
    <job_list state="running">
      <JB_job_number>12</JB_job_number>
      <JAT_prio>0.55500</JAT_prio>
      <JB_name>mpi</JB_name>
      <JB_owner>sgeadmin</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-03-02T11:55:00.250</JAT_start_time>
      <queue_name>all.q@node002</queue_name>
      <slots>12</slots>
      <full_job_name>mpi</full_job_name>
      <requested_pe name="orte">12</requested_pe>
      <granted_pe name="orte">12</granted_pe>
    </job_list>
    <job_list state="running">
      <JB_job_number>13</JB_job_number>
      <JAT_prio>0.50500</JAT_prio>
      <JB_name>arr</JB_name>
      <JB_owner>alice</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-03-02T11:59:00</JAT_start_time>
      <queue_name>all.q@node003</queue_name>
      <slots>1</slots>
      <full_job_name>arr</full_job_name>
      <tasks>7</tasks>
      <hard_request name="gpu" resource_contribution="0.000000">1</hard_request>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>13</JB_job_number>
      <JAT_prio>0.50500</JAT_prio>
      <JB_name>arr</JB_name>
      <JB_owner>alice</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-03-02T11:58:00</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <full_job_name>arr</full_job_name>
      <tasks>8-100:1</tasks>
      <hard_request name="gpu" resource_contribution="0.000000">1</hard_request>
    </job_list>
    <job_list state="pending">
      <JB_job_number>14</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>wide</JB_name>
      <JB_owner>bob</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-02-27T09:00:00</JB_submission_time>
      <queue_name></queue_name>
      <slots>16</slots>
      <full_job_name>wide</full_job_name>
      <requested_pe name="orte">16</requested_pe>
    </job_list>
    <job_list state="pending">
      <JB_job_number>15</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>held</JB_name>
      <JB_owner>bob</JB_owner>
      <state>hqw</state>
      <JB_submission_time>2026-03-02T11:00:00</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <full_job_name>held</full_job_name>
    </job_list>
    <job_list state="pending">
      <JB_job_number>16</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>broken</JB_name>
      <JB_owner>bob</JB_owner>
      <state>Eqw</state>
      <JB_submission_time>2026-03-02T10:00:00</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <full_job_name>broken</full_job_name>
      <tasks>1,3,5-9:2</tasks>
    </job_list>
  </job_info>
</job_info>
"""

QHOST = """<?xml version='1.0'?>
<qhost xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qhost/qhost.xsd">
 <host name='global'>
   <hostvalue name='arch_string'>-</hostvalue>
   <hostvalue name='num_proc'>-</hostvalue>
   <hostvalue name='load_avg'>-</hostvalue>
   <hostvalue name='mem_total'>-</hostvalue>
   <hostvalue name='mem_used'>-</hostvalue>
   <hostvalue name='swap_total'>-</hostvalue>
   <hostvalue name='swap_used'>-</hostvalue>
 </host>
 <host name='master'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>2</hostvalue>
   <hostvalue name='m_socket'>1</hostvalue>
   <hostvalue name='m_core'>2</hostvalue>
   <hostvalue name='m_thread'>2</hostvalue>
   <hostvalue name='load_avg'>0.05</hostvalue>
   <hostvalue name='mem_total'>3.8G</hostvalue>
   <hostvalue name='mem_used'>412.5M</hostvalue>
   <hostvalue name='swap_total'>0.0</hostvalue>
   <hostvalue name='swap_used'>0.0</hostvalue>
 </host>
 <host name='node001'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>8</hostvalue>
   <hostvalue name='load_avg'>1.01</hostvalue>
   <hostvalue name='mem_total'>15.4G</hostvalue>
   <hostvalue name='mem_used'>1.1G</hostvalue>
 <queue name='all.q'>
   <queuevalue qname='all.q' name='qtype_string'>BIP</queuevalue>
   <queuevalue qname='all.q' name='slots_used'>1</queuevalue>
   <queuevalue qname='all.q' name='slots'>8</queuevalue>
   <queuevalue qname='all.q' name='slots_resv'>0</queuevalue>
   <queuevalue qname='all.q' name='state_string'></queuevalue>
 </queue>
 </host>
 <host name='node002'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>8</hostvalue>
   <hostvalue name='load_avg'>8.00</hostvalue>
 <queue name='all.q'>
   <queuevalue qname='all.q' name='qtype_string'>BIP</queuevalue>
   <queuevalue qname='all.q' name='slots_used'>8</queuevalue>
   <queuevalue qname='all.q' name='slots'>8</queuevalue>
   <queuevalue qname='all.q' name='slots_resv'>0</queuevalue>
   <queuevalue qname='all.q' name='state_string'></queuevalue>
 </queue>
 </host>
 <host name='node003'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>8</hostvalue>
   <hostvalue name='load_avg'>4.00</hostvalue>
 <queue name='all.q'>
   <queuevalue qname='all.q' name='qtype_string'>BIP</queuevalue>
   <queuevalue qname='all.q' name='slots_used'>4</queuevalue>
   <queuevalue qname='all.q' name='slots'>8</queuevalue>
   <queuevalue qname='all.q' name='slots_resv'>0</queuevalue>
   <queuevalue qname='all.q' name='state_string'></queuevalue>
 </queue>
 </host>
 <host name='node004'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>8</hostvalue>
   <hostvalue name='load_avg'>0.00</hostvalue>
 <queue name='all.q'>
   <queuevalue qname='all.q' name='qtype_string'>BIP</queuevalue>
   <queuevalue qname='all.q' name='slots_used'>0</queuevalue>
   <queuevalue qname='all.q' name='slots'>8</queuevalue>
   <queuevalue qname='all.q' name='slots_resv'>0</queuevalue>
   <queuevalue qname='all.q' name='state_string'>d</queuevalue>
 </queue>
 </host>
 <host name='node005'>
   <hostvalue name='arch_string'>lx-amd64</hostvalue>
   <hostvalue name='num_proc'>-</hostvalue>
   <hostvalue name='load_avg'>-</hostvalue>
 <queue name='all.q'>
   <queuevalue qname='all.q' name='qtype_string'>BIP</queuevalue>
   <queuevalue qname='all.q' name='slots_used'>0</queuevalue>
   <queuevalue qname='all.q' name='slots'>8</queuevalue>
   <queuevalue qname='all.q' name='slots_resv'>0</queuevalue>
   <queuevalue qname='all.q' name='state_string'>au</queuevalue>
 </queue>
 </host>
</qhost>
"""

EMPTY_QSTAT = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
  </queue_info>
  <job_info>
  </job_info>
</job_info>
"""


def test_pending_jobs_keep_order_state_slots_tasks_and_gpus():
    pending, _ = parse_qstat(QSTAT)
    assert [(j.job_id, j.state, j.slots, j.tasks, j.gpus) for j in pending] == [
        ("13", "qw", 1, 93, 1),
        ("14", "qw", 16, 1, 0),
        ("15", "hqw", 1, 1, 0),
        ("16", "Eqw", 1, 5, 0),
    ]
    assert [j.eligible for j in pending] == [True, True, False, False]


def test_running_jobs_name_their_host_slots_task_and_start():
    _, running = parse_qstat(QSTAT)
    assert [(j.job_id, j.host, j.slots, j.task) for j in running] == [
        ("11", "node001", 1, None), ("12", "node002", 12, None), ("13", "node003", 1, 7),
    ]
    assert running[1].started - running[0].started == pytest.approx(300.25)


@pytest.mark.parametrize(
    "ranges, count", [(None, 1), ("7", 1), ("1-100:1", 100), ("2-10:2", 5), ("1,3,5-9:2", 5)]
)
def test_task_ranges_count_every_task(ranges, count):
    assert count_tasks(ranges) == count


def test_hosts_carry_slots_use_and_state():
    hosts = {h.name: h for h in parse_qhost(QHOST)}
    assert "global" not in hosts
    assert hosts["master"].slots == 0  # an admin/submit host without a queue instance
    assert (hosts["node001"].slots, hosts["node001"].used_slots) == (8, 1)
    assert hosts["node004"].state == DRAINING  # qmod -d
    assert hosts["node005"].state == DOWN  # execd not reporting
    assert hosts["node002"].state == UP


def test_cluster_stats_joins_qstat_qhost_and_what_the_loop_remembers():
    stats = cluster_stats(
        QSTAT, QHOST, NOW, master="master",
        idle_since={"node004": NOW - 700}, launched={"node001": NOW - 4000},
    )
    hosts = {h.name: h for h in stats.hosts}
    assert hosts["master"].is_master
    assert hosts["node002"].used_slots == 8  # a 12-slot PE job, capped to the host's slots
    assert hosts["node003"].used_gpus == 1
    assert hosts["node004"].idle_since == NOW - 700
    assert hosts["node001"].idle_since is None and hosts["node001"].launched_at == NOW - 4000
    assert stats.pending_count == 4


def test_waits_longer_than_a_day_are_not_wrapped():
    stats = cluster_stats(QSTAT, QHOST, NOW)
    # Job 14 was submitted 3 days and 3 hours ago; it is the oldest `qw` job.
    assert NOW - stats.oldest_submitted == 3 * 86400 + 3 * 3600


def test_utc_offset_shifts_sge_local_times():
    _, shifted = parse_qstat(QSTAT, utc_offset=3600)
    _, plain = parse_qstat(QSTAT)
    assert plain[0].started - shifted[0].started == 3600


def test_empty_queue_gives_no_jobs():
    stats = cluster_stats(EMPTY_QSTAT, QHOST, NOW)
    assert list(stats.pending) == [] and stats.running == () and stats.oldest_submitted is None
    # qhost's own slots_used still marks busy hosts busy (jobs PE slaves, or qstat raced it).
    idle_now = {h.name for h in stats.hosts if h.idle_since == NOW}
    assert idle_now == {"master", "node004", "node005"}


def test_qhost_without_queues_falls_back_to_processor_count():
    plain = QHOST.split(" <queue name")[0] + " </host>\n</qhost>\n"
    hosts = parse_qhost(plain)
    assert hosts and all(h.slots in (2, 8) for h in hosts)


def test_full_format_queue_lines_do_not_leak_into_jobs():
    queue = (
        "    <Queue-List>\n      <name>all.q@node002</name>\n      <qtype>BIP</qtype>\n"
        "      <slots_used>8</slots_used>\n      <slots_total>8</slots_total>\n"
        "      <state>au</state>\n"
    )
    # A queue instance's lines right after job 11's record, before job 12's.
    full = QSTAT.replace("    </job_list>\n", "    </job_list>\n" + queue, 1)
    full = full.replace("  </queue_info>", "    </Queue-List>\n  </queue_info>", 1)
    assert full.count("<state>au</state>") == 1
    assert parse_qstat(full) == parse_qstat(QSTAT)


def test_not_xml_is_a_clear_error():
    with pytest.raises(StatsError, match="qstat: not XML"):
        parse_qstat("error: commlib error: got select error (Connection refused)")


def test_idle_tracking_keeps_first_idle_time_and_forgets_busy_hosts():
    hosts = {h.name: h for h in parse_qhost(QHOST)}
    first = track_idle({}, hosts.values(), NOW)
    later = track_idle(first, hosts.values(), NOW + 60)
    assert later["node004"] == NOW and "node002" not in later


def big_qstat(count: int) -> str:
    job = """    <job_list state="pending">
      <JB_job_number>{n}</JB_job_number>
      <JAT_prio>0.00000</JAT_prio>
      <JB_name>job{n}</JB_name>
      <JB_owner>user</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-03-02T11:{m:02d}:00</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <full_job_name>job{n}</full_job_name>
      <hard_request name="h_rt" resource_contribution="0.000000">3600</hard_request>
    </job_list>
"""
    body = "".join(job.format(n=n, m=n % 60) for n in range(count))
    return EMPTY_QSTAT.replace("  <job_info>\n", "  <job_info>\n" + body)


def test_ten_thousand_jobs_parse_quickly():
    text = big_qstat(10_000)
    started = time.perf_counter()
    pending, _ = parse_qstat(text)
    elapsed = time.perf_counter() - started
    assert len(pending) == 10_000
    assert elapsed < 1.0  # the goal is 0.2 s (bench/bench_elastic.py); slack for busy CI
