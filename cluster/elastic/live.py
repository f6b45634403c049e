"""`sclust loadbalance`: the live loop around the elastic policy.

Every iteration: one SSH command on the master reads the clock and the scheduler's state
(`Scheduler.read_stats`), the scheduler turns it into `ClusterStats`, the policy decides
(the very function `sclust simulate` replays), and the decision is applied:
- launch: `ClusterManager.add_nodes` in a background thread (`operations`); its nodes count as
  booting capacity until they are exec hosts;
- remove: disable the hosts and, in the same SSH command after a scheduler run, fresh stats to
  confirm they are still idle; a host that got a job meanwhile is re-enabled and kept; the idle
  ones go through `ClusterManager.remove_nodes` (which checks again, leaves the scheduler,
  terminates) in the background.
A launch may start while a removal runs and the reverse (one of each at a time): node setup
leaves queue states alone, and `operations` keeps the two from setting up each other's nodes.
Before the policy decides, reconciliation (`reconciling.py`) removes strays, silent nodes and
spot nodes given notice (their jobs requeued first). EC2 is read only at start, after a
change, every `EC2_REFRESH` s, or when the master stops answering: an idle iteration makes at
most one describe call. SSH and EC2 errors are logged and retried at the next iteration.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sclust.cluster import ClusterManager
from sclust.elastic.limits import Paced
from sclust.elastic.operations import LAUNCH, REMOVE, Operation, Operations
from sclust.elastic.policy import Decision, Memory, SclustPolicy, Settings
from sclust.elastic.reconcile import ANSWER_GRACE, JOIN_GRACE
from sclust.elastic.reconciling import Reconciliation
from sclust.errors import SclustError
from sclust.scheduler import DOWN, BootingNode, ClusterStats, scheduler_for
from sclust.scripts import ScriptRun
from sclust.state import ClusterInfo, Node, free_node_numbers, node_alias

log = logging.getLogger(__name__)

EC2_REFRESH = 300.0  # seconds between two looks at EC2 when nothing changes
SETTLE = 3.0  # after disabling: longer than SGE's scheduling interval (2 s, sge/scripts/queue.sh)
DEFAULT_BOOT = 120.0  # launch → exec host, until this run has measured one


@dataclass(frozen=True)
class Options:
    """The loop's settings; node counts are workers (the CLI subtracts the master)."""

    min_nodes: int = 0
    max_nodes: int = 1
    interval: float = 30.0
    idle_timeout: float | None = None  # None: the policy's own (1.5 boots, at least 60 s)
    wait_target: float | None = None  # the cost-versus-wait dial (SclustPolicy.wait_target)
    billing: str = "second"
    max_wait: float = 0.0
    add_per_iteration: int | None = None
    stabilization: float = 0.0
    kill_when_idle: bool = False
    dry_run: bool = False
    once: bool = False
    max_runtime: float | None = None
    boot_log: Path | None = None  # each launch's seconds to join, appended (`simulate
    # --boot-samples` replays them)
    reconcile: bool = True  # strays, silent nodes, spot notices (`reconcile.py`)
    join_grace: float = JOIN_GRACE
    answer_grace: float = ANSWER_GRACE


@dataclass
class Iteration:
    """What one iteration saw and did: for the live view, the log and the stats CSV."""

    number: int
    now: float
    stats: ClusterStats | None = None
    decision: Decision | None = None
    settings: Settings | None = None
    operation: str | None = None
    round_trip: float = 0.0
    error: str | None = None
    stop: str | None = None  # why the loop ends after this iteration
    actions: list[str] = field(default_factory=list)  # done (or, --dry-run, would be done)
    notes: list[str] = field(default_factory=list)  # what was held back, and why


