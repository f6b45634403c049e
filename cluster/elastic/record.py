"""The load balancer's record: one summary per iteration, as CSV rows (`-d`) and a PNG (`-p`).

Both go to `~/.sclust/loadbalance/TAG/` (`$SCLUST_HOME`) unless -D/-P say otherwise.
"""

from __future__ import annotations

import csv
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sclust.elastic.live import Iteration
from sclust.errors import SclustError
from sclust.names import child_path
from sclust.paths import sclust_home
from sclust.scheduler import DOWN, DRAINING

FIELDS = ("time", "epoch", "workers", "booting", "draining", "slots", "used_slots",
          "pending_jobs", "pending_tasks", "pending_slots", "held_jobs", "running_jobs",
          "oldest_wait", "launch", "remove", "under_way", "actions", "round_trip_ms", "error")
PLOT_EVERY = 60.0  # seconds between two redraws of the PNG while the loop runs


def output_dir(tag: str) -> Path:
    return child_path(sclust_home() / "loadbalance", tag)


def summary(iteration: Iteration) -> dict[str, Any]:
    """The numbers of one iteration (empty counts when the stats could not be read)."""
    row: dict[str, Any] = {
        "time": datetime.fromtimestamp(iteration.now).isoformat(timespec="seconds"),
        "epoch": round(iteration.now, 1), "error": iteration.error or "",
        "actions": "; ".join(iteration.actions + iteration.notes),
        "under_way": iteration.operation or "",
        "round_trip_ms": round(iteration.round_trip * 1000, 1),
    }
    stats = iteration.stats
    if stats is None:
        return row
    workers = [h for h in stats.workers if h.state != DOWN]
    pending = list(stats.pending)
    eligible = [j for j in pending if j.eligible]
    decision = iteration.decision
    row.update(
        workers=len(workers), booting=len(stats.booting),
        draining=sum(h.state == DRAINING for h in workers),
        slots=sum(h.slots for h in stats.hosts if h.state != DOWN),
        used_slots=sum(h.used_slots for h in stats.hosts),
        pending_jobs=stats.pending_count,
        pending_tasks=sum(j.tasks for j in eligible),
        pending_slots=sum(j.tasks * j.slots for j in eligible),
        held_jobs=len(pending) - len(eligible),
        running_jobs=len(stats.running),
        oldest_wait=round(stats.now - stats.oldest_submitted) if stats.oldest_submitted else 0,
        launch=decision.launch if decision else 0,
        remove=" ".join(decision.remove) if decision else "",
    )
    return row


class Recorder:
    """Appends each iteration to CSV_PATH and redraws PLOT_PATH (either may be None)."""

    def __init__(self, csv_path: Path | None, plot_path: Path | None, min_nodes: int,
                 max_nodes: int, title: str) -> None:
        self.csv_path, self.plot_path = csv_path, plot_path
        self.min_nodes, self.max_nodes, self.title = min_nodes, max_nodes, title
        self.rows: list[dict[str, Any]] = []
        self.plotted = 0.0
        for path in (csv_path, plot_path):
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise SclustError(f"cannot create {path.parent}: {error.strerror}") from None
        if plot_path is not None:
            check_matplotlib()

    def add(self, iteration: Iteration) -> None:
        row = summary(iteration)
        if self.csv_path is not None:
            new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
            with self.csv_path.open("a", newline="") as stream:
                writer = csv.DictWriter(stream, FIELDS, restval="")
                if new:
                    writer.writeheader()
                writer.writerow(row)
        if self.plot_path is not None:
            self.rows.append(row)
            if time.monotonic() - self.plotted >= PLOT_EVERY:
                self.plot()

    def plot(self) -> Path | None:
        """Nodes (workers, booting, min/max) and jobs (pending tasks, running) over time."""
        if self.plot_path is None or not self.rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [r for r in self.rows if "workers" in r]
        start = self.rows[0]["epoch"]
        minutes = [(r["epoch"] - start) / 60 for r in rows]
        figure, (nodes, jobs) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
        nodes.step(minutes, [r["workers"] for r in rows], where="post", label="workers")
        nodes.step(minutes, [r["workers"] + r["booting"] for r in rows], where="post",
                   linestyle=":", label="workers + booting")
        for value, name in ((self.min_nodes, "min"), (self.max_nodes, "max")):
            nodes.axhline(value, color="grey", linestyle="--", linewidth=0.8)
            nodes.annotate(name, (0, value), fontsize=8, color="grey")
        nodes.set_ylabel("nodes (master not counted)")
        nodes.legend(fontsize=8, loc="upper right")
        jobs.step(minutes, [r["pending_tasks"] for r in rows], where="post",
                  label="waiting tasks")
        jobs.step(minutes, [r["running_jobs"] for r in rows], where="post", label="running")
        jobs.set_ylabel("jobs")
        jobs.set_xlabel("minutes")
        jobs.legend(fontsize=8, loc="upper right")
        for axes in (nodes, jobs):
            axes.grid(True, alpha=0.3)
        nodes.set_title(self.title, fontsize=10)
        figure.tight_layout()
        try:
            figure.savefig(self.plot_path, dpi=100)
        except OSError as error:
            raise SclustError(f"cannot write {self.plot_path}: {error.strerror}") from None
        finally:
            plt.close(figure)
        self.plotted = time.monotonic()
        return self.plot_path


def check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SclustError("-p needs matplotlib: pip install 'sclust[plot]'") from None
