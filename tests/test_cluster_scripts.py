"""Every script a cluster sends is a checked file, and every value reaching one is data.

The runs are built through the real code paths (`Configurator.setup`, `remove_from_scheduler`)
with fake nodes and no SSH: what would go to each node is captured, rendered, and checked with
`bash -n` and shellcheck. Steps that only call scheduler commands run here against fake
`qconf`/`qmod`/`qstat`, to check what they do with the queue and with hostile host names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sclust.configure import Configurator
from sclust.progress import Progress
from sclust.scheduler import scheduler_for
from sclust.scripts import REMOTE_COMMAND, ScriptRun, rendered
from sclust.ssh import Result
from sclust.state import ClusterInfo, ClusterSettings, Node

HOSTILE_ALIAS = "node009$(touch /tmp/sclust-pwned)"
HOSTILE_PATH = "/data $(touch /tmp/sclust-pwned)`id`"
SHELLCHECK = shutil.which("shellcheck")


def node(alias: str, number: int) -> Node:
    return Node(f"i-{number:08x}", alias, "master" if alias == "master" else "node", "running",
                "t3.micro", "ami-12345678", "local-1a", f"10.0.0.{10 + number}", None, False,
                None)


def settings(mount_path: str = "/data") -> ClusterSettings:
    return ClusterSettings(
        template="small", keyname="k", cluster_size=2, node_image_id="ami-12345678",
        node_instance_type="t3.micro", master_image_id="ami-12345678",
        master_instance_type="t3.micro",
        volumes=[{"name": "data", "volume_id": "vol-0123456789abcdef0",
                  "mount_path": mount_path, "device": None, "partition": None}])


@dataclass
class Capture(Configurator):
    """A Configurator that records each node's run instead of sending it."""

    sent: list[tuple[str, ScriptRun]] = field(default_factory=list)

    def connect_all(self, nodes: list[Node]) -> None:
        pass

    def known_host_entries(self, nodes: list[Node]) -> list[str]:
        return [f"{self.name(n)},{n.private_ip} ssh-ed25519 AAAAC3Nza" for n in nodes]

    def run_each(self, scripts: dict[str, ScriptRun], doing: str) -> dict[str, Result]:
        results = {}
        for alias, run in scripts.items():
            self.sent.append((alias, run))
            names = run.inputs.get("sge_hosts", "").splitlines()
            output = "uid-gid 1000 1000\nroot-key-begin\nKEY\nroot-key-end\nsge-exec 2 0\n"
            output += "".join("running-jobs 0\n" for _ in names)
            results[alias] = Result(alias, doing, 0, output, "")
        return results


def capture(nodes: list[Node], cluster_settings: ClusterSettings) -> Capture:
    info = ClusterInfo("demo", "sg-1", cluster_settings, nodes)
    return Capture(info, Path("/nonexistent/key"), Path("/nonexistent/known"),
                   Progress(quiet=True))


def lifecycle(aliases: tuple[str, ...] = ("node001", "node002"),
              mount_path: str = "/data") -> dict[str, list[tuple[str, ScriptRun]]]:
    """The runs of a 2-node start, an addnode of a third node, and its removal."""
    master, first, second = (node(a, i) for i, a in enumerate(("master", *aliases)))
    phases = {}
    start = capture([master, first], settings(mount_path))
    start.setup()
    phases["start"] = start.sent
    add = capture([master, first, second], settings(mount_path))
    add.setup(adding=[second])
    phases["addnode"] = add.sent
    remove = capture([master, first, second], settings(mount_path))
    remove.remove_from_scheduler([second], force=True)
    second.state = "terminated"
    remove.setup()
    phases["removal"] = remove.sent
    return phases


def all_runs() -> Iterator[tuple[str, str, ScriptRun]]:
    for phase, sent in lifecycle().items():
        for alias, run in sent:
            yield phase, alias, run


def test_one_run_per_node_per_phase_and_the_queue_enables_only_added_hosts() -> None:
    phases = lifecycle()
    assert [alias for alias, _ in phases["start"]] == ["master", "master", "node001", "master"]
    queue = [run for _, run in phases["addnode"] if "sge_queue" in run.inputs][0]
    assert queue.inputs["sge_enable"] == "node002\n"
    start_queue = [run for _, run in phases["start"] if "sge_queue" in run.inputs][0]
    assert "sge_enable" not in start_queue.inputs  # only hosts new to the queue (on the master)
    removal = [run for _, run in phases["removal"] if "sge_remove" in run.inputs][0]
    assert removal.inputs["sge_remove"] == "node002\n" and "sge_enable" not in removal.inputs
    assert "node002" not in removal.inputs["sge_hosts"]


@pytest.mark.parametrize("phase, alias, run", list(all_runs()),
                         ids=[f"{p}-{a}-{r.describe()}" for p, a, r in all_runs()])
