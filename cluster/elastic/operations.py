"""The load balancer's cluster changes (launch, remove) in background threads.

Launching takes minutes (boot, then node setup over SSH); the loop keeps reading stats and
counts the nodes as booting meanwhile. A launch and a removal may run at the same time (at
most one of each): node setup no longer touches queue states (the scheduler enables only hosts
being added), so a drain made meanwhile stays. They still share the cluster's setup, so
`Operations` is also the `configure.SetupGuard`: setups and removals from the scheduler take
turns, each on a fresh view of the instances, and each leaves out the nodes the other change
owns — a launch never sets up a node once its removal took it out of the scheduler, a
removal's setup never touches a node whose launch has not set it up yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sclust.state import Node

LAUNCH, REMOVE = "launch", "remove"


@dataclass
class Operation:
    """One change under way or done: what, on which nodes, since when, how it ended."""

    kind: str
    aliases: list[str]
    hosts: list[str]  # the scheduler's host names of `aliases`
    instance_ids: list[str] = field(default_factory=list)  # a removal's instances
    started: float = field(default_factory=time.time)
    ended: float | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    took_turn: bool = False  # a launch: set up; a removal: out of the scheduler

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def describe(self) -> str:
        verb = {LAUNCH: "launching", REMOVE: "removing"}[self.kind]
        return f"{verb} {', '.join(self.aliases)} ({self.seconds:.0f} s)"


class Operations:
    """Runs at most one launch and one removal at a time; sets WAKE when one ends so the loop
    looks at once."""

    def __init__(self, wake: threading.Event,
                 nodes: Callable[[], list[Node]] | None = None) -> None:
        self.wake = wake
        self.nodes = nodes  # the cluster's instances as EC2 has them now
        self.running: dict[str, Operation] = {}  # kind -> the operation of that kind
        self.ended: list[Operation] = []  # ended, not yet taken by `finished`
        self.lock = threading.Lock()  # guards running/ended/removed
        self.setup_turn = threading.RLock()
        # Instances this loop took out of the scheduler: never set up again (a stale view of
        # the cluster may still list them as running).
        self.removed: set[str] = set()

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def get(self, kind: str) -> Operation | None:
        return self.running.get(kind)

    def all(self) -> list[Operation]:
        return list(self.running.values())

    def start(self, kind: str, aliases: list[str], hosts: list[str],
              work: Callable[[], object], instance_ids: Sequence[str] = ()) -> Operation:
        operation = Operation(kind, list(aliases), list(hosts), list(instance_ids))
        with self.lock:
            assert kind not in self.running, f"one {kind} at a time"
            self.running[kind] = operation

        def run() -> None:
            try:
                work()
            except BaseException as error:  # reported by the loop, never lost with the thread
                operation.error = error
            finally:
                operation.ended = time.time()
                with self.lock:
                    if operation.error is not None and kind == REMOVE:
                        self.removed -= set(operation.instance_ids)  # kept: a member again
                    self.ended.append(operation)
                operation.done.set()
                self.wake.set()

        # A daemon thread: a second Ctrl-C may abandon it (the loop says what that leaves).
        operation.thread = threading.Thread(target=run, name=f"sclust-{kind}", daemon=True)
        operation.thread.start()
        return operation

    def finished(self) -> Operation | None:
        """An operation that has ended (each once), else None."""
        with self.lock:
            if not self.ended:
                return None
            operation = self.ended.pop(0)
            if self.running.get(operation.kind) is operation:
                del self.running[operation.kind]
            return operation

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every operation under way to end; True when none is left running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for operation in self.all():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not operation.done.wait(left):
                return False
        return True

    # ---- configure.SetupGuard --------------------------------------------------------------

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One setup or removal from the scheduler at a time. When the calling operation's
        turn ends well, its nodes change hands: a launch's are members, a removal's gone."""
        with self.setup_turn:
            yield
            me = threading.current_thread()
            with self.lock:
                for operation in self.running.values():
                    if operation.thread is me:
                        operation.took_turn = True
                        if operation.kind == REMOVE:
                            self.removed |= set(operation.instance_ids)

    def fresh_nodes(self) -> list[Node] | None:
        return self.nodes() if self.nodes is not None else None

    def left_out(self, node: Node) -> bool:
        """A node another change owns: launched by another operation and not set up yet, or
        taken out of the scheduler by this loop."""
        if node.instance_id in self.removed:
            return True
        launch = self.running.get(LAUNCH)
        return (launch is not None and launch.thread is not threading.current_thread()
                and not launch.took_turn and node.alias in launch.aliases)
