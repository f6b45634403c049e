"""`sclust loadbalance` below the loop: the master's stats output, the "still idle?" check,
the CSV and plot, the status line, and the CLI's checks before it touches a node (moto)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import requests

from sclust.elastic.live import Iteration, still_idle
from sclust.elastic.policy import Decision, Settings
from sclust.elastic.record import Recorder
from sclust.elastic.view import status_line
from sclust.scheduler import scheduler_for
from sclust.scripts import REMOTE_COMMAND
from sclust.sge.scheduler import read_stats_output
from sclust.sge.stats import StatsError, cluster_stats
from tests.conftest import run_sclust

DATA = Path(__file__).parent / "data"
QSTAT, QHOST = (DATA / "mix.qstat.xml").read_text(), (DATA / "mix.qhost.xml").read_text()
NOW = 1795315248.0


def master_output(zone: str = "+0000", before: str = "") -> str:
    """What STATS_SCRIPT prints on the master (after BEFORE, e.g. a settle's own output)."""
    return (f"{before}{NOW:.0f} {zone}\n@@sclust-qstat@@\n{QSTAT}\n@@sclust-qhost@@\n{QHOST}\n")


@pytest.mark.parametrize("zone, offset", [("+0000", 0), ("+0100", 3600), ("-0330", -12600)])
def test_stats_output_gives_the_master_clock_zone_and_both_documents(zone, offset):
    raw = read_stats_output(master_output(zone, before="qmod: some noise\n"))
    assert (raw.now, raw.utc_offset) == (NOW, offset)
    stats = cluster_stats(raw.qstat, raw.qhost, raw.now, master="master",
                          utc_offset=raw.utc_offset)
    assert {h.name for h in stats.hosts} == {"master", "node001"} and stats.pending_count == 4


@pytest.mark.parametrize("text", [
    "", "bash: qstat: command not found\n",
    f"{NOW:.0f} +0000\n@@sclust-qstat@@\nerror: commlib error\n",  # qhost part missing
    "yesterday\n@@sclust-qstat@@\n<job_info/>\n@@sclust-qhost@@\n<qhost/>\n",
])
def test_unexpected_stats_output_is_a_stats_error(text):
    with pytest.raises(StatsError):
        read_stats_output(text)


def test_a_host_that_got_a_job_while_draining_is_kept():
    fresh = cluster_stats(QSTAT, QHOST, NOW, master="master")
    # node001 runs an array task in the capture; node009 is not an exec host any more.
    assert still_idle(["node001", "node009"], fresh) == (["node009"], ["node001"])


def fake_sge(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A PATH with qmod/qstat/qhost/date that log their arguments to LOG."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    for name, output in (("qmod", ""), ("qstat", QSTAT), ("qhost", QHOST),
                         ("date", f"{NOW:.0f} +0000")):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n'
                                    f"cat <<'EOF'\n{output}\nEOF\n")
        (bin_dir / name).chmod(0o755)
    import os
    return log, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_drain_disables_every_host_in_one_command_then_rereads(tmp_path: Path):
    import subprocess

    log, env = fake_sge(tmp_path)
    sge = scheduler_for("sge")
    run = sge.disable(["node001", "node002"], settle=0.2)
    done = subprocess.run(["bash", "-c", REMOTE_COMMAND], input=run.archive(), env=env,
                          capture_output=True)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "qmod -d all.q@node001,all.q@node002"
    assert {c.split()[0] for c in calls[1:]} == {"date", "qstat", "qhost"}
    stats = sge.stats(done.stdout.decode(), master="master")
    assert {h.name for h in stats.hosts} == {"master", "node001"}
    assert [s.path for s in sge.disable(["node001"]).steps] == ["scripts/common.sh",
                                                                 "scripts/disable.sh"]


def iteration(number: int, error: str | None = None) -> Iteration:
    if error:
        return Iteration(number, NOW + number, error=error)
    stats = cluster_stats(QSTAT, QHOST, NOW + number, master="master")
    return Iteration(number, NOW + number, stats=stats, settings=Settings(0, 3, 2),
                     decision=Decision(launch=2, reason="test"), round_trip=0.2,
                     actions=["launching node002, node003: test"])


def test_recorder_appends_one_csv_row_per_iteration_and_draws_the_plot(tmp_path: Path):
    recorder = Recorder(tmp_path / "s" / "stats.csv", tmp_path / "p" / "lb.png", 0, 3, "t")
    for number in (1, 2):
        recorder.add(iteration(number))
    recorder.add(iteration(3, error="reading SGE stats failed (1x): timeout"))
    Recorder(tmp_path / "s" / "stats.csv", None, 0, 3, "t").add(iteration(4))  # a second run
    with (tmp_path / "s" / "stats.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["workers"] for r in rows] == ["1", "1", "", "1"]  # one header, four rows
    assert (rows[0]["pending_tasks"], rows[0]["pending_slots"]) == ("10", "17")  # 9 tasks + smp 8
    assert rows[0]["held_jobs"] == "2"  # hqw + Eqw
    assert rows[0]["launch"] == "2" and rows[0]["round_trip_ms"] == "200.0"
    assert rows[2]["error"].startswith("reading SGE stats failed")
    assert recorder.plot().read_bytes()[:4] == b"\x89PNG"


def test_status_line_says_nodes_slots_queue_and_errors():
    line = status_line(iteration(1))
    assert "workers 1 (min 0, max 3)" in line and "slots 3/4 used" in line
    assert "waiting 10 task(s), 2 held/error" in line
    assert "reading SGE stats failed" in status_line(iteration(2, error="reading SGE stats "
                                                                        "failed (1x): x"))


@pytest.fixture
def demo(moto_server: str, monkeypatch: pytest.MonkeyPatch, config_file: Path,
         key_file: Path) -> list[str]:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    cfg = ["-c", str(config_file)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    assert run_sclust(*cfg, "start", "demo", "--create-only").returncode == 0
    return cfg


def test_min_above_max_is_refused_before_anything_happens(demo: list[str]):
    result = run_sclust(*demo, "loadbalance", "demo", "-n", "5", "-m", "2")
    assert result.returncode == 1
    assert "sclust: error: -n 5 is above -m 2 (both count the master)" in result.stderr


def test_kill_cluster_needs_a_yes_without_a_terminal(demo: list[str]):
    result = run_sclust(*demo, "loadbalance", "demo", "-K")
    assert result.returncode == 1 and "pass --yes" in result.stderr
    listing = json.loads(run_sclust(*demo, "listclusters", "--json").stdout)
    assert [n["alias"] for n in listing[0]["nodes"]] == ["master", "node001", "node002"]


def test_live_view_shows_nodes_queue_decision_and_events():
    import io

    from rich.console import Console

    from sclust.elastic.view import LiveView

    screen = io.StringIO()
    view = LiveView("demo", Console(file=screen, force_terminal=True, width=120))
    view.event("launching node002, node003: test")
    view.iteration(iteration(1))
    view.close()
    text = screen.getvalue()
    for expected in ("sclust loadbalance demo", "node001", "draining", "1/2", "master",
                     "10 waiting task(s)", "decision: test", "launching node002, node003"):
        assert expected in text, expected
