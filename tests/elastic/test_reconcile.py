"""Reconciliation's findings (`sclust.elastic.reconcile`): strays after the join grace only,
never a node with a job, silent nodes after the answer grace, spot notices at once; and the
probe script's output, parsed (the script itself runs on real hosts in the local-cloud test)."""

from __future__ import annotations

from sclust.elastic.health import health_run
from sclust.elastic.reconcile import Probe, Reconciler, Worker, parse_probe
from sclust.scheduler import DOWN, ClusterStats, Host, RunningJob
from sclust.scripts import rendered

NOW = 10_000.0


def stats(*hosts: Host, running: tuple[RunningJob, ...] = ()) -> ClusterStats:
    master = Host("master", 1, is_master=True)
    return ClusterStats.of(NOW, hosts=(master, *hosts), running=running)


def test_a_node_that_never_joined_is_a_stray_only_after_the_grace_and_two_readings():
    reconciler = Reconciler(join_grace=600, answer_grace=60)
    young = Worker("node001", launched=NOW - 300)
    old = Worker("node002", launched=NOW - 900)
    first = reconciler.review(NOW, [young, old], stats(), {})
    assert first.hosts == []  # one reading is not enough: qhost may lag
    second = reconciler.review(NOW + 30, [young, old], stats(), {})
    assert list(second.strays) == ["node002"]
    assert "900" in second.strays["node002"] or "930" in second.strays["node002"]
    # node001 is still booting (330 s < 600 s): not a stray yet; after the grace it is.
    later = reconciler.review(NOW + 400, [young, old], stats(), {})
    assert sorted(later.strays) == ["node001", "node002"]


def test_a_joined_node_is_no_stray_and_a_reading_in_between_resets_the_count():
    reconciler = Reconciler(join_grace=0, answer_grace=60)
    node = Worker("node001", launched=NOW - 900)
    assert reconciler.review(NOW, [node], stats(), {}).hosts == []
    assert reconciler.review(NOW + 1, [node], stats(Host("node001", 8)), {}).hosts == []
    assert reconciler.review(NOW + 2, [node], stats(), {}).hosts == []  # first again
    assert reconciler.review(NOW + 3, [node], stats(), {}).hosts == ["node001"]


def test_a_node_left_without_a_queue_but_running_a_job_is_never_a_stray():
    reconciler = Reconciler(join_grace=0)
    node = Worker("node001", launched=NOW - 900)
    # qhost lists it without slots (its queue instance gone) while a job still runs there.
    busy = stats(Host("node001", 0), running=(RunningJob("7", "node001", 1, NOW - 50),))
    for step in range(3):
        assert reconciler.review(NOW + step, [node], busy, {}).hosts == []


def test_operations_under_way_own_their_nodes():
    reconciler = Reconciler(join_grace=0)
    node = Worker("node001", launched=NOW - 900)
    for step in range(3):
        found = reconciler.review(NOW + step, [node], stats(), {"node001": Probe(True, "stop")},
                                  skip=["node001"])
        assert found.hosts == []


def test_a_silent_node_goes_after_the_answer_grace_and_is_forgiven_when_it_answers():
    reconciler = Reconciler(join_grace=600, answer_grace=60)
    node = Worker("node001", launched=NOW - 900)
    down = stats(Host("node001", 8, state=DOWN))
    assert reconciler.review(NOW, [node], down, {}).hosts == []
    assert reconciler.review(NOW + 30, [node], down, {}).hosts == []
    # It answers again: the clock restarts.
    assert reconciler.review(NOW + 40, [node], stats(Host("node001", 8)), {}).hosts == []
    assert reconciler.review(NOW + 50, [node], down, {}).hosts == []
    found = reconciler.review(NOW + 110, [node], down, {})
    assert list(found.silent) == ["node001"]
    assert "execution daemon" in found.silent["node001"]


def test_a_node_that_stops_answering_ssh_is_silent_too():
    reconciler = Reconciler(answer_grace=60)
    node = Worker("node001", launched=NOW - 900)
    up = stats(Host("node001", 8, used_slots=8))
    assert reconciler.review(NOW, [node], up, {"node001": Probe(False)}).hosts == []
    found = reconciler.review(NOW + 60, [node], up, {"node001": Probe(False)})
    assert "does not answer SSH" in found.silent["node001"]


def test_a_spot_notice_condemns_at_once_even_a_busy_node():
    reconciler = Reconciler(join_grace=600, answer_grace=600)
    node = Worker("node001", launched=NOW - 100, spot=True)
    busy = stats(Host("node001", 8, used_slots=8),
                 running=(RunningJob("7", "node001", 8, NOW - 50),))
    found = reconciler.review(NOW, [node], busy, {"node001": Probe(True, "terminate")})
    assert found.interrupted == {"node001": "spot interruption notice (terminate)"}
    assert found.hosts == ["node001"] and not found.strays and not found.silent


def test_probe_output_is_parsed_and_hostile_actions_are_dropped():
    assert parse_probe("alive\n") == Probe(True, None)
    assert parse_probe("alive\nspot-action stop\n") == Probe(True, "stop")
    assert parse_probe("") == Probe(False, None)
    assert parse_probe("alive\nspot-action $(reboot)\n") == Probe(True, None)


def test_the_probe_is_a_packaged_script_reading_imdsv2():
    text = rendered(health_run())
    assert "/api/token" in text and "spot/instance-action" in text
