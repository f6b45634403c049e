"""The load balancer's cluster changes (launch, remove), one at a time, in a background thread.

Launching takes minutes (boot, then node setup over SSH); the loop keeps reading stats and
counts the nodes as booting meanwhile. One change at a time, because every change ends with
the idempotent setup of the whole cluster (hosts, exports, the queue), which re-enables every
queue instance: a drain made meanwhile would be undone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

LAUNCH, REMOVE = "launch", "remove"


@dataclass
class Operation:
    """One change under way or done: what, on which nodes, since when, how it ended."""

    kind: str
    aliases: list[str]
    hosts: list[str]  # the SGE host names of `aliases`
    started: float = field(default_factory=time.time)
    ended: float | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def describe(self) -> str:
        verb = {LAUNCH: "launching", REMOVE: "removing"}[self.kind]
        return f"{verb} {', '.join(self.aliases)} ({self.seconds:.0f} s)"


class Operations:
    """Runs at most one Operation; sets WAKE when it ends so the loop looks at once."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake
        self.current: Operation | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, kind: str, aliases: list[str], hosts: list[str],
              work: Callable[[], object]) -> Operation:
        assert self.current is None, "one cluster change at a time"
        operation = Operation(kind, list(aliases), list(hosts))

        def run() -> None:
            try:
                work()
            except BaseException as error:  # reported by the loop, never lost with the thread
                operation.error = error
            finally:
                operation.ended = time.time()
                operation.done.set()
                self.wake.set()

        # A daemon thread: a second Ctrl-C may abandon it (the loop says what that leaves).
        threading.Thread(target=run, name=f"sclust-{kind}", daemon=True).start()
        self.current = operation
        return operation

    def finished(self) -> Operation | None:
        """The current operation if it has ended (once), else None."""
        operation = self.current
        if operation is not None and operation.done.is_set():
            self.current = None
            return operation
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current operation to end; True when none is left running."""
        operation = self.current
        return operation is None or operation.done.wait(timeout)
