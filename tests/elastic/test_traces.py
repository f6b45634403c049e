"""Reading job traces: SWF (plain and gzip) and SGE `qacct -j` output."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sclust.elastic.traces import TraceError, load_trace

TRACES = Path(__file__).resolve().parents[3] / "shared" / "traces"

SWF = """; Version: 2
; MaxNodes: 128
    1        0     -1   1451  128     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    2       30     -1      0    4     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    3       10     -1    300   -1     -1    -1    8     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    4       20     -1     -1    2     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
"""

QACCT_SOGE = """==============================================================
qname        all.q
hostname     node001
group        sgeadmin
owner        sgeadmin
project      NONE
department   defaultdepartment
jobname      sleep
jobnumber    7
taskid       undefined
account      sge
priority     0
qsub_time    03/01/2026 12:00:00.123
start_time   03/01/2026 12:00:05.500
end_time     03/01/2026 12:01:05.500
granted_pe   orte
slots        4
failed       0
exit_status  0
ru_wallclock 60s
category     -pe orte 4 -l gpu=2
==============================================================
qname        all.q
hostname     node002
jobname      arr
jobnumber    8
taskid       3
qsub_time    Sun Mar  1 12:00:10 2026
start_time   Sun Mar  1 12:02:10 2026
end_time     Sun Mar  1 12:12:10 2026
slots        1
failed       0
exit_status  0
==============================================================
qname        all.q
hostname     UNKNOWN
jobname      deleted
jobnumber    9
taskid       undefined
qsub_time    03/01/2026 12:00:20.000
start_time   -/-
end_time     -/-
slots        1
failed       0
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_swf_keeps_runnable_jobs_sorted_with_requested_procs_as_fallback(tmp_path):
    jobs = load_trace(write(tmp_path / "t.swf", SWF))
    assert [(j.job_id, j.submit, j.runtime, j.slots) for j in jobs] == [
        ("1", 0.0, 1451.0, 128), ("3", 10.0, 300.0, 8),
    ]


def test_gzipped_swf_reads_the_same(tmp_path):
    path = tmp_path / "t.swf.gz"
    with gzip.open(path, "wt") as stream:
        stream.write(SWF)
    assert load_trace(path) == load_trace(write(tmp_path / "t.swf", SWF))


def test_qacct_records_give_submit_runtime_slots_gpus_and_skip_never_started(tmp_path):
    jobs = load_trace(write(tmp_path / "acct.txt", QACCT_SOGE))
    assert [(j.job_id, j.runtime, j.slots, j.gpus) for j in jobs] == [
        ("7", 60.0, 4, 2), ("8.3", 600.0, 1, 0),
    ]
    assert jobs[1].submit - jobs[0].submit == pytest.approx(9.877)


def test_bad_swf_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.swf", "; header\n1 0 -1 100 4\nnot a job line\n")
    with pytest.raises(TraceError, match=r"bad.swf:3: not an SWF job line"):
        load_trace(path)


def test_missing_and_empty_traces_are_user_errors(tmp_path):
    with pytest.raises(TraceError, match="no such trace file"):
        load_trace(tmp_path / "nope.swf")
    with pytest.raises(TraceError, match="no usable jobs"):
        load_trace(write(tmp_path / "empty.swf", "; only comments\n"))


@pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not beside the repo")
def test_the_shared_nasa_trace_loads():
    jobs = load_trace(TRACES / "NASA-iPSC-1993-3.1-cln.swf.gz")
    assert len(jobs) > 18_000
    assert max(j.slots for j in jobs) == 128
    assert all(a.submit <= b.submit for a, b in zip(jobs, jobs[1:], strict=False))
