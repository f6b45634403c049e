"""What a course's calendar and budget cap become in the cloud: EventBridge Scheduler schedules.

    plan = course_schedules(settings, ["i-1", "i-2"], cap=datetime(…))
    schedules.put("course", plan, role_arn=None)     # sclust.eventbridge on AWS
    schedules.list("course"); schedules.remove("course")

Each schedule calls EC2 itself (EventBridge Scheduler's universal target
`arn:aws:scheduler:::aws-sdk:ec2:startInstances` / `stopInstances`) with the desktops' ids: no
machine of the instructor's needs to be on. The start crons end at the budget cap (EndDate),
and with BUDGET_ACTION = stop a one-time `at()` schedule stops the desktops at the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from sclust.desktops.calendar import parse_schedule
from sclust.desktops.state import CourseSettings
from sclust.errors import SclustError

TARGETS = {"start": "arn:aws:scheduler:::aws-sdk:ec2:startInstances",
           "stop": "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"}
ACTIONS = {arn: action for action, arn in TARGETS.items()}
# A target's Input holds 8192 characters: ~23 per id, so 300 ids per schedule (more desktops:
# one more schedule per 300, named …-2, …-3).
IDS_PER_SCHEDULE = 300
SOONEST = timedelta(minutes=1)  # an at() in the past is refused: a cap already reached is now


@dataclass
class PlannedSchedule:
    """One schedule of a course: ACTION on INSTANCE_IDS at EXPRESSION (cron or at) in ZONE."""

    name: str
    action: str  # start | stop
    expression: str
    zone: str
    instance_ids: list[str] = field(default_factory=list)
    end: datetime | None = None  # no run after this (UTC)
    state: str = "ENABLED"
    why: str = ""  # for people: "class", "budget cap"


class Schedules(Protocol):
    """A region's scheduler as courses use it (sclust.eventbridge implements it)."""

    def put(self, course: str, planned: list[PlannedSchedule], role_arn: str | None) -> None:
        """Make the course's schedules exactly PLANNED (creating its group and role)."""

    def list(self, course: str) -> list[PlannedSchedule]:
        """The course's schedules as the cloud has them."""

    def remove(self, course: str) -> int:
        """Delete the course's schedules, group and role; how many schedules there were."""


def course_end(settings: CourseSettings) -> datetime | None:
    """The end of SCHEDULE_END's day in the course's zone (UTC), if the course has one."""
    if not settings.schedule_end:
        return None
    try:
        day = date.fromisoformat(settings.schedule_end)
    except ValueError:
        raise SclustError(f"the course's SCHEDULE_END {settings.schedule_end!r} (from its "
                          "settings tags) is not a date") from None
    end = datetime(day.year, day.month, day.day, tzinfo=zone_of(settings)) + timedelta(days=1)
    return end.astimezone(timezone.utc)


def zone_of(settings: CourseSettings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.timezone)
    except (ValueError, KeyError):
        raise SclustError(f"the course's TIMEZONE {settings.timezone!r} (from its settings "
                          "tags) is not a time zone") from None


def course_schedules(course: str, settings: CourseSettings, instance_ids: list[str],
                     cap: datetime | None = None) -> list[PlannedSchedule]:
    """The schedules a course needs: its calendar's crons (ending at CAP when the budget
    stops the course) and, with BUDGET_ACTION = stop, the stop at CAP."""
    planned: list[PlannedSchedule] = []
    if not instance_ids:
        return planned
    ids = sorted(instance_ids)
    chunks = [ids[i:i + IDS_PER_SCHEDULE] for i in range(0, len(ids), IDS_PER_SCHEDULE)]

    def named(base: str, index: int) -> str:
        return base if index == 0 else f"{base}-{index + 1}"

    end = course_end(settings)
    stopping = cap is not None and settings.budget_action == "stop"
    if settings.schedule:
        try:
            calendar = parse_schedule(settings.schedule)
        except ValueError as error:
            raise SclustError(f"the course's SCHEDULE (from its settings tags): {error}"
                              ) from None
        counts = {"start": 0, "stop": 0}
        for entry in calendar.cron_entries(settings.schedule_lead):
            counts[entry.action] += 1
            last = end
            if entry.action == "start" and stopping and cap is not None:
                last = cap if last is None else min(cap, last)
            for index, chunk in enumerate(chunks):
                planned.append(PlannedSchedule(
                    named(f"{course}-{entry.action}-{counts[entry.action]}", index),
                    entry.action, entry.expression, settings.timezone, chunk, last,
                    why="class"))
    if stopping and cap is not None:
        soonest = datetime.now(timezone.utc) + SOONEST
        at = max(cap, soonest).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        for index, chunk in enumerate(chunks):
            planned.append(PlannedSchedule(named(f"{course}-budget-stop", index), "stop",
                                           f"at({at})", "UTC", chunk, why="budget cap"))
    return planned
