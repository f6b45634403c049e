"""Job traces to replay: the Standard Workload Format (optionally .gz) and SGE `qacct -j` output.

Only what an elastic-cluster simulation needs is kept: submit time, run time, slots (and GPUs
when the accounting says so). Jobs that never ran or ran for ≤ 0 s are dropped, as the Parallel
Workloads Archive advises.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sclust.errors import SclustError


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One job of a trace, times in seconds from the trace's own origin."""

    job_id: str
    submit: float
    runtime: float
    slots: int
    gpus: int = 0


class TraceError(SclustError):
    """A trace file that cannot be read: the message names the file and line."""


def load_trace(path: str | Path) -> list[TraceJob]:
    """Read an SWF file (`.swf`, `.swf.gz`) or `qacct -j` output, sorted by submit time."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
            first = stream.readline()
            stream.seek(0)
            is_qacct = first.startswith("=====") or first.split(" ", 1)[0] == "qname"
            jobs = list(read_qacct(stream, str(path)) if is_qacct else read_swf(stream, str(path)))
    except (OSError, EOFError) as error:
        raise TraceError(f"{path}: cannot read: {error}") from None
    if not jobs:
        raise TraceError(f"{path}: no usable jobs (run time > 0 and at least one slot)")
    jobs.sort(key=lambda job: job.submit)
    return jobs


def read_swf(lines: Iterable[str], name: str = "<swf>") -> Iterator[TraceJob]:
    """SWF fields 1 (id), 2 (submit), 4 (run time), 5 (allocated procs; 8, requested, if -1)."""
    for number, line in enumerate(lines, 1):
        if line.startswith(";") or not line.strip():
            continue
        fields = line.split()
        try:
            submit, runtime = float(fields[1]), float(fields[3])
            slots = int(float(fields[4]))
            if slots <= 0 and len(fields) > 7:
                slots = int(float(fields[7]))
        except (IndexError, ValueError):
            shown = line.strip()[:60]
            raise TraceError(f"{name}:{number}: not an SWF job line: {shown!r}") from None
        if runtime > 0 and slots > 0 and submit >= 0:
            yield TraceJob(fields[0], submit, runtime, slots)


_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S.%f",  # Son of Grid Engine 8.1.x
    "%m/%d/%Y %H:%M:%S",
    "%a %b %d %H:%M:%S %Y",  # SGE 6.x and Univa
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
)
_GPU_REQUEST = re.compile(r"(?:^|[\s,])gpus?=(\d+)")


def _qacct_time(text: str) -> float | None:
    text = " ".join(text.split())
    if not text or text.startswith("-"):
        return None
    for fmt in _DATE_FORMATS:
        try:
            moment = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        # qacct prints the epoch (1970) for "never started".
        return moment.timestamp() if moment.year > 1970 else None
    return None


def read_qacct(lines: Iterable[str], name: str = "<qacct>") -> Iterator[TraceJob]:
    """Records of `qacct -j`: `key value` lines between `=====` separators."""
    record: dict[str, str] = {}
    start_line = 1
    for number, line in enumerate([*lines, "====="], 1):
        if line.startswith("====="):
            job = _qacct_job(record, f"{name}:{start_line}")
            if job is not None:
                yield job
            record, start_line = {}, number + 1
            continue
        key, _, value = line.strip().partition(" ")
        if key:
            record[key] = value.strip()


def _qacct_job(record: dict[str, str], where: str) -> TraceJob | None:
    if not record:
        return None
    submit = _qacct_time(record.get("qsub_time", ""))
    start = _qacct_time(record.get("start_time", ""))
    end = _qacct_time(record.get("end_time", ""))
    if submit is None or start is None or end is None:
        return None  # never ran (deleted while waiting, failed before start)
    try:
        slots = int(record.get("slots", "1"))
    except ValueError:
        raise TraceError(f"{where}: slots is not a number: {record.get('slots')!r}") from None
    gpus = _GPU_REQUEST.search(record.get("category", ""))
    task = record.get("taskid", "undefined")
    job_id = record.get("jobnumber", "?") + ("" if task in ("undefined", "") else f".{task}")
    runtime = end - start
    if runtime <= 0 or slots <= 0:
        return None
    return TraceJob(job_id, submit, runtime, slots, int(gpus.group(1)) if gpus else 0)
