"""The load balancer's changes overlap safely: a launch may start while a removal runs (and the
reverse), never two of a kind; setups take turns and leave out the nodes the other owns."""

from __future__ import annotations

import threading

import pytest

from sclust.elastic.live import LoadBalancer
from sclust.elastic.operations import LAUNCH, REMOVE, Operations
from sclust.elastic.policy import Decision, Memory
from sclust.scheduler import ClusterStats, Host, scheduler_for
from sclust.state import Node


def node(alias: str, instance_id: str) -> Node:
    return Node(instance_id, alias, "node", "running", "t3.micro", "ami-1", "z", "10.0.0.1",
                None, False, None)


def test_a_launch_and_a_removal_run_together_but_never_two_of_a_kind() -> None:
    operations = Operations(threading.Event())
    gate = threading.Event()
    operations.start(REMOVE, ["node001"], ["node001"], gate.wait, instance_ids=["i-1"])
    operations.start(LAUNCH, ["node002"], ["node002"], gate.wait)
    with pytest.raises(AssertionError):
        operations.start(LAUNCH, ["node003"], ["node003"], gate.wait)
    assert {o.kind for o in operations.all()} == {LAUNCH, REMOVE}
    gate.set()
    assert operations.wait(5)
    ended = {operations.finished().kind, operations.finished().kind}
    assert ended == {LAUNCH, REMOVE} and operations.finished() is None and not operations.busy


def test_setups_leave_out_nodes_another_change_owns() -> None:
    operations = Operations(threading.Event())
    removed, joining, member = node("node001", "i-1"), node("node002", "i-2"), node("node003",
                                                                                 "i-3")
    out_of_scheduler, set_up, finish = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def removal() -> None:
        with operations.turn():  # remove_from_scheduler
            pass
        out_of_scheduler.set()
        finish.wait()

    def launch() -> None:
        seen["own setup"] = [operations.left_out(n) for n in (removed, joining, member)]
        with operations.turn():  # the launch's setup
            pass
        set_up.set()
        finish.wait()

    gate = threading.Event()
    operations.start(LAUNCH, ["node002"], ["node002"], lambda: (gate.wait(), launch()))
    # Before the removal took its node out of the scheduler, the node is still a member.
    operations.start(REMOVE, ["node001"], ["node001"], lambda: (gate.wait(), removal()),
                     instance_ids=["i-1"])
    assert [operations.left_out(n) for n in (removed, joining, member)] == [False, True, False]
    gate.set()
    assert out_of_scheduler.wait(5) and set_up.wait(5)
    assert seen["own setup"][1:] == [False, False]
    # Now the removed node is out for everyone and the launched one a member.
    assert [operations.left_out(n) for n in (removed, joining, member)] == [True, False, False]
    finish.set()
    assert operations.wait(5)


def test_a_failed_removal_gives_its_nodes_back() -> None:
    operations = Operations(threading.Event())

    def fail() -> None:
        raise RuntimeError("jobs still run")

    operations.start(REMOVE, ["node001"], ["node001"], fail, instance_ids=["i-1"])
    operations.wait(5)
    assert operations.finished().error is not None
    assert not operations.left_out(node("node001", "i-1"))


class Recording(LoadBalancer):
    """The decision-applying part of the loop, with launch and removal recorded."""

    def __init__(self) -> None:  # no cluster: only what `apply` reads
        self.operations = Operations(threading.Event())
        self.scheduler = scheduler_for("sge")
        self.stranded = None
        self.memory = Memory()
        self.drained: set[str] = set()
        self.condemned: dict[str, str] = {}
        self.done: list[str] = []

    def say(self, message: str) -> None:
        pass

    def run_on_master(self, run) -> str:
        self.done.append(f"{run.describe()}: {' '.join(run.inputs['sge_hosts'].split())}")
        return ""

    def launch(self, decision, iteration) -> bool:
        self.done.append("launch")
        return True

    def drain_and_remove(self, decision, stats, iteration) -> None:
        self.done.append("drain")


@pytest.fixture
def balancer() -> Recording:
    return Recording()


def apply(balancer: Recording, decision: Decision):
    from sclust.elastic.live import Iteration

    iteration = Iteration(1, 0.0)
    balancer.apply(decision, ClusterStats.of(0.0, hosts=[Host("node001", 2)]), iteration)
    return iteration


def test_a_launch_starts_while_a_removal_runs(balancer: Recording) -> None:
    gate = threading.Event()
    balancer.operations.start(REMOVE, ["node001"], ["node001"], gate.wait)
    decision = Decision(launch=1, memory=Memory(last_change=5.0))
    apply(balancer, decision)
    assert balancer.done == ["launch"] and balancer.memory.last_change == 5.0
    gate.set()


def test_a_removal_starts_while_a_launch_runs_but_not_a_second_removal(balancer) -> None:
    gate = threading.Event()
    balancer.operations.start(LAUNCH, ["node002"], ["node002"], gate.wait)
    apply(balancer, Decision(drain=("node001",), remove=("node001",)))
    assert balancer.done == ["drain"]
    balancer.operations.start(REMOVE, ["node001"], ["node001"], gate.wait)
    balancer.done.clear()
    iteration = apply(balancer, Decision(drain=("node003",), remove=("node003",),
                                         memory=Memory(last_change=9.0)))
    assert balancer.done == [] and balancer.memory.last_change is None  # comes again
    assert "removal deferred" in iteration.notes[0]
    gate.set()


def test_a_host_being_removed_is_never_re_enabled(balancer: Recording) -> None:
    gate = threading.Event()
    balancer.operations.start(REMOVE, ["node001"], ["node001"], gate.wait)
    apply(balancer, Decision(enable=("node001", "node004")))
    assert balancer.done == ["common.sh + enable.sh: node004"]
    gate.set()


def test_hosts_being_removed_are_no_capacity_for_the_policy(balancer: Recording) -> None:
    from sclust.state import ClusterInfo
    from tests.elastic.test_loadbalance_parts import master_output

    balancer.info = ClusterInfo("demo", None, None)
    balancer.tag, balancer.dns_prefix = "demo", False
    balancer.idle, balancer.seen_jobs = {}, False
    balancer.worker_slots, balancer.slots_per_host = None, None
    assert "node001" in {h.name for h in balancer.observe(master_output()).hosts}
    gate = threading.Event()
    balancer.operations.start(REMOVE, ["node001"], ["node001"], gate.wait)
    assert "node001" not in {h.name for h in balancer.observe(master_output()).hosts}
    gate.set()