class LoadBalancer:
    """Grows and shrinks cluster TAG; `run` returns the exit status (0, or 130 on Ctrl-C)."""

    def __init__(self, manager: ClusterManager, tag: str, options: Options,
                 report: Callable[[Iteration], None], say: Callable[[str], None]) -> None:
        self.manager = manager
        self.tag = tag
        self.options = options
        self.report = report
        self.say = say
        self.info: ClusterInfo = manager.get(tag)
        settings = manager.require_settings(self.info)
        if self.info.master is None or self.info.master.state != "running":
            raise SclustError(f"cluster {tag!r} has no running master: `sclust start -x {tag}`")
        self.dns_prefix = settings.dns_prefix
        self.slots_per_host = settings.slots_per_host
        self.scheduler = scheduler_for(settings.scheduler)
        self.wake = threading.Event()
        self.operations = Operations(self.wake, lambda: manager.cluster_nodes(tag))
        manager.setup_guard = self.operations  # launches and removals overlap safely
        self.configurator = manager.configurator(self.info)
        self.master = self.configurator.connection(self.info.master)
        self.sclust = SclustPolicy(idle_timeout=options.idle_timeout,
                                   wait_target=options.wait_target)
        self.policy = Paced(self.sclust, options.add_per_iteration, options.max_wait,
                            options.stabilization)
        self.memory = Memory()
        self.idle: dict[str, float] = {}
        self.worker_slots: int | None = None  # seen on workers: what a new node will have
        self.boot_time = DEFAULT_BOOT
        self.ec2_read = time.monotonic()
        self.ec2_stale = False
        self.failures = 0  # consecutive failed stats reads
        self.launch_failures = 0
        self.launch_hold = 0.0  # no launch before this (epoch) after failed ones
        self.stranded: Operation | None = None  # a launch whose setup failed: to clean up
        self.seen_jobs = False
        # Hosts this loop disabled that no removal has taken yet: re-enabled when
        # the loop ends, so stopping it never leaves queues closed.
        self.drained: set[str] = set()
        self.unschedulable: set[str] = set()
        self.reconciliation = Reconciliation(self)
        # Hosts reconciliation condemned (host -> why): out of the capacity, jobs requeued
        # (spot notice, silent), removed as soon as no other removal runs.
        self.condemned: dict[str, str] = {}
        self.condemned_hold = 0.0  # no removal of them before this (epoch) after a failed one
        self.number = 0

    # ---- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        started = time.monotonic()
        # Ctrl-C (or the service's stop, SIGINT) ends the loop cleanly, even when started in
        # the background by a shell, which leaves SIGINT ignored (and Python then ignores it).
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                tick = time.monotonic()
                iteration = self.iterate()
                self.report(iteration)
                if iteration.stop:
                    self.say(iteration.stop)
                    break
                if self.options.once:
                    break
                left = (math.inf if self.options.max_runtime is None
                        else started + self.options.max_runtime - time.monotonic())
                if left <= 0:
                    self.say(f"stopping: --max-runtime {self.options.max_runtime:g} s reached")
                    break
                self.wake.clear()
                pause = max(0.0, min(left, tick + self.options.interval - time.monotonic()))
                self.wake.wait(pause)  # an operation that ends wakes the loop at once
            self.finish_operation()
            return 0
        except KeyboardInterrupt:
            return self.interrupted()
        finally:
            self.reopen_drained()
            self.configurator.close()

    def reopen_drained(self) -> None:
        """Re-enable the hosts this loop drained but did not remove (any way it ends)."""
        removing = self.operations.get(REMOVE)
        left = sorted(self.drained - set(removing.hosts if removing else ()))
        if not left:
            return
        try:
            self.run_on_master(self.scheduler.enable(left))
            self.say(f"re-enabled {', '.join(left)}, drained by this run")
        except Exception as error:  # say what is left to do by hand
            self.say(f"could not re-enable {', '.join(left)} ({error}): run "
                     f"`{self.scheduler.enable_hint(left)}` on the master")

    def finish_operation(self, announce: bool = True) -> None:
        """Let the changes under way end (a launch half done leaves unconfigured instances)."""
        operations = self.operations.all()
        if not operations:
            return
        if announce:
            self.say("waiting for the change under way to end: "
                     + "; ".join(o.describe() for o in operations))
        while not self.operations.wait(1.0):
            pass
        self.settle_all()

    def settle_all(self) -> None:
        while (operation := self.operations.finished()) is not None:
            self.settle(operation)

    def interrupted(self) -> int:
        operations = self.operations.all()
        if not operations:
            self.say("stopped (Ctrl-C); the cluster is left as it is")
            return 130
        self.say(f"Ctrl-C: waiting for {'; '.join(o.describe() for o in operations)} to end; "
                 "Ctrl-C again abandons it")
        try:
            self.finish_operation(announce=False)
            self.say("stopped (Ctrl-C) after the change under way ended")
        except KeyboardInterrupt:
            for operation in self.operations.all():
                fix = (f"`sclust start -x {self.tag}` sets them up, `sclust removenode "
                       f"{self.tag} -a ALIAS` removes them" if operation.kind == LAUNCH
                       else f"`sclust removenode {self.tag} -a ALIAS` finishes the removal")
                self.say(f"abandoned {operation.describe()}: {', '.join(operation.aliases)} "
                         f"may be half done; {fix}")
        return 130

    # ---- one iteration ---------------------------------------------------------------------

    def iterate(self) -> Iteration:
        self.number += 1
        self.settle_all()
        self.refresh_ec2()
        iteration = Iteration(self.number, time.time())
        started = time.perf_counter()
        try:
            output = self.run_on_master(self.scheduler.read_stats())
            iteration.round_trip = time.perf_counter() - started
            stats = self.observe(output)
        except Exception as error:  # SSH down, qmaster restarting: retried next iteration
            return self.stats_failed(iteration, error)
        self.failures = 0
        stats = self.reconciliation.reconcile(stats, iteration)
        settings = self.settings(stats)
        decision = self.policy.decide(stats, settings, self.memory)
        iteration.now, iteration.stats = stats.now, stats
        iteration.settings, iteration.decision = settings, decision
        for job in sorted(set(decision.unschedulable) - self.unschedulable):
            self.say(f"job {job} needs more than the cluster can have at its maximum size "
                     f"({settings.max_nodes} nodes of {settings.node_slots} slots besides the "
                     "master): it waits until it is deleted or -m grows")
        self.unschedulable = set(decision.unschedulable)
        if self.options.dry_run:
            iteration.actions = self.describe(decision, stats)
            self.memory = decision.memory
        else:
            self.apply(decision, stats, iteration)
        if self.operations.busy:
            iteration.operation = "; ".join(o.describe() for o in self.operations.all())
        iteration.stop = self.kill_if_idle(stats, settings, iteration)
        return iteration

    def stats_failed(self, iteration: Iteration, error: Exception) -> Iteration:
        self.failures += 1
        self.master.close()  # reconnect next time
        iteration.error = (f"reading {self.scheduler.name.upper()} stats failed "
                           f"({self.failures}x): {error}")
        log.info("%s; retrying", iteration.error, exc_info=log.isEnabledFor(logging.DEBUG))
        if self.failures >= 3:
            self.ec2_stale = True  # is the master still there?
            self.refresh_ec2()
            master = self.info.master
            if master is None or master.state != "running":
                raise SclustError(f"the master of {self.tag!r} is "
                                  f"{master.state if master else 'gone'}: stopping")
        return iteration

    def run_on_master(self, run: ScriptRun) -> str:
        return self.master.run_script(run, timeout=120, check=False).stdout

    def observe(self, output: str) -> ClusterStats:
        """ClusterStats from one reading, with idle times, launch times and booting nodes."""
        launched = {self.host_name(n): n.launch_time.timestamp()
                    for n in self.info.nodes if n.launch_time is not None}
        stats = self.scheduler.stats(output, master=self.host_name(self.info.master),
                                     idle_since=self.idle, launched=launched)
        self.idle = {h.name: h.idle_since for h in stats.hosts if h.idle_since is not None}
        if stats.pending_count or stats.running:
            self.seen_jobs = True
        joined = {h.name for h in stats.hosts if h.slots > 0 and h.state != DOWN}
        slots = Counter(h.slots for h in stats.workers if h.slots > 0)
        if slots:
            self.worker_slots = slots.most_common(1)[0][0]
        operation = self.operations.get(LAUNCH)
        if operation is not None:
            # A new host is booting until its queue instance exists (qhost lists it a little
            # earlier, without slots): counted once, as booting capacity.
            waiting = {host for host in operation.hosts if host not in joined}
            node_slots = self.node_slots(stats)
            stats = dataclasses.replace(
                stats, hosts=tuple(h for h in stats.hosts if h.name not in waiting),
                booting=tuple(BootingNode(host, operation.started, node_slots)
                              for host in operation.hosts if host in waiting))
        removing = self.operations.get(REMOVE)
        leaving = set(self.condemned) | set(removing.hosts if removing is not None else ())
        if leaving:
            # Hosts on their way out are no capacity: the policy decides as if they were gone
            # (a launch may start meanwhile), and never wants them back.
            stats = dataclasses.replace(
                stats, hosts=tuple(h for h in stats.hosts if h.name not in leaving))
        return stats

    def node_slots(self, stats: ClusterStats) -> int:
        """Slots of a node we would launch: SLOTS_PER_HOST, else what the workers have, else
        the master's (a first guess; the next launch knows better)."""
        master = next((h for h in stats.hosts if h.is_master and h.slots), None)
        return self.slots_per_host or self.worker_slots or (master.slots if master else 1)

    def settings(self, stats: ClusterStats) -> Settings:
        o = self.options
        return Settings(min_nodes=o.min_nodes, max_nodes=o.max_nodes,
                        node_slots=self.node_slots(stats), boot_time=self.boot_time,
                        billing=o.billing, interval=o.interval)

    # ---- applying a decision ---------------------------------------------------------------

    def describe(self, decision: Decision, stats: ClusterStats) -> list[str]:
        """--dry-run: what would be done."""
        actions = []
        if decision.enable:
            actions.append(f"would enable {', '.join(decision.enable)}")
        if decision.launch:
            actions.append(f"would launch {decision.launch} node(s)")
        retire = [h for h in decision.drain if h not in decision.remove]
        if retire:
            actions.append(f"would drain {', '.join(retire)} (busy; removed once idle)")
        if decision.remove:
            actions.append(f"would remove {', '.join(decision.remove)}")
        for action in actions:
            self.say(f"{action}: {decision.reason}")
        return actions

    def apply(self, decision: Decision, stats: ClusterStats, iteration: Iteration) -> None:
        """Apply DECISION as far as the changes under way allow: a launch may start while a
        removal runs and the reverse, never two of a kind. What waits comes again next time
        (the memory is kept only when everything was applied)."""
        if not decision.changes and self.stranded is None:
            self.memory = decision.memory
            return
        if self.stranded is not None and self.operations.get(REMOVE) is None:
            self.remove_stranded(stats, iteration)
            return
        launching = self.operations.get(LAUNCH)
        removing = self.operations.get(REMOVE)
        applied = True
        try:
            # Never re-enable a host whose removal is under way.
            enable = [h for h in decision.enable if removing is None or h not in removing.hosts]
            if enable:
                self.run_on_master(self.scheduler.enable(enable))
                self.drained -= set(enable)
                self.act(iteration, f"enabled {', '.join(enable)}: {decision.reason}")
            applied = len(enable) == len(decision.enable)
            if decision.launch and launching is not None:
                iteration.notes.append("launch deferred until the launch under way ends")
                applied = False
            elif decision.launch:
                applied = self.launch(decision, iteration) and applied
            elif decision.drain and removing is not None:
                iteration.notes.append("removal deferred until the removal under way ends")
                applied = False
            elif decision.drain:
                self.drain_and_remove(decision, stats, iteration)
        except Exception as error:  # SSH trouble mid-way: the next iteration decides again
            log.debug("applying a decision failed", exc_info=True)
            self.say(f"applying the decision failed: {error}; retrying next iteration")
            self.master.close()
            return
        if applied:
            self.memory = decision.memory

    def act(self, iteration: Iteration, message: str) -> None:
        iteration.actions.append(message)
        self.say(message)

    def launch(self, decision: Decision, iteration: Iteration) -> bool:
        if time.time() < self.launch_hold:
            iteration.notes.append(
                f"launch held {self.launch_hold - time.time():.0f} s more after "
                f"{self.launch_failures} failed launch(es)")
            return False
        self.ec2_stale = True  # fresh names: someone may have run `sclust addnode` meanwhile
        self.refresh_ec2()
        removing = self.operations.get(REMOVE)
        # Never reuse the name of a node still being removed.
        used = [n.alias for n in self.info.nodes] + (removing.aliases if removing else [])
        aliases = [node_alias(n) for n in free_node_numbers(used, decision.launch)]
        hosts = [self.host_name_of(alias) for alias in aliases]
        self.operations.start(LAUNCH, aliases, hosts,
                              lambda: self.manager.add_nodes(self.tag, 0, aliases))
        self.act(iteration, f"launching {', '.join(aliases)}: {decision.reason}")
        return True

    def drain_and_remove(self, decision: Decision, stats: ClusterStats,
                         iteration: Iteration) -> None:
        """Disable, wait a scheduler run, re-read: idle hosts go, busy ones are re-enabled."""
        launching = self.operations.get(LAUNCH)
        # A node being launched is never drained nor removed, even once it shows in the stats.
        joining = set(launching.hosts) if launching is not None else set()
        by_host = {self.host_name(n): n for n in self.info.workers
                   if self.host_name(n) not in joining}
        hosts = {h.name: h for h in stats.hosts}
        # Never the master, never an unknown or busy host (the policy says so; check anyway).
        remove = [h for h in decision.remove if h in by_host and h in hosts
                  and not hosts[h].is_master and not hosts[h].busy]
        retire = [h for h in decision.drain if h not in decision.remove and h in by_host]
        if not (remove or retire):
            return
        self.drained |= set(remove + retire)  # before: a Ctrl-C while disabling re-enables
        output = self.run_on_master(
            self.scheduler.disable(remove + retire, SETTLE if remove else 0.0))
        if retire:
            self.act(iteration, f"drained {', '.join(retire)} (busy; removed once idle)")
        if not remove:
            return
        idle, landed = still_idle(remove, self.observe(output))
        if landed:
            self.run_on_master(self.scheduler.enable(landed))
            self.drained -= set(landed)
            self.act(iteration, f"a job landed on {', '.join(landed)} while draining: "
                                "re-enabled, kept")
        if idle:
            self.start_removal([by_host[h] for h in idle], iteration, decision.reason)

    def start_removal(self, nodes: list[Node], iteration: Iteration, why: str,
                      force: bool = False) -> None:
        aliases = [n.alias for n in nodes]
        self.operations.start(
            REMOVE, aliases, [self.host_name(n) for n in nodes],
            lambda: self.manager.remove_nodes(self.tag, aliases, 0, keep=False, force=force),
            instance_ids=[n.instance_id for n in nodes])
        self.act(iteration, f"removing {', '.join(aliases)}: {why}")

    def remove_stranded(self, stats: ClusterStats, iteration: Iteration) -> None:
        """Nodes of a failed launch: remove those that did not join SGE after all. Only
        instances launched after it began (an alias clash means someone else's node)."""
        launch, self.stranded = self.stranded, None
        assert launch is not None
        joined = {h.name for h in stats.hosts if h.slots > 0 and h.state != DOWN}
        since = launch.started - 60  # the local clock against EC2's
        nodes = [n for n in self.info.workers if n.alias in launch.aliases
                 and self.host_name(n) not in joined
                 and (n.launch_time is None or n.launch_time.timestamp() >= since)]
        if nodes:
            self.start_removal(nodes, iteration, "their setup failed")

    def settle(self, operation: Operation | None) -> None:
        """Take note of a change that ended: log it, learn the boot time, handle failures."""
        if operation is None:
            return
        self.ec2_stale = True
        names = ", ".join(operation.aliases)
        if operation.kind == LAUNCH and operation.error is None:
            self.boot_time = operation.seconds
            if self.options.boot_log is not None:
                record_boot(self.options.boot_log, operation.seconds, len(operation.aliases),
                            self.say)
            self.launch_failures = 0
            self.say(f"{names} joined the cluster after {operation.seconds:.0f} s")
        elif operation.kind == LAUNCH:
            self.launch_failures += 1
            hold = min(600.0, self.options.interval * 2 ** self.launch_failures)
            self.launch_hold = time.time() + hold
            self.stranded = operation
            self.say(f"launching {names} failed: {operation.error}; removing what was "
                     f"launched, next launch in {hold:.0f} s at the earliest")
        elif operation.error is None:
            self.drained -= set(operation.hosts)
            for host in operation.hosts:
                self.condemned.pop(host, None)
            self.say(f"removed {names} after {operation.seconds:.0f} s")
        elif condemned := [h for h in operation.hosts if h in self.condemned]:
            hold = min(600.0, max(30.0, 4 * self.options.interval))
            self.condemned_hold = time.time() + hold
            self.say(f"removing {names} failed: {operation.error}; retrying "
                     f"{', '.join(condemned)} in {hold:.0f} s")
        else:
            self.say(f"removing {names} failed: {operation.error}; keeping them")
            try:
                self.run_on_master(self.scheduler.enable(operation.hosts))
                self.drained -= set(operation.hosts)
            except Exception as error:
                self.say(f"re-enabling {names} failed: {error}")

    def refresh_ec2(self) -> None:
        """One describe call, only when something changed or `EC2_REFRESH` s have passed."""
        if not self.ec2_stale and time.monotonic() - self.ec2_read < EC2_REFRESH:
            return
        try:
            self.info.nodes = self.manager.cluster_nodes(self.tag)
        except Exception as error:
            self.say(f"reading the cluster from EC2 failed: {error}; retrying later")
            return
        self.ec2_read = time.monotonic()
        self.ec2_stale = False

    # ---- -K --------------------------------------------------------------------------------

    def kill_if_idle(self, stats: ClusterStats, settings: Settings,
                     iteration: Iteration) -> str | None:
        """-K: once jobs were seen and all ended, and every host idled for the idle timeout,
        terminate the cluster (a cluster whose jobs are not submitted yet is never killed)."""
        if not self.options.kill_when_idle or not self.seen_jobs or self.operations.busy:
            return None
        if stats.pending_count or stats.running:
            return None
        timeout = self.sclust.timeout(settings)
        if any(h.idle_since is None or stats.now - h.idle_since < timeout for h in stats.hosts):
            return None
        if self.options.dry_run:
            self.act(iteration, f"would terminate {self.tag} (-K): every job done, idle "
                                f"{timeout:.0f} s")
            return None
        self.say(f"every job done and the cluster idle for {timeout:.0f} s: terminating "
                 f"{self.tag} (-K)")
        kept = self.manager.terminate(self.tag)
        return (f"cluster {self.tag!r} terminated"
                + (f"; volumes kept: {', '.join(kept)}" if kept else ""))

    # ---- names -----------------------------------------------------------------------------

    def host_name(self, node: Node | None) -> str:
        return node.host_name(self.tag, self.dns_prefix) if node else ""

    def host_name_of(self, alias: str) -> str:
        return f"{self.tag}-{alias}" if self.dns_prefix else alias


def still_idle(hosts: list[str], fresh: ClusterStats) -> tuple[list[str], list[str]]:
    """HOSTS split by stats read after `qmod -d`: (still idle, got a job meanwhile)."""
    busy = {h.name for h in fresh.hosts if h.busy} | {job.host for job in fresh.running}
    return [h for h in hosts if h not in busy], [h for h in hosts if h in busy]


def record_boot(path: Path, seconds: float, nodes: int, say: Callable[[str], None]) -> None:
    """Append one measured launch (seconds from the launch to every node joined, as the
    simulator's live rules model it) to PATH: a line `SECONDS  # N node(s)`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        when = time.strftime("%Y-%m-%dT%H:%M:%S")
        with path.open("a", encoding="utf-8") as stream:
            stream.write(f"{seconds:.1f}  # {nodes} node(s), {when}\n")
    except OSError as error:  # a full disk never stops the balancer
        say(f"could not record the launch time in {path}: {error}")
