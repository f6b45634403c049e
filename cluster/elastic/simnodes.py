"""The simulator's nodes and what the policy sees of them, kept up to date change by change.

A replay decides hundreds of thousands of times over up to a thousand nodes, and between two
decisions only a few nodes change. So the view the policy gets (`Host`s in launch order, the
booting nodes, and their `HostSummary`) is never rebuilt from scratch: a node that changes is
*touched* and only its `Host` is rebuilt, the summary's sums change by its difference; nodes
that come (launch, join) or go (removal) are inserted or dropped by launch number. The first-fit
dispatcher's list of enabled nodes with free slots is kept the same way. `check()` compares
everything with a view built from scratch (tests run whole traces with it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable

from sclust.scheduler import (
    DOWN,
    DRAINING,
    UP,
    BootingNode,
    Host,
    HostSummary,
    host_terms,
    is_idle_worker,
    summarize_hosts,
)

BOOTING, REMOVING, REMOVED = "booting", "removing", "removed"


class SimNode:
    """One simulated instance; `number` is its launch order."""

    __slots__ = ("name", "number", "slots", "free", "launched", "state", "idle_since", "host",
                 "ended", "mark", "booting_view")

    def __init__(self, number: int, slots: int, launched: float) -> None:
        self.name, self.number = f"node{number:03d}", number
        self.slots, self.free, self.launched = slots, slots, launched
        self.state: str = BOOTING
        self.idle_since: float | None = launched
        self.host: Host | None = None  # the policy's view, rebuilt after a change
        self.ended: float | None = None
        self.mark = launched  # accounted up to here (waste split)
        self.booting_view = BootingNode(self.name, launched, slots)

    def snapshot(self) -> Host:
        """The Host the policy sees, rebuilt only after a change."""
        if self.host is None:
            self.host = Host(
                name=self.name,
                slots=self.slots,
                used_slots=self.slots - self.free,
                state=self.state,
                launched_at=self.launched,
                idle_since=self.idle_since if self.free == self.slots else None,
            )
        return self.host


def summary_sums(summary: HostSummary) -> list[int]:
    """SUMMARY's sums in `host_terms` order."""
    return [summary.workers, summary.slots, summary.gpus, summary.used_slots,
            summary.used_gpus, summary.free_slots, summary.free_gpus, summary.drained_slots,
            summary.drained_gpus]


