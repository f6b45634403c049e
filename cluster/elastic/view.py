"""What `sclust loadbalance` shows: a live table on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections import deque
from datetime import datetime
from typing import Any, Protocol

import click

from sclust.elastic.live import Iteration
from sclust.elastic.record import summary
from sclust.scheduler import ClusterStats

EVENTS = 10  # events kept on screen


class View(Protocol):
    def iteration(self, iteration: Iteration) -> None: ...
    def event(self, message: str) -> None: ...
    def close(self) -> None: ...


def clock(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(epoch or time.time()).strftime("%H:%M:%S")


def status_line(iteration: Iteration) -> str:
    """One line per iteration: nodes, slots, queue, what is under way."""
    row = summary(iteration)
    if iteration.stats is None:
        return f"{clock(iteration.now)} #{iteration.number} {iteration.error}"
    settings = iteration.settings
    bounds = f" (min {settings.min_nodes}, max {settings.max_nodes})" if settings else ""
    line = (f"{clock(iteration.now)} #{iteration.number} workers {row['workers']}"
            + (f" +{row['booting']} booting" if row["booting"] else "") + bounds
            + f" · slots {row['used_slots']}/{row['slots']} used"
            + f" · waiting {row['pending_tasks']} task(s), {row['held_jobs']} held/error"
            + f" · running {row['running_jobs']}")
    if iteration.operation:
        line += f" · {iteration.operation}"
    return " · ".join([line, *iteration.notes])


class PlainView:
    """Log lines on stdout: one per iteration, one per event."""

    def iteration(self, iteration: Iteration) -> None:
        click.echo(status_line(iteration))

    def event(self, message: str) -> None:
        click.echo(f"{clock()} {message}")

    def close(self) -> None:
        sys.stdout.flush()


class LiveView:
    """A rich table of nodes, the queue and the last decisions, redrawn in place."""

    def __init__(self, tag: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.tag = tag
        self.events: deque[str] = deque(maxlen=EVENTS)
        self.last: Iteration | None = None
        self.live = Live(console=console or Console(), auto_refresh=False, transient=False)
        self.live.start()

    def iteration(self, iteration: Iteration) -> None:
        self.last = iteration
        self.redraw()

    def event(self, message: str) -> None:
        self.events.append(f"{clock()} {message}")
        self.redraw()

    def close(self) -> None:
        self.redraw()
        self.live.stop()

    def redraw(self) -> None:
        self.live.update(self.render(), refresh=True)

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        parts: list[Any] = []
        last = self.last
        title = f"sclust loadbalance {self.tag}"
        if last is not None:
            title += f" · iteration {last.number} at {clock(last.now)}"
            if last.round_trip:
                title += f" · stats in {last.round_trip * 1000:.0f} ms"
        parts.append(Text(title, style="bold"))
        if last is not None and last.stats is not None:
            parts.append(nodes_table(last.stats, last))
            row = summary(last)
            parts.append(Text(
                f"queue: {row['pending_tasks']} waiting task(s) ({row['pending_slots']} slots),"
                f" {row['held_jobs']} held/error; {row['running_jobs']} running;"
                f" oldest wait {row['oldest_wait']} s"))
            if last.decision is not None and last.decision.reason:
                parts.append(Text(f"decision: {last.decision.reason}"))
            if last.operation:
                parts.append(Text(f"under way: {last.operation}", style="yellow"))
        elif last is not None and last.error:
            parts.append(Text(last.error, style="red"))
        if self.events:
            events = Table(title="last events", show_header=False, box=None, title_justify="left")
            for line in self.events:
                events.add_row(line)
            parts.append(events)
        return Group(*parts)


def nodes_table(stats: ClusterStats, iteration: Iteration) -> Any:
    from rich.table import Table

    table = Table(title=None, expand=False)
    for column in ("host", "state", "slots used", "idle for", ""):
        table.add_column(column)
    for host in sorted(stats.hosts, key=lambda h: (not h.is_master, h.name)):
        idle = f"{stats.now - host.idle_since:.0f} s" if host.idle_since is not None else "-"
        note = "master" if host.is_master else ""
        if iteration.decision and host.name in iteration.decision.remove:
            note = "to remove"
        table.add_row(host.name, host.state, f"{host.used_slots}/{host.slots}", idle, note)
    for node in stats.booting:
        table.add_row(node.name, "booting", f"-/{node.slots}",
                      f"{stats.now - node.launched_at:.0f} s since launch", "")
    return table


def make_view(tag: str) -> View:
    """The live table on a terminal, log lines otherwise (pipes, files, CI)."""
    if sys.stdout.isatty():
        return LiveView(tag)
    return PlainView()
