"""Capture real `qstat -u '*' -xml -r` and `qhost -q -xml` output from the local cloud's SGE.

Run as root, under the machine's local-cloud lock, from the repository root:

    flock /tmp/sclust-localcloud-tests.lock .venv/bin/python tests/elastic/data/capture_sge_xml.py

It brings up its own local cloud in a temporary directory, starts a 2-node cluster (master + one
node, 2 slots each), submits a job mix and writes, next to this file:
- `empty.qstat.xml`, `empty.qhost.xml`: no job at all;
- `mix.qstat.xml`, `mix.qhost.xml`: an array job (tasks running and a pending range), a held job
  (`qsub -h`), a parallel job (`-pe smp 2`), a parallel job no host can run (`-pe smp 8`), a job
  in error (`Eqw`: its working directory does not exist), and node001's queue disabled (`qmod -d`);
- `capture.json`: what was submitted (job ids, names) and how long an `addnode` took.
Then it terminates the cluster and takes the local cloud down.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

SGE = "export SGE_ROOT=/var/lib/gridengine SGE_CELL=default\n"
USER = "sgeadmin"


def main() -> None:
    from tests.localcloud.localcloud_helpers import private_cluster

    facts: dict[str, object] = {}
    with private_cluster("capture", size=2) as (manager, _):
        capture(manager, facts)
    (HERE / "capture.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(json.dumps(facts, indent=2))


def capture(manager, facts: dict[str, object]) -> None:
    info = manager.get("capture")
    configurator = manager.configurator(info)
    master = configurator.connection(info.master)

    def run(script: str) -> str:
        return master.run(SGE + script).stdout

    def submit(options: str, command: str = "sleep 600") -> str:
        out = run(f"su - {USER} -c 'echo {command} | qsub -terse {options}'")
        return out.strip().split(".")[0]

    def save(name: str) -> None:
        (HERE / f"{name}.qstat.xml").write_text(run("qstat -u '*' -xml -r"))
        (HERE / f"{name}.qhost.xml").write_text(run("qhost -q -xml"))

    save("empty")
    jobs = {
        "error": submit("-N err -wd /nonexistent/dir"),  # first, so it is dispatched and fails
        "array": submit("-N arr -t 1-10"),
        "held": submit("-N held -h"),
        "parallel": submit("-N par -pe smp 2"),
        "too_wide": submit("-N wide -pe smp 8"),
    }
    facts["jobs"] = jobs
    # Wait for the scheduler: some array tasks run, the error job reaches Eqw.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listing = run("qstat -u '*'")
        if "Eqw" in listing and " r " in listing:
            break
        time.sleep(1)
    run("qmod -d all.q@node001 >/dev/null")
    time.sleep(3)
    save("mix")
    facts["qstat"] = run("qstat -u '*'")
    started = time.perf_counter()
    manager.add_nodes("capture", 1, [])
    facts["addnode_seconds"] = round(time.perf_counter() - started, 1)
    run("qdel -f -u '*' '*' >/dev/null 2>&1 || true")
    configurator.close()


if __name__ == "__main__":
    main()
