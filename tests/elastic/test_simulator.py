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


# -- the live loop's change rules, the waste split, the bound ----------------------------------


@dataclass(frozen=True)
class Greedy:
    """Asks for one more node at every decision, and to remove every idle host."""

    name: str = "greedy"

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        idle = tuple(h.name for h in stats.hosts if not h.busy)
        return Decision(launch=1 if len(stats.booting) + len(stats.hosts) < 8 else 0,
                        drain=idle, remove=idle, memory=memory)


def test_live_rules_one_launch_at_a_time_and_its_nodes_join_together():
    from sclust.elastic.simulator import Simulation

    jobs = [job(str(i), 0, 2000) for i in range(4)]
    settings = SimSettings(policy=Settings(max_nodes=4, node_slots=8, boot_time=100,
                                           interval=30), boot_spread=0.5, seed=3)
    simulation = Simulation(jobs, IdleTimeoutPolicy(), settings)
    launches: list[tuple[float, int]] = []
    original = simulation._launch

    def launch(count: int, now: float) -> None:
        assert simulation.launching is None, "a second launch while one runs"
        launches.append((now, count))
        original(count, now)

    simulation._launch = launch  # type: ignore[method-assign]
    result = simulation.run()
    assert launches == [(0.0, 4)]
    # Four lognormal boots, one setup: every job starts when the slowest node joined.
    assert len(set(result.waits)) == 1 and result.waits[0] > 100 * 0.5
    ideal = simulate(jobs, IdleTimeoutPolicy(), SimSettings(
        policy=settings.policy, boot_spread=0.5, seed=3, live=False))
    assert len(set(ideal.waits)) == 4 and max(ideal.waits) == result.waits[0]


def test_live_rules_defer_a_launch_while_one_runs_and_bill_removals():
    jobs = [job("a", 0, 100), job("b", 30, 100), job("c", 4000, 100)]
    live = simulate(jobs, IdleTimeoutPolicy(idle_timeout=60), sim(max_nodes=4, boot=120))
    ideal = simulate(jobs, IdleTimeoutPolicy(idle_timeout=60),
                     SimSettings(policy=sim(max_nodes=4, boot=120).policy, boot_spread=0.0,
                                 live=False))
    # b arrives while a's launch runs: live, it waits for that launch to end, then its own.
    assert live.deferred >= 1 and live.waits[1] > ideal.waits[1]
    assert live.waste["draining"] * 3600 == pytest.approx(2 * (3 + 30), abs=1)  # settle+removal
    assert ideal.waste["draining"] == 0
    assert live.node_hours > ideal.node_hours


def test_failed_launches_are_billed_and_hold_the_next_launch():
    jobs = [job(str(i), i * 600, 100) for i in range(20)]
    clean = simulate(jobs, IdleTimeoutPolicy(idle_timeout=60), sim(max_nodes=2, boot=60))
    flaky_settings = SimSettings(policy=sim(max_nodes=2, boot=60).policy, boot_spread=0.0,
                                 launch_failure=0.5, seed=2)
    flaky = simulate(jobs, IdleTimeoutPolicy(idle_timeout=60), flaky_settings)
    assert flaky.failed_launches > 0 and flaky.unfinished == 0
    assert flaky.launches > clean.launches
    assert sum(flaky.waits) > sum(clean.waits)
    assert flaky.waste["booting"] > clean.waste["booting"]


def test_boots_are_drawn_from_measured_samples():
    jobs = [job(str(i), i * 3000, 100) for i in range(10)]
    settings = SimSettings(policy=sim(max_nodes=2, boot=150).policy, boot_samples=(100.0, 200.0))
    waits = simulate(jobs, IdleTimeoutPolicy(idle_timeout=60), settings).waits
    assert set(waits) <= {100.0, 200.0} and len(set(waits)) == 2


@pytest.mark.parametrize("live", [True, False], ids=["live", "ideal"])
def test_the_waste_split_adds_up_to_the_bill(live):
    jobs = [job(str(i), i * 50, 400 + 30 * i, 1 + i % 8) for i in range(40)]
    settings = SimSettings(policy=sim(max_nodes=3, boot=60).policy, live=live, seed=4)
    for policy in (SclustPolicy(), IdleTimeoutPolicy(), StarClusterPolicy(), Greedy()):
        result = simulate(jobs, policy, settings)
        assert sum(result.waste.values()) == pytest.approx(result.node_hours, rel=1e-9)
        assert result.waste["busy"] == pytest.approx(lb0(jobs, 8), rel=1e-9)
        assert all(value >= -1e-9 for value in result.waste.values())


SLICES = [("NASA-iPSC-1993-3.1-cln.swf.gz", 16, 0, 1500), ("lublin_256.swf.gz", 64, 0, 700),
          ("KTH-SP2-1996-2.1-cln.swf.gz", 64, 5000, 1000), ("LCG.swf.gz", 512, 60000, 1500)]


@pytest.mark.parametrize("trace, nodes, skip, count", SLICES,
                         ids=[s[0].split(".")[0] for s in SLICES])
def test_no_policy_result_falls_below_the_reported_bound(trace, nodes, skip, count):
    """The yardstick is honest: on slices of the shared traces, under both change rules and
    both billing rules, every policy (each dial's ends) bills at least LB0; the zero-wait OPT,
    only a reference, may be beaten."""
    from sclust.elastic.runner import evaluate, prepare

    path = TRACES / trace
    if not path.exists():
        pytest.skip("shared traces not beside the repo")
    policies = [SclustPolicy(), SclustPolicy(wait_target=30), SclustPolicy(wait_target=3600),
                IdleTimeoutPolicy(idle_timeout=60), IdleTimeoutPolicy(idle_timeout=1200),
                StarClusterPolicy(), StaticPolicy()]
    for live, billing in ((True, "second"), (False, "second"), (True, "hour")):
        settings = SimSettings(policy=Settings(max_nodes=nodes, node_slots=8, boot_time=120,
                                               billing=billing), live=live)
        workload = prepare(str(path), settings, limit=skip + count)
        workload.jobs = workload.jobs[skip:]
        workload.lb0 = lb0(workload.jobs, 8)
        for row in evaluate(workload, policies, settings):
            assert row["unfinished"] == 0, row
            assert row["node_hours"] >= workload.bounds["lb0"], (live, billing, row)
            assert row["x_lb0"] >= 1.0