class NodeView:
    """The live nodes (launch order) as the policy and the dispatcher see them."""

    def __init__(self) -> None:
        self.by_number: dict[int, SimNode] = {}
        self.by_name: dict[str, SimNode] = {}
        self.numbers: list[int] = []  # launch numbers of the nodes that are hosts (joined)
        self.hosts: list[Host] = []  # their Hosts, same order
        self.booting: list[SimNode] = []
        self.open: list[int] = []  # launch numbers of enabled hosts with free slots
        self.opened: set[int] = set()  # the same, to look up
        self.sums = summary_sums(HostSummary())
        self.slot_counts: Counter[int] = Counter()  # hosts by slots: the widest one
        self.idle: dict[int, Host] = {}  # idle workers by launch number
        self.dirty: list[SimNode] = []
        self.idle_order: tuple[Host, ...] = ()
        self.idle_changed = False
        self.cached: tuple[tuple[Host, ...], tuple[BootingNode, ...], HostSummary] | None = None

    # -- changes ----------------------------------------------------------------------------

    def launched(self, node: SimNode) -> None:
        self.by_number[node.number] = node
        self.by_name[node.name] = node
        self.booting.append(node)
        self.cached = None

    def touch(self, node: SimNode) -> None:
        """NODE's free slots, state or idle time changed."""
        node.host = None
        self.dirty.append(node)
        self.cached = None
        self.reopen(node)

    def joined(self, node: SimNode) -> None:
        """A booting node became a host (its state already set)."""
        self.booting.remove(node)
        node.host = None
        index = bisect_left(self.numbers, node.number)
        host = node.snapshot()
        self.numbers.insert(index, node.number)
        self.hosts.insert(index, host)
        self._add_terms(host, 1)
        self.slot_counts[host.slots] += 1
        if is_idle_worker(host):
            self.idle[node.number] = host
            self.idle_changed = True
        self.cached = None
        self.reopen(node)

    def dropped(self, node: SimNode) -> None:
        """NODE left the cluster (a removal, or a failed launch while booting)."""
        del self.by_number[node.number]
        del self.by_name[node.name]
        self.cached = None
        index = bisect_left(self.numbers, node.number)
        if index == len(self.numbers) or self.numbers[index] != node.number:
            self.booting.remove(node)
            return
        del self.numbers[index]
        host = self.hosts.pop(index)
        self._add_terms(host, -1)
        self.slot_counts[host.slots] -= 1
        if self.idle.pop(node.number, None) is not None:
            self.idle_changed = True
        self.reopen(node)

    def reopen(self, node: SimNode) -> None:
        """Keep `open` = enabled hosts with free slots, in launch order."""
        number = node.number
        should = node.state is UP and node.free > 0 and number in self.by_number
        if should is (number in self.opened):
            return
        index = bisect_left(self.open, number)
        if should:
            self.open.insert(index, number)
            self.opened.add(number)
        else:
            del self.open[index]
            self.opened.discard(number)

    def _add_terms(self, host: Host, sign: int) -> None:
        sums = self.sums
        for i, term in enumerate(host_terms(host)):
            if term:
                sums[i] += sign * term

    # -- the view ---------------------------------------------------------------------------

    def view(self) -> tuple[tuple[Host, ...], tuple[BootingNode, ...], HostSummary]:
        """(hosts, booting nodes, summary), as `summarize_hosts` and a rebuild would give."""
        if self.cached is not None:
            return self.cached
        numbers, hosts, idle, sums = self.numbers, self.hosts, self.idle, self.sums
        for node in self.dirty:
            index = bisect_left(numbers, node.number)
            if index == len(numbers) or numbers[index] != node.number:
                continue  # booting (its BootingNode does not change), or gone
            old, new = hosts[index], node.snapshot()
            if new is old:
                continue
            hosts[index] = new
            if (old.state == new.state and old.gpus == new.gpus == 0 and old.state != DOWN
                    and old.slots == new.slots and old.is_master == new.is_master):
                # The common change, a job starting or ending: only the slot counts move.
                have = new.slots
                old_used, new_used = old.used_slots, new.used_slots
                old_free = have - old_used if old_used < have else 0
                new_free = have - new_used if new_used < have else 0
                sums[3] += old_free - new_free
                if new.state == UP:
                    sums[5] += new_free - old_free
                elif new.state == DRAINING:
                    sums[7] += new_free - old_free
            else:
                self._add_terms(old, -1)
                self._add_terms(new, 1)
            if is_idle_worker(new):
                idle[node.number] = new  # a new Host (state, idle time): the order is redone
                self.idle_changed = True
            elif idle.pop(node.number, None) is not None:
                self.idle_changed = True
        self.dirty.clear()
        if self.idle_changed:
            # As `summarize_hosts`: longest idle first, ties in host (launch) order.
            self.idle_order = tuple(host for _, _, host in sorted(
                (host.idle_since or 0.0, number, host) for number, host in idle.items()))
            self.idle_changed = False
        widest = max((slots for slots, count in self.slot_counts.items() if count), default=0)
        workers, slots, gpus, used, used_g, free, free_g, drained, drained_g = self.sums
        summary = HostSummary(workers, slots, gpus, used, used_g, free, free_g, drained,
                              drained_g, widest=widest, idle=self.idle_order)
        self.cached = (tuple(hosts), tuple(n.booting_view for n in self.booting), summary)
        return self.cached

    def check(self, nodes: Iterable[SimNode]) -> None:
        """Raise unless the view equals one built from scratch from NODES (launch order)."""
        nodes = list(nodes)
        hosts = tuple(n.snapshot() for n in nodes if n.state is not BOOTING)
        booting = tuple(n.booting_view for n in nodes if n.state is BOOTING)
        open_ = [n.number for n in nodes if n.state is UP and n.free > 0]
        got_hosts, got_booting, summary = self.view()
        if (got_hosts, got_booting, summary, self.open) != (
                hosts, booting, summarize_hosts(hosts), open_):
            raise AssertionError(f"simulator view out of step: {summary} != "
                                 f"{summarize_hosts(hosts)} or the hosts, booting or open "
                                 "nodes differ")