def test_every_script_passes_bash_n_and_shellcheck(phase: str, alias: str, run: ScriptRun,
                                                   tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text(rendered(run))
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert SHELLCHECK is not None, "shellcheck is needed (quickstart.sh installs it)"
    checked = subprocess.run([SHELLCHECK, "-s", "bash", "-x", str(script)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout


def test_hostile_names_and_paths_reach_scripts_only_as_inputs() -> None:
    phases = lifecycle(aliases=("node001", HOSTILE_ALIAS), mount_path=HOSTILE_PATH)
    reached = set()
    for sent in phases.values():
        for _, run in sent:
            for step in run.steps:
                assert "pwned" not in step.text()
            assert "pwned" not in run.describe()
            reached |= {name for name, text in run.inputs.items() if "pwned" in text}
    assert {"hosts_file", "sge_hosts", "exports", "volume_paths", "nfs_paths"} <= reached
    assert "pwned" not in REMOTE_COMMAND


# ---- scheduler steps run here, against fake SGE commands ---------------------------------------

FAKE_QCONF = """\
#!/bin/bash
echo "qconf $*" >> "$SGE_LOG"
case "$1" in
  -sel) printf '%s\\n' master node001 node002 "$HOSTILE" ;;
  -shgrp_resolved) echo "master node001" ;;
  -sc) echo "slots s INT <= YES YES 1 1000" ;;
  -ssconf) echo "schedule_interval 0:0:15" ;;
esac
exit 0
"""


def run_with_fake_sge(run: ScriptRun, tmp_path: Path) -> tuple[subprocess.CompletedProcess,
                                                                  list[str]]:
    bin_dir, log = tmp_path / "bin", tmp_path / "sge.log"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "qconf").write_text(FAKE_QCONF)
    for name in ("qmod", "qhost", "qdel"):
        (bin_dir / name).write_text(f'#!/bin/bash\necho "{name} $*" >> "$SGE_LOG"\n')
    (bin_dir / "qstat").write_text('#!/bin/bash\necho "qstat $*" >> "$SGE_LOG"\n'
                                   'printf "head\\n----\\n"\n')
    for fake in bin_dir.iterdir():
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SGE_LOG": str(log),
           "HOSTILE": HOSTILE_ALIAS}
    done = subprocess.run(["bash", "-c", REMOTE_COMMAND], input=run.archive(), env=env,
                          capture_output=True, cwd=tmp_path)
    return done, log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def planted() -> Iterator[Path]:
    path = Path("/tmp/sclust-pwned")
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


def test_queue_setup_enables_new_and_added_hosts_and_keeps_other_states(tmp_path: Path) -> None:
    from sclust.scheduler import ExecHost

    sge = scheduler_for("sge")
    hosts = [ExecHost(h, 2) for h in ("master", "node001", "node002")]
    done, calls = run_with_fake_sge(sge.queue_setup(hosts), tmp_path)
    assert done.returncode == 0, done.stderr
    qmod = [c for c in calls if c.startswith("qmod")]
    # node001 is in the queue already (maybe drained by the balancer): left as it is.
    assert qmod == ["qmod -e all.q@node002", "qmod -c all.q"]


def test_hostile_host_names_stay_data_in_scheduler_steps(tmp_path: Path, planted: Path) -> None:
    from sclust.scheduler import ExecHost

    sge = scheduler_for("sge")
    runs = [sge.drain([HOSTILE_ALIAS]), sge.evict([HOSTILE_ALIAS]),
            sge.disable([HOSTILE_ALIAS]), sge.enable([HOSTILE_ALIAS]),
            sge.queue_setup([ExecHost(HOSTILE_ALIAS, 2, 1)], adding=[HOSTILE_ALIAS],
                            removing=[HOSTILE_ALIAS])]
    for run in runs:
        done, calls = run_with_fake_sge(run, tmp_path)
        assert done.returncode == 0, (run.describe(), done.stderr)
        assert any(HOSTILE_ALIAS in call for call in calls), (run.describe(), calls)
    assert not planted.exists()
    drain = run_with_fake_sge(sge.drain([HOSTILE_ALIAS]), tmp_path)[0]
    assert sge.running_jobs([HOSTILE_ALIAS], drain.stdout.decode()) == {HOSTILE_ALIAS: 0}


def test_plugin_write_file_keeps_a_hostile_path_a_path(tmp_path: Path) -> None:
    from sclust.plugins.base import CommandResult, NodeSSH

    def runner(script: str, stdin: str | None) -> CommandResult:
        done = subprocess.run(["bash", "-c", script], input=stdin, capture_output=True,
                              text=True, cwd=tmp_path)  # where an injected `touch` would write
        return CommandResult(done.returncode, done.stdout, done.stderr)

    target = tmp_path / "a $(touch planted) `touch planted` b;c"
    NodeSSH("local", runner).write_file(str(target), "secret\n", mode=0o600)
    assert target.read_text() == "secret\n" and oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
