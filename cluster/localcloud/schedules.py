"""EventBridge Scheduler on the local cloud: the schedules created through its endpoint (moto's
scheduler backend) are run here, as AWS runs them, with no client machine on.

Every second the runner looks at each ENABLED schedule whose target is EC2's universal target
(`arn:aws:scheduler:::aws-sdk:ec2:startInstances` / `stopInstances`) and, for each time its
expression names in the second just gone by — `cron(m h dom mon dow year)` in its
ScheduleExpressionTimezone, `at(yyyy-mm-ddThh:mm:ss)`, `rate(n unit)` — between its StartDate and
EndDate, starts or stops the instances its Input lists (those in a state to), then realizes
them. A one-time `at()` with ActionAfterCompletion DELETE is deleted once run, as on AWS.

Its clock is the machine's plus the `clock_offset` setting (`sclust local set --clock-offset
S`): tests move it to a minute before class instead of waiting for class. A change of offset
starts the look from the new time (nothing in the jump is run). The role a schedule names is
not checked (the local cloud signs everything with one key pair).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud

log = logging.getLogger("sclust.localcloud")
TARGETS = {"arn:aws:scheduler:::aws-sdk:ec2:startInstances": "start",
           "arn:aws:scheduler:::aws-sdk:ec2:stopInstances": "stop"}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # EventBridge: 1 = SUN … 7 = SAT
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
# (lowest, highest, names) of minutes, hours, day of month, month, day of week, year.
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, _MONTHS), (1, 7, _DAYS), (1970, 2199, ()))


def _value(text: str, names: tuple[str, ...], low: int) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + low
    return int(text)


def _field(text: str, low: int, high: int, names: tuple[str, ...]) -> set[int]:
    """One cron field as the set of values it allows (ValueError for what we do not run)."""
    allowed: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _value(a, names, low), _value(b, names, low)
        else:
            first = _value(base, names, low)
            last = high if step_text else first
        if step < 1 or not low <= first <= high or not low <= last <= high:
            raise ValueError(f"cron field {text!r} out of range")
        allowed.update(range(first, last + 1, step))
    return allowed


@dataclass(frozen=True)
class Cron:
    fields: tuple[set[int], ...]
    day_of_month_any: bool
    day_of_week_any: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        inner = expression[len("cron("):-1].split()
        if not expression.startswith("cron(") or not expression.endswith(")") \
                or len(inner) != 6:
            raise ValueError(f"not a cron expression: {expression!r}")
        fields = tuple(_field(text, *spec) for text, spec in zip(inner, _FIELDS, strict=True))
        return cls(fields, inner[2] in ("*", "?"), inner[4] in ("*", "?"))

    def matches(self, local: datetime) -> bool:
        minute, hour, dom, month, dow, year = self.fields
        weekday = (local.weekday() + 1) % 7 + 1  # Monday 0 -> 2 … Sunday 6 -> 1
        day_ok = (local.day in dom if self.day_of_week_any
                  else weekday in dow if self.day_of_month_any
                  else local.day in dom and weekday in dow)
        return (local.minute in minute and local.hour in hour and local.month in month
                and local.year in year and day_ok)


def _moment(value: Any) -> datetime | None:
    """StartDate/EndDate as moto keeps them (epoch seconds, or ISO text)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def due(schedule: Any, since: datetime, until: datetime) -> bool:
    """Does SCHEDULE (moto's) name a time in (SINCE, UNTIL]?"""
    expression = str(schedule.schedule_expression).strip()
    zone = ZoneInfo(schedule.schedule_expression_timezone or "UTC")
    start, end = _moment(schedule.start_date), _moment(schedule.end_date)
    at = _AT.match(expression)
    if at:
        moment = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone)
        return since < moment <= until
    rate = _RATE.match(expression)
    minute = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
    cron = None if rate else Cron.parse(expression)
    origin = start or datetime.fromtimestamp(float(schedule.creation_date), timezone.utc)
    while minute <= until:
        if (start is None or minute >= start) and (end is None or minute <= end):
            if cron is not None and cron.matches(minute.astimezone(zone)):
                return True
            if rate:
                amount = int(rate.group(1)) * {"m": 1, "h": 60, "d": 1440}[rate.group(2)[0]]
                if int((minute - origin).total_seconds() // 60) % amount == 0:
                    return True
        minute += timedelta(minutes=1)
    return False


class ScheduleRunner:
    """Runs the scheduler's EC2 schedules against the local cloud's instances."""

    def __init__(self, cloud: Cloud, interval: float = 1.0) -> None:
        self.cloud = cloud
        self.interval = interval
        self._stop = threading.Event()
        self._offset: float | None = None
        self._last: datetime | None = None

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.cloud.behaviour.clock_offset)

    def start(self) -> None:
        threading.Thread(target=self._loop, name="schedules", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep running; the next second looks again
                log.exception("running schedules failed")

    def tick(self) -> list[tuple[str, str, list[str]]]:
        """Run what is due since the last look; (schedule, action, instance ids) run."""
        offset = self.cloud.behaviour.clock_offset
        now = self.now()
        if self._last is None or offset != self._offset:
            self._last, self._offset = now, offset  # a moved clock: from now on
            return []
        since, self._last = self._last, now
        done = []
        with self.cloud.lock:
            backend = self._backend()
            for group in list(backend.schedule_groups.values()):
                for schedule in list(group.schedules.values()):
                    action = TARGETS.get(str(schedule.target.get("Arn", "")))
                    if action is None or schedule.state != "ENABLED":
                        continue
                    try:
                        if not due(schedule, since, now):
                            continue
                    except (ValueError, KeyError) as error:
                        log.warning("schedule %s/%s: %s", group.name, schedule.name, error)
                        continue
                    ids = self._run(action, schedule.target.get("Input"))
                    done.append((f"{group.name}/{schedule.name}", action, ids))
                    log.info("schedule %s/%s at %s: %s %s", group.name, schedule.name,
                             now.isoformat(timespec="seconds"), action, ", ".join(ids) or "-")
                    if _AT.match(str(schedule.schedule_expression).strip()) and \
                            schedule.action_after_completion == "DELETE":
                        group.delete_schedule(schedule.name)
        if done:
            self.cloud.sync()
        return done

    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.scheduler.models import scheduler_backends

        return scheduler_backends[DEFAULT_ACCOUNT_ID][self.cloud.settings.region]

    def _run(self, action: str, payload: Any) -> list[str]:
        """StartInstances/StopInstances of the Input's InstanceIds in a state to (lock held)."""
        try:
            wanted = json.loads(payload or "{}").get("InstanceIds", [])
        except (ValueError, AttributeError):
            return []
        ec2 = self.cloud._backend()
        ready = "stopped" if action == "start" else ("pending", "running")
        ids = []
        for instance_id in wanted if isinstance(wanted, list) else []:
            try:
                instance = ec2.get_instance(str(instance_id))
            except Exception:  # gone: EventBridge would log the failed call
                continue
            if instance._state.name in ready:
                ids.append(instance.id)
        if ids:
            (ec2.start_instances if action == "start" else ec2.stop_instances)(ids)
        return ids
