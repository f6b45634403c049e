"""The trace simulator and the lower bounds, on tiny traces whose outcome follows by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sclust.elastic.baselines import IdleTimeoutPolicy, StarClusterPolicy, StaticPolicy
from sclust.elastic.bounds import lb0, opt
from sclust.elastic.policy import Decision, Memory, SclustPolicy, Settings
from sclust.elastic.simulator import SimSettings, billed_seconds, fit_to_cluster, simulate
from sclust.elastic.traces import TraceJob, load_trace
from sclust.scheduler import ClusterStats

TRACES = Path(__file__).resolve().parents[3] / "shared" / "traces"


def sim(max_nodes=2, boot=120.0, spread=0.0, billing="second", seed=1, **extra) -> SimSettings:
    policy = Settings(max_nodes=max_nodes, node_slots=8, boot_time=boot, billing=billing, **extra)
    return SimSettings(policy=policy, boot_spread=spread, price=1.0, seed=seed)


def job(name: str, submit: float, runtime: float, slots: int = 8) -> TraceJob:
    return TraceJob(name, submit, runtime, slots)


def test_static_node_boots_then_runs_jobs_first_come_first_served():
    jobs = [job("a", 0, 100), job("b", 10, 50)]
    result = simulate(jobs, StaticPolicy(nodes=1), sim())
    # The node is launched at t=0 and up at 120; a runs 120–220, b 220–270.
    assert result.waits == [120.0, 210.0]
    assert result.makespan == 270.0
    assert result.node_hours == pytest.approx(270 / 3600)
    assert result.launches == 1 and result.unfinished == 0


def test_a_job_that_does_not_fit_is_skipped_by_smaller_ones():
    jobs = [job("long", 0, 1000, 4), job("wide", 1, 10, 8), job("small", 2, 10, 2)]
    result = simulate(jobs, StaticPolicy(nodes=1), sim(boot=0))
    waits = dict(zip(("long", "wide", "small"), result.waits, strict=True))
    assert waits["small"] == 0.0  # starts beside `long` while `wide` waits (no reservation)
    assert waits["wide"] == 999.0


@pytest.mark.parametrize("billing, seconds", [("second", 60.0), ("hour", 3600.0)])
def test_short_lives_are_billed_the_minimum(billing, seconds):
    result = simulate([job("a", 0, 1)], StaticPolicy(nodes=1), sim(boot=0, billing=billing))
    assert result.node_hours * 3600 == pytest.approx(seconds)


def test_billing_rules():
    assert billed_seconds(61.5, "second") == 61.5
    assert billed_seconds(3601, "hour") == 7200


@dataclass(frozen=True)
class RemoveEverything:
    """A reckless policy: keeps one node and asks to remove every host at every decision."""

    name: str = "reckless"

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        names = tuple(h.name for h in stats.hosts)
        launch = 1 if not stats.hosts and not stats.booting else 0
        return Decision(launch=launch, drain=names, remove=names, memory=memory)


def test_a_host_running_a_job_is_never_removed_and_no_job_is_lost():
    jobs = [job(str(i), i * 50, 400, 4) for i in range(10)]
    result = simulate(jobs, RemoveEverything(), sim(boot=30))
    assert result.unfinished == 0 and len(result.waits) == 10
    assert min(result.waits) >= 0


@dataclass(frozen=True)
class Never:
    name: str = "never"

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        return Decision(memory=memory)


def test_a_policy_that_never_launches_ends_with_unfinished_jobs():
    result = simulate([job("a", 0, 10)], Never(), sim())
    assert result.unfinished == 1 and result.node_hours == 0


def test_a_policy_quiet_forever_with_waiting_jobs_stops_with_finite_bills():
    result = simulate([job("a", 0, 10)], StaticPolicy(nodes=0), sim())
    assert result.unfinished == 1 and result.node_hours == 0
    assert result.makespan < 10 * 86400


def test_boot_delays_are_seeded():
    jobs = [job(str(i), i * 3000, 100) for i in range(6)]
    policy = IdleTimeoutPolicy(idle_timeout=60)
    first = simulate(jobs, policy, sim(spread=0.5, seed=7))
    again = simulate(jobs, policy, sim(spread=0.5, seed=7))
    other = simulate(jobs, policy, sim(spread=0.5, seed=8))
    assert first.waits == again.waits
    assert first.waits != other.waits


def test_idle_nodes_go_after_the_timeout_and_come_back_for_new_work():
    jobs = [job("a", 0, 100), job("b", 5000, 100)]
    result = simulate(jobs, IdleTimeoutPolicy(idle_timeout=600), sim(boot=60, interval=30))
    assert result.launches == 2  # removed in the long gap, launched again for b
    static = simulate(jobs, StaticPolicy(nodes=1), sim(boot=60, interval=30))
    assert result.node_hours < static.node_hours


def test_wide_jobs_are_capped_to_the_largest_cluster():
    fitted, capped = fit_to_cluster([job("w", 0, 10, 100), job("n", 0, 10, 4)], Settings(2, 4, 8))
    assert capped == 1 and [j.slots for j in fitted] == [32, 4]


def test_lb0_is_work_over_node_size():
    assert lb0([job("a", 0, 3600, 4), job("b", 0, 3600, 12)], 8) == pytest.approx(2.0)


def test_opt_keeps_a_node_across_gaps_shorter_than_a_boot():
    short_gap = [job("a", 0, 100), job("b", 150, 100)]  # gap 50 s < boot 120 s
    long_gap = [job("a", 0, 100), job("b", 600, 100)]
    assert opt(short_gap, 8, 120) * 3600 == pytest.approx(120 + 250)
    assert opt(long_gap, 8, 120) * 3600 == pytest.approx(2 * (120 + 100))
    assert opt([job("a", 0, 1000)], 8, 120, "hour") == 1.0


def test_opt_stacks_levels_of_node_demand():
    jobs = [job("a", 0, 1000, 8), job("b", 0, 500, 4), job("c", 100, 300, 4)]
    # Demand: 2 nodes over 0–500 (12 then 16 slots), 1 node 500–1000.
    assert opt(jobs, 8, 0) * 3600 == pytest.approx(1000 + 500)


def test_policies_on_a_real_trace_prefix_respect_the_bounds_and_rank_as_designed():
    path = TRACES / "NASA-iPSC-1993-3.1-cln.swf.gz"
    if not path.exists():
        pytest.skip("shared traces not beside the repo")
    settings = sim(max_nodes=16, spread=0.3)
    jobs, _ = fit_to_cluster(load_trace(path)[:2500], settings.policy)
    results = {
        p.name: simulate(jobs, p, settings)
        for p in (SclustPolicy(), StarClusterPolicy(), IdleTimeoutPolicy(), StaticPolicy())
    }
    floor = lb0(jobs, 8)
    assert floor <= opt(jobs, 8, 120)
    assert all(r.node_hours >= floor and r.unfinished == 0 for r in results.values())
    p95 = {name: sorted(r.waits)[int(0.95 * len(r.waits))] for name, r in results.items()}
    assert results["sclust"].node_hours < results["idle-timeout"].node_hours
    assert results["sclust"].node_hours < results["static"].node_hours
    assert p95["sclust"] < p95["starcluster"]


class Checked:
    """Wraps a Simulation's `_apply` to check every decision against the rules as it runs."""

    def __init__(self, simulation, settings: Settings) -> None:
        self.simulation, self.settings, self.applied = simulation, settings, 0
        self.original = simulation._apply
        simulation._apply = self.apply

    def apply(self, decision: Decision, now: float) -> bool:
        nodes = {node.name: node for node in self.simulation.nodes}
        for name in decision.remove:
            assert name in decision.drain, "removal without draining first"
            assert nodes[name].free == nodes[name].slots, "removing a host that runs a job"
        applied = self.original(decision, now)
        assert len(self.simulation.nodes) <= self.settings.max_nodes
        assert len(self.simulation.nodes) >= min(self.settings.min_nodes, len(nodes))
        self.applied += 1
        return applied


@pytest.mark.parametrize("policy", [SclustPolicy(), StarClusterPolicy(), IdleTimeoutPolicy()],
                         ids=lambda p: p.name)
def test_policies_keep_the_rules_on_a_real_trace_prefix(policy):
    from sclust.elastic.simulator import Simulation

    path = TRACES / "NASA-iPSC-1993-3.1-cln.swf.gz"
    if not path.exists():
        pytest.skip("shared traces not beside the repo")
    settings = SimSettings(policy=Settings(min_nodes=1, max_nodes=6, node_slots=8,
                                           boot_time=120), boot_spread=0.3)
    jobs, _ = fit_to_cluster(load_trace(path)[:1500], settings.policy)
    simulation = Simulation(jobs, policy, settings)
    checked = Checked(simulation, settings.policy)
    result = simulation.run()
    assert checked.applied > 10 and result.unfinished == 0
