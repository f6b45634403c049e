"""Node setup benchmark on the local cloud: wall time of `start` until SGE is ready, and SSH
commands sent per node, for N = 2, 5, 10, 20 nodes (master included).

Run as root: python bench/bench_cluster.py   (brings up and tears down its own local cloud)
Goals: N = 10 ready in <= 20 s; N = 20 in <= 1.5 x the time of N = 5; commands per node
independent of N.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(sizes: tuple[int, ...] = (2, 5, 10, 20)) -> None:
    from sclust import configure
    from tests.localcloud.localcloud_helpers import private_cloud

    commands: dict[str, int] = {}
    original_run = configure.Connection.run
    original_run_script = configure.Connection.run_script

    def counting_run(self, command, *args, **kwargs):
        commands[self.alias] = commands.get(self.alias, 0) + 1
        return original_run(self, command, *args, **kwargs)

    def counting_run_script(self, script, *args, **kwargs):
        commands[self.alias] = commands.get(self.alias, 0) + 1
        return original_run_script(self, script, *args, **kwargs)

    configure.Connection.run = counting_run  # type: ignore[method-assign]
    configure.Connection.run_script = counting_run_script  # type: ignore[method-assign]
    rows = []
    with private_cloud() as private:
        for size in sizes:
            commands.clear()
            started = time.perf_counter()
            private.manager.start(f"b{size}", private.template(size))
            elapsed = time.perf_counter() - started
            master = commands.pop("master", 0)
            per_node = sorted(set(commands.values()))
            rows.append((size, elapsed, master, per_node))
            private.manager.terminate(f"b{size}")
    print("| N (master included) | start until SGE ready | SSH commands: master | per node |")
    print("|---|---|---|---|")
    for size, elapsed, master, per_node in rows:
        print(f"| {size} | {elapsed:.1f} s | {master} | {', '.join(map(str, per_node))} |")


if __name__ == "__main__":
    main()
